#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""Malformed frames for the stack, then a normal TCP echo exchange.

Run in the test namespace by malformed.sh, with Debian's scapy (only
/usr/bin/python3 sees it):

    malformed.py IFACE PROXY_IP PROXY_MAC TCP_PORT

Every junk frame comes from a made-up neighbour (198.18.0.9, a MAC nobody
has): whatever the stack answers waits for ARP and never reaches the
namespace's kernel, so no kernel reply adds traffic of its own.  Frames go
out through an AF_PACKET socket unchanged (no padding, no checksum
fixing).  Prints one line per class of junk:

    junk CLASS REASON COUNT

REASON is the drop reason the stack must count each frame of the class
under ("a|b": either; "~a": a or none, the frame may be kept) and COUNT
how many the kernel took, then one line for the echo:

    result echo_bytes=N echo_ok=0|1
"""

import hashlib
import os
import socket
import sys
import time

from scapy.layers.inet import ICMP, IP, TCP, UDP
from scapy.layers.l2 import ARP, Ether
from scapy.packet import Raw
from scapy.utils import checksum

JUNK_IP = "198.18.0.9"
JUNK_MAC = "02:00:c6:12:00:09"
CLOSED_PORT = 7999
EACH = 8  # frames per class
ECHO_BYTES = 256 * 1024


def l4_csum(src, dst, proto, seg):
    """The UDP/TCP checksum of seg (its checksum field included)."""
    ph = socket.inet_aton(src) + socket.inet_aton(dst)
    ph += bytes([0, proto]) + len(seg).to_bytes(2, "big")
    return checksum(ph + seg)


def with_tcp_csum(seg, src=JUNK_IP, dst=None):
    """A raw TCP segment (checksum field 0) with its checksum filled in."""
    c = l4_csum(src, dst, 6, seg)
    return seg[:16] + c.to_bytes(2, "big") + seg[18:]


def classes(ip, mac, port):
    eth = Ether(src=JUNK_MAC, dst=mac)
    ipj = IP(src=JUNK_IP, dst=ip)

    def l3(payload, **kw):
        return bytes(eth / IP(src=JUNK_IP, dst=ip, **kw) / payload)

    def tcp_raw(hdr_len_words, flags, opts=b"", payload=b"", dport=None):
        seg = (40000).to_bytes(2, "big")
        seg += (dport or CLOSED_PORT).to_bytes(2, "big")
        seg += (1).to_bytes(4, "big") + (0).to_bytes(4, "big")
        seg += bytes([hdr_len_words << 4, flags]) + b"\xff\xff"
        seg += b"\x00\x00\x00\x00" + opts + payload
        seg = with_tcp_csum(seg, dst=ip)
        return bytes(eth / IP(src=JUNK_IP, dst=ip, proto=6) / Raw(seg))

    def tcp(flags, dport=CLOSED_PORT, **kw):
        return bytes(eth / ipj / TCP(sport=40000, dport=dport, flags=flags,
                                     **kw))

    def arp(**kw):
        a = dict(hwsrc=JUNK_MAC, psrc=JUNK_IP, pdst=ip, op=1)
        a.update(kw)
        return bytes(Ether(src=JUNK_MAC, dst="ff:ff:ff:ff:ff:ff") / ARP(**a))

    ipv4_ok = bytes(eth / ipj / UDP(sport=40000, dport=CLOSED_PORT) / b"x")
    arp_ok = arp()
    ping = bytes(ICMP(type=8, id=1, seq=1) / b"ping")
    udp_hdr = bytes(UDP(sport=40000, dport=CLOSED_PORT) / b"data")

    def ip_patch(frame, off, val):
        """Set byte off of the IPv4 header, checksum made right again."""
        b = bytearray(frame)
        b[14 + off] = val
        b[24:26] = b"\x00\x00"
        ihl = (b[14] & 0xF) * 4
        b[24:26] = checksum(bytes(b[14:14 + max(ihl, 20)])).to_bytes(2, "big")
        return bytes(b)

    return [
        # Ethernet.  (A frame shorter than its header cannot be sent: the
        # kernel refuses it.  The fuzz target covers it.)
        ("eth_other_mac", "eth_not_ours",
         lambda i: bytes(Ether(src=JUNK_MAC, dst="02:00:c6:12:00:77") /
                         IP(src=JUNK_IP, dst=ip) / UDP())),
        ("eth_unknown_type", "eth_type",
         lambda i: bytes(Ether(src=JUNK_MAC, dst=mac, type=0x88B5) /
                         b"hello")),
        # ARP.
        ("arp_truncated", "arp_malformed", lambda i: arp_ok[: 14 + 8 + i]),
        ("arp_hw_type", "arp_malformed", lambda i: arp(hwtype=6 + i)),
        ("arp_proto_len", "arp_malformed",
         lambda i: arp_ok[:18] + bytes([6, 5]) + arp_ok[20:]),
        ("arp_opcode", "arp_op", lambda i: arp(op=3 + i)),
        ("arp_other_target", "arp_not_ours",
         lambda i: arp(pdst="198.18.0.%d" % (50 + i))),
        ("arp_claims_our_ip", "arp_conflict", lambda i: arp(psrc=ip)),
        # IPv4.
        ("ip_truncated", "ip_short", lambda i: ipv4_ok[: 14 + 4 + i]),
        ("ip_version", "ip_version", lambda i: ip_patch(ipv4_ok, 0, 0x65)),
        ("ip_ihl_below_5", "ip_hdr_len",
         lambda i: ip_patch(ipv4_ok, 0, 0x40 | (i % 5))),
        ("ip_ihl_past_frame", "ip_hdr_len",
         lambda i: ip_patch(ipv4_ok, 0, 0x4F)),
        ("ip_total_len_big", "ip_total_len",
         lambda i: l3(UDP(dport=CLOSED_PORT) / b"x", len=200 + i)),
        ("ip_total_len_small", "ip_total_len",
         lambda i: l3(UDP(dport=CLOSED_PORT) / b"x", len=10 + i % 10)),
        ("ip_bad_csum", "ip_csum",
         lambda i: l3(UDP(dport=CLOSED_PORT) / b"x", chksum=0x1234 + i)),
        # Fragments: dropped, or held for reassembly until they time out.
        ("ip_fragment_mf", "~ip_fragment|ip_frag_bad",
         lambda i: l3(UDP(dport=CLOSED_PORT) / b"x", flags="MF",
                      id=0x100 + i)),
        ("ip_fragment_offset", "~ip_fragment|ip_frag_bad",
         lambda i: l3(b"tail of a datagram", frag=100 + i, proto=17,
                      id=0x200 + i)),
        ("ip_unknown_proto", "ip_proto",
         lambda i: l3(b"whatever", proto=(47, 132, 253, 254)[i % 4])),
        ("ip_other_dst", "ip_not_ours",
         lambda i: bytes(eth / IP(src=JUNK_IP, dst="198.18.0.%d" % (60 + i))
                         / UDP())),
        ("ip_bad_src", "ip_bad_src",
         lambda i: bytes(eth / IP(src=("127.0.0.1", "224.0.0.5",
                                        "198.18.0.255", "0.0.0.0")[i % 4],
                                   dst=ip) / UDP())),
        # ICMP.
        ("icmp_truncated", "icmp_short", lambda i: l3(ping[:4], proto=1)),
        ("icmp_bad_csum", "icmp_csum",
         lambda i: l3(ICMP(type=8, chksum=0x4242 + i) / b"ping")),
        ("icmp_unknown_type", "icmp_type",
         lambda i: l3(ICMP(type=13 + 2 * (i % 3)) / b"12345678")),
        # UDP.
        ("udp_truncated", "udp_short", lambda i: l3(udp_hdr[:4], proto=17)),
        ("udp_len_big", "udp_len",
         lambda i: l3(UDP(dport=CLOSED_PORT, len=100 + i) / b"data")),
        ("udp_len_small", "udp_len",
         lambda i: l3(UDP(dport=CLOSED_PORT, len=i % 8) / b"data")),
        ("udp_bad_csum", "udp_csum",
         lambda i: l3(UDP(dport=CLOSED_PORT, chksum=0x1111 + i) / b"data")),
        # TCP, to a closed port unless said otherwise.
        ("tcp_truncated", "tcp_short",
         lambda i: truncated_tcp(eth, ip, 12 + i % 8)),
        ("tcp_bad_csum", "tcp_bad_csum", lambda i: tcp("S", chksum=0x2222 + i)),
        ("tcp_doff_below_5", "tcp_bad_doff",
         lambda i: tcp_raw(i % 5, 0x02, payload=b"\x00" * 8)),
        ("tcp_doff_past_segment", "tcp_bad_doff",
         lambda i: tcp_raw(6 + i % 10, 0x02)),
        ("tcp_opt_len_0", "tcp_bad_opt",
         lambda i: tcp_raw(6, 0x02, opts=bytes([8 + i, 0, 0, 0]), dport=port)),
        ("tcp_opt_len_1", "tcp_bad_opt",
         lambda i: tcp_raw(6, 0x02, opts=bytes([8 + i, 1, 0, 0]), dport=port)),
        ("tcp_opt_overrun", "tcp_bad_opt",
         lambda i: tcp_raw(6, 0x02, opts=bytes([1, 8, 10, 0]), dport=port)),
        ("tcp_opt_mss_len", "tcp_bad_opt",
         lambda i: tcp_raw(6, 0x02, opts=bytes([2, 3, 5, 0]), dport=port)),
        ("tcp_syn_fin", "tcp_bad_flags", lambda i: tcp("SF", dport=port)),
        ("tcp_syn_rst", "tcp_bad_flags", lambda i: tcp("SR", dport=port)),
        ("tcp_all_flags", "tcp_bad_flags", lambda i: tcp(0xFF)),
        ("tcp_port_0", "tcp_bad_port", lambda i: tcp("S", dport=0)),
        ("tcp_no_flags_listener", "tcp_listen_bad",
         lambda i: tcp(0, dport=port)),
        ("tcp_no_flags_closed", "tcp_no_socket", lambda i: tcp(0)),
    ]


def truncated_tcp(eth, ip, n):
    """A TCP segment of n < 20 bytes whose checksum is right: the sequence
    number's high word (offset 4, always there) makes the sum come out."""
    seg = bytearray(bytes(TCP(sport=40000, dport=CLOSED_PORT, flags="S"))[:n])
    seg[4:6] = b"\x00\x00"
    seg[4:6] = l4_csum(JUNK_IP, ip, 6, bytes(seg)).to_bytes(2, "big")
    return bytes(eth / IP(src=JUNK_IP, dst=ip, proto=6) / Raw(bytes(seg)))


def echo(ip, port):
    """A normal TCP exchange: ECHO_BYTES there and back."""
    data = os.urandom(ECHO_BYTES)
    got = bytearray()
    s = socket.create_connection((ip, port), timeout=20)
    s.sendall(data)
    s.shutdown(socket.SHUT_WR)
    while True:
        b = s.recv(65536)
        if not b:
            break
        got += b
    s.close()
    ok = hashlib.sha256(got).digest() == hashlib.sha256(data).digest()
    print("result echo_bytes=%d echo_ok=%d" % (len(got), int(ok)), flush=True)


def main():
    iface, ip, mac, port = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    tx = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
    tx.bind((iface, 0))
    for name, reason, make in classes(ip, mac, port):
        sent = 0
        for i in range(EACH):
            try:
                tx.send(make(i))
                sent += 1
            except OSError as e:  # the kernel refused it: not counted
                print("# %s: %s" % (name, e), flush=True)
            time.sleep(0.002)  # the stack's RX ring and idle back-off
        print("junk %s %s %d" % (name, reason, sent), flush=True)
    tx.close()
    time.sleep(0.5)
    echo(ip, port)


if __name__ == "__main__":
    main()
