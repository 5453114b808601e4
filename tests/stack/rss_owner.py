#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""The worker that owns each TCP flow, computed apart from the stack.

    rss_owner.py WORKERS ADDR_A ADDR_B PORT_B PORT_A...

prints one worker per PORT_A: the owner of the flow ADDR_A:PORT_A <->
ADDR_B:PORT_B as net/steer.c defines it -- a Toeplitz hash with the
symmetric key 0x6d5a repeated over source address, destination address,
source port and destination port (the input of RSS for TCP over IPv4),
its low 7 bits an index into a table whose entry i is i mod WORKERS.  A
test checks the stack's choice of ephemeral ports against it.
"""
import ipaddress
import struct
import sys

KEY = bytes([0x6D, 0x5A] * 20)


def toeplitz(key, data):
    k = int.from_bytes(key, "big")
    kbits = len(key) * 8
    h = 0
    for i in range(len(data) * 8):
        if data[i // 8] & (0x80 >> (i % 8)):
            h ^= (k >> (kbits - 32 - i)) & 0xFFFFFFFF
    return h


def owner(workers, a, b, pa, pb):
    data = (ipaddress.IPv4Address(a).packed + ipaddress.IPv4Address(b).packed
            + struct.pack("!HH", pa, pb))
    return (toeplitz(KEY, data) & 127) % workers


def main():
    workers, a, b, pb = int(sys.argv[1]), sys.argv[2], sys.argv[3], int(sys.argv[4])
    for pa in sys.argv[5:]:
        # Either direction gives the same: check it on the way.
        o = owner(workers, a, b, int(pa), pb)
        if o != owner(workers, b, a, pb, int(pa)):
            print("asymmetric")
            return 1
        print(o)
    return 0


if __name__ == "__main__":
    sys.exit(main())
