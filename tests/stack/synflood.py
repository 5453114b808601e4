#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""A bounded SYN flood at the stack, from the test namespace.

    synflood.py IFACE PROXY_IP PROXY_MAC PORT COUNT RATE

COUNT SYNs at PORT, RATE a second at most, from made-up neighbours
198.18.0.100 .. 198.18.0.199 (a MAC nobody has) on random ports: the
stack's SYN-ACKs wait for ARP that nobody answers, so the half-open
entries stay until they expire, as in a real flood.  Frames are built by
hand and sent through an AF_PACKET socket.  Prints 'result sent=N
seconds=S'.
"""

import random
import socket
import struct
import sys
import time

FLOOD_MAC = bytes.fromhex("02c612000077")


def csum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def syn(src, dst, sport, dport, seq, dst_mac):
    tcp = struct.pack("!HHIIBBHHH", sport, dport, seq, 0, 5 << 4, 0x02,
                      65535, 0, 0)
    ph = src + dst + struct.pack("!BBH", 0, 6, len(tcp))
    tcp = tcp[:16] + struct.pack("!H", csum(ph + tcp)) + tcp[18:]
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp), 0, 0x4000, 64,
                     6, 0, src, dst)
    ip = ip[:10] + struct.pack("!H", csum(ip)) + ip[12:]
    return dst_mac + FLOOD_MAC + b"\x08\x00" + ip + tcp


def main():
    iface, proxy, mac, port, count, rate = sys.argv[1:7]
    port, count, rate = int(port), int(count), float(rate)
    dst, dst_mac = socket.inet_aton(proxy), bytes.fromhex(mac.replace(":", ""))
    rnd = random.Random(77)
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
    s.bind((iface, 0))
    t0 = time.monotonic()
    for i in range(count):
        src = socket.inet_aton("198.18.0.%d" % (100 + i % 100))
        s.send(syn(src, dst, rnd.randrange(1024, 65535), port,
                   rnd.getrandbits(32), dst_mac))
        ahead = (i + 1) / rate - (time.monotonic() - t0)
        if ahead > 0:
            time.sleep(ahead)
    print("result sent=%d seconds=%.3f" % (count, time.monotonic() - t0),
          flush=True)


if __name__ == "__main__":
    main()
