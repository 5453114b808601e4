#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""TCP across a long, lossy path: the userspace stack against Linux, each
through the same impaired wire, side by side.

    perf/wan.py [--build DIR] [--bytes N] [--profiles LIST] [--seconds S]
                [--runs R] [--seed N] [--linux-cc CC] [--no-tuning]
                [--tcp KEY=VALUE]... [--list]

The wire is rs_bridge's impairment (tests/testbed/README.md), applied in
both directions: half the round trip each way, with +-10% of jitter that
never reorders (order=keep: a path's changing queues), and the profile's
loss on each direction.  Profiles are RTT/LOSS (ms / percent), or RTT/reorder
for netem's jitter, which does reorder; the default set is the issue's:
20, 50 and 100 ms, each with 0, 0.1 and 1 % loss, and 50 ms reordered.

For each profile and each direction, N bytes (default 256 MiB) cross with
SHA-256 checked at both ends:

  stack   tests/stack/tcp_faults.sh in virtio mode: rs_stacktest (the stack
          remsockd runs, with its default [tcp] settings) behind the
          bridge's vhost-user port, Linux (tests/stack/peer.py) in a
          namespace on the bridge's tap;
  Linux   the same peer.py at both ends: one namespace on a veth pair
          whose other end the bridge takes by af_packet (GSO off on it, so
          frames are what the wire carries), the other on the bridge's tap.
          Both namespaces get Linux's stock buffer settings, whatever the
          host has (tcp_rmem 4096 131072 6291456, tcp_wmem 4096 16384
          4194304).

Each transfer has a bridge of its own, seeded with --seed (7) plus the
run's number less one: the stack's transfer and Linux's in the same run
and direction meet the same draws frame by frame (which frames are lost,
each frame's delay), and runs differ.  At 0.1% loss a 32 MiB transfer's
rate hangs on where its first loss falls (how far slow start got); one
bridge for both directions, as before, gave each transfer a different
pattern, and Linux's own figure moved between 24 and 41 Mbit/s at 20/0.1.

Every Linux socket (the reference pair's, and the stack's peer's) uses
CUBIC, the stack's algorithm, whatever the host's default is (--linux-cc
picks another, e.g. bbr, which does not read loss as congestion and so
is not what the stack's loss recovery is measured against).

Printed: each direction's goodput for both (the median of --runs runs,
the stack's and Linux's alternated) and the ratio stack / Linux, then a
bar plot of them against the profile.  Speed is never asserted:
the exit status says only whether every transfer completed intact.

Addresses: 198.18.5.0/24 for the Linux pair (the stack's are the
testbed's); nothing leaves the namespaces and the bridge this script
starts, and it removes them at the end, also on failure.
"""

import argparse
import ctypes
import fcntl
import os
import re
import shutil
import signal
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PEER = os.path.join(ROOT, 'tests', 'stack', 'peer.py')
FAULTS = os.path.join(ROOT, 'tests', 'stack', 'tcp_faults.sh')
DEFAULT = ['20/0', '20/0.1', '20/1', '50/0', '50/0.1', '50/1', '100/0',
           '100/0.1', '100/1', '50/reorder']
PORT = 7020


def die(msg):
    print(f'wan: {msg}', file=sys.stderr)
    sys.exit(2)


def spec_of(profile):
    """The bridge's impairment for RTT/LOSS or RTT/reorder."""
    m = re.fullmatch(r'(\d+(?:\.\d+)?)/(reorder|\d+(?:\.\d+)?)', profile)
    if not m:
        die(f"profile '{profile}': want RTT_MS/LOSS_PERCENT or RTT_MS/reorder")
    half = float(m.group(1)) / 2
    jitter = half / 10
    if m.group(2) == 'reorder':
        return f'delay={half:g}:{jitter:g}'
    spec = f'delay={half:g}:{jitter:g},order=keep'
    if float(m.group(2)) > 0:
        spec += f',loss={m.group(2)}'
    return spec


def tx_csum_off(ifname):
    """Checksums computed by the kernel on @p ifname's transmit (ethtool -K
    IFACE tx off, through SIOCETHTOOL; no ethtool here): a veth leaves
    them to an offload that af_packet readers never do, so the far side
    would drop every TCP segment the bridge carries.  Segmentation
    offloads go off with it."""
    ethtool_stxcsum, siocethtool = 0x17, 0x8946
    val = ctypes.create_string_buffer(struct.pack('II', ethtool_stxcsum, 0))
    ifr = struct.pack('16sP', ifname.encode(), ctypes.addressof(val))
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        fcntl.ioctl(s.fileno(), siocethtool, ifr.ljust(40, b'\0'))


def run_stack(build, spec, nbytes, limit, log, tcp, cc, way, seed):
    """One direction through tcp_faults.sh (@way: 'to' the stack or 'from'
    it), on a bridge seeded @seed, with the [tcp] lines @tcp besides the
    defaults: (Mbit/s or None where the transfer failed, rings tuned)."""
    env = dict(os.environ, RS_FAULT_SPEC=spec, RS_FAULT_BYTES=str(nbytes),
               RS_FAULT_SECONDS=str(limit), RS_PEER_CC=cc,
               RS_FAULT_WAYS=way, RS_FAULT_SEED=str(seed),
               ST_TCP_EXTRA='\n'.join(['close_grace_ms = 10000'] + tcp))
    with open(log, 'w') as f:
        sh = subprocess.Popen(
            ['bash', FAULTS, 'virtio',
             os.path.join(build, 'tests', 'stack', 'rs_stacktest'),
             os.path.join(build, 'tests', 'stack', 'rs_bridge'), 'wan'],
            env=env, stdout=f, stderr=subprocess.STDOUT)
        try:
            sh.wait()
        finally:  # stopped: the script's own trap cleans up behind it
            if sh.poll() is None:
                sh.terminate()
                sh.wait()
    text = open(log).read()
    what = 'Linux -> stack' if way == 'to' else 'stack -> Linux'
    ok = re.search(rf'^ok \d+ - {what}: SHA-256 matches', text, re.M)
    m = re.search(rf'^# {what}: ([0-9.]+) Mbit/s', text, re.M)
    tuned = re.findall(r'^# stack: rings tuned: (.*)$', text, re.M)
    return (float(m.group(1)) if ok and m else None), tuned


class Linux:
    """Two namespaces joined by the impaired bridge (af_packet on a veth
    end, its own tap on the other side)."""

    def __init__(self, build, spec, tmp, cc, seed):
        self.cc = cc
        self.seed = seed
        self.pid = os.getpid()
        self.a = f'rs-wanA-{self.pid}'
        self.b = f'rs-wanB-{self.pid}'
        self.veth = f'rswA{self.pid}'
        self.raw = f'rswR{self.pid}'
        self.tap = f'rswT{self.pid}'
        self.bridge = None
        self.log = os.path.join(tmp, 'linux-bridge.log')
        try:
            self.up(build, spec)
        except BaseException:
            self.down()
            raise

    def sh(self, *argv):
        subprocess.run(argv, check=True, stdout=subprocess.DEVNULL)

    def up(self, build, spec):
        for ns in (self.a, self.b):
            self.sh('ip', 'netns', 'add', ns)
            self.sh('ip', '-n', ns, 'link', 'set', 'lo', 'up')
            self.sh('ip', 'netns', 'exec', ns, 'sysctl', '-qw',
                    'net.ipv6.conf.all.disable_ipv6=1',
                    'net.ipv6.conf.default.disable_ipv6=1',
                    'net.ipv4.tcp_rmem=4096 131072 6291456',
                    'net.ipv4.tcp_wmem=4096 16384 4194304')
        self.sh('ip', 'link', 'add', self.veth, 'type', 'veth', 'peer',
                'name', self.raw)
        self.sh('ip', 'link', 'set', self.veth, 'gso_max_segs', '1')
        tx_csum_off(self.veth)
        self.sh('ip', 'link', 'set', self.veth, 'netns', self.a)
        self.sh('ip', '-n', self.a, 'addr', 'add', '198.18.5.1/24', 'dev',
                self.veth)
        self.sh('ip', '-n', self.a, 'link', 'set', self.veth, 'up')
        self.sh('sysctl', '-qw', f'net.ipv6.conf.{self.raw}.disable_ipv6=1')
        self.sh('ip', 'link', 'set', self.raw, 'up')
        with open(self.log, 'w') as f:
            self.bridge = subprocess.Popen(
                [os.path.join(build, 'tests', 'stack', 'rs_bridge'),
                 '--af-packet', self.raw, '--tap', self.tap, '--impair', spec,
                 '--seed', str(self.seed), '--mbufs', '65535'],
                stdout=f, stderr=subprocess.STDOUT)
        for _ in range(600):
            if re.search(r'^rs_bridge: ready', open(self.log).read(), re.M):
                break
            if self.bridge.poll() is not None:
                die(f'rs_bridge ended: {open(self.log).read()}')
            time.sleep(0.1)
        else:
            die('rs_bridge did not get ready in 60 s')
        for _ in range(100):  # the tap may take a moment to appear
            if subprocess.run(['ip', 'link', 'set', self.tap, 'netns',
                               self.b], stderr=subprocess.DEVNULL).returncode \
                    == 0:
                break
            time.sleep(0.1)
        else:
            die(f'cannot move {self.tap} into {self.b}')
        self.sh('ip', '-n', self.b, 'addr', 'add', '198.18.5.2/24', 'dev',
                self.tap)
        self.sh('ip', '-n', self.b, 'link', 'set', self.tap, 'up')

    def transfer(self, src, dst, dst_ip, nbytes, limit):
        """Mbit/s of one transfer src -> dst, None when it failed."""
        env = dict(os.environ, RS_PEER_CC=self.cc)
        rx = subprocess.Popen(
            ['ip', 'netns', 'exec', dst, '/usr/bin/python3', PEER,
             '--timeout', str(limit + 30), 'tcp-listen-discard', str(PORT),
             '1'], stdout=subprocess.PIPE, text=True, env=env)
        try:
            line = rx.stdout.readline()  # "listening port=N"
            if not line.startswith('listening'):
                return None
            tx = subprocess.run(
                ['ip', 'netns', 'exec', src, '/usr/bin/python3', PEER,
                 '--timeout', str(limit), 'tcp-send', dst_ip, str(PORT),
                 str(nbytes), '1'], capture_output=True, text=True, env=env)
            out = rx.communicate(timeout=limit + 60)[0]
        finally:  # stopped, or failed: the listener goes too
            if rx.poll() is None:
                rx.kill()
                rx.wait()
        sent = dict(re.findall(r'(\w+)=(\S+)', tx.stdout))
        got = dict(re.findall(r'(\w+)=(\S+)', out))
        if tx.returncode != 0 or rx.returncode != 0 or \
                got.get('bytes') != str(nbytes) or \
                got.get('sha256') != sent.get('sha256'):
            return None
        return float(got['mbit_s'])

    def down(self):
        if self.bridge is not None and self.bridge.poll() is None:
            self.bridge.send_signal(signal.SIGTERM)
            try:
                self.bridge.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.bridge.kill()
                self.bridge.wait()
        subprocess.run(['ip', 'link', 'del', self.raw],
                       stderr=subprocess.DEVNULL)
        for ns in (self.a, self.b):
            subprocess.run(['ip', 'netns', 'del', ns],
                           stderr=subprocess.DEVNULL)


def median(xs):
    """The median of the runs; None when any of them failed."""
    return None if any(x is None for x in xs) else statistics.median(xs)


def fmt(v):
    return f'{v:8.1f}' if v is not None else '  failed'


def ratio(s, l):
    return f'{s / l:5.2f}x' if s is not None and l else '    -'


def main():
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument('--build', default=os.path.join(ROOT, 'build'),
                    help='meson build directory (default: build)')
    ap.add_argument('--bytes', type=int, default=256 << 20,
                    help='bytes each way (default 256 MiB)')
    ap.add_argument('--profiles', default=','.join(DEFAULT),
                    help='comma-separated RTT_MS/LOSS_PERCENT or '
                    'RTT_MS/reorder (default: the issue\'s ten)')
    ap.add_argument('--seconds', type=int, default=900,
                    help='time limit of one transfer (default 900)')
    ap.add_argument('--runs', type=int, default=1,
                    help='runs of each profile, the stack and Linux '
                    'alternated; the median is printed (default 1)')
    ap.add_argument('--seed', type=int, default=7,
                    help='seed of the first run\'s impairment draws; run k '
                    'uses SEED + k - 1 (default 7)')
    ap.add_argument('--linux-cc', default='cubic',
                    help='congestion control of the Linux pair (default '
                    'cubic, as the stack\'s)')
    ap.add_argument('--no-tuning', action='store_true',
                    help='the stack without buffer auto-tuning (its rings '
                    'fixed at 256 KiB, as before [tcp] rmem_max/wmem_max)')
    ap.add_argument('--tcp', action='append', default=[], metavar='KEY=VALUE',
                    help='a [tcp] setting for the stack, e.g. pacing=off '
                    '(repeatable; an A/B against the defaults)')
    ap.add_argument('--list', action='store_true',
                    help='print each profile\'s impairment and exit')
    o = ap.parse_args()
    tcp = []
    for kv in o.tcp:
        key, eq, val = kv.partition('=')
        if not eq or not re.fullmatch(r'[a-z_]+', key.strip()) or \
                not val.strip():
            ap.error(f'--tcp {kv!r}: expected KEY=VALUE, e.g. pacing=off')
        tcp.append(f'{key.strip()} = {val.strip()}')
    if o.no_tuning:  # bounds at the rings' start sizes: tuning off
        tcp += ['rmem_max = 262144', 'wmem_max = 262144']
    profiles = [p for p in o.profiles.split(',') if p]
    if not profiles:
        die('no profile')
    if o.bytes <= 0:
        die('--bytes must be positive')
    if o.runs < 1:
        die('--runs must be at least 1')
    if o.seed < 1 or o.seed + o.runs - 1 > 0xffffffff:
        die('--seed: 1 to 4294967295 (with --runs)')
    specs = {p: spec_of(p) for p in profiles}
    if o.list:
        for p in profiles:
            print(f'{p:>12}  {specs[p]}')
        return 0
    if os.geteuid() != 0:
        die('needs root (namespaces, hugepages)')
    for exe in ('tests/stack/rs_stacktest', 'tests/stack/rs_bridge'):
        if not os.access(os.path.join(o.build, exe), os.X_OK):
            die(f'{exe} not built in {o.build}')

    # A stop (SIGTERM, ^C) still runs the clean-up below.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    tmp = tempfile.mkdtemp(prefix='rs-wan.')
    rows, bad = [], 0
    print(f'# {o.bytes} bytes each way; Linux with {o.linux_cc}; logs in '
          f'{tmp}')
    try:
        for n, p in enumerate(profiles, 1):
            spec = specs[p]
            st_runs, lx_runs = [], []
            for k in range(1, o.runs + 1):
                at = f'[{n}/{len(profiles)}] {p}' + \
                    (f' run {k}/{o.runs}' if o.runs > 1 else '')
                seed = o.seed + k - 1
                st, lx = [], []
                for way in ('to', 'from'):
                    print(f'# {at}: {spec}, seed {seed}: {way} the stack:'
                          ' the stack ...', flush=True)
                    rate, tuned = run_stack(
                        o.build, spec, o.bytes, o.seconds,
                        os.path.join(tmp, f'stack-{n}-{k}-{way}.log'), tcp,
                        o.linux_cc, way, seed)
                    st.append(rate)
                    for t in tuned:
                        print(f'#   rings tuned: {t}')
                    print(f'# {at}: {spec}, seed {seed}: {way} the stack:'
                          ' Linux ...', flush=True)
                    # A stands where the stack does (the bridge's near
                    # side), B where its peer does (the tap): B -> A is
                    # "to the stack".  A bridge of its own, as the
                    # stack's transfer had.
                    pair = Linux(o.build, spec, tmp, o.linux_cc, seed)
                    src, dst, ip = (pair.b, pair.a, '198.18.5.1') \
                        if way == 'to' else (pair.a, pair.b, '198.18.5.2')
                    try:
                        lx.append(pair.transfer(src, dst, ip, o.bytes,
                                                o.seconds))
                    finally:
                        pair.down()
                    print(f'#   stack {fmt(st[-1]).strip()}, Linux '
                          f'{fmt(lx[-1]).strip()} Mbit/s', flush=True)
                st_runs.append(st)
                lx_runs.append(lx)
            rows.append((p, 'to the stack', median([s[0] for s in st_runs]),
                         median([x[0] for x in lx_runs])))
            rows.append((p, 'from the stack',
                         median([s[1] for s in st_runs]),
                         median([x[1] for x in lx_runs])))
            for r in rows[-2:]:
                bad += r[2] is None or r[3] is None
                print(f'{r[0]:>12} {r[1]:<15} stack {fmt(r[2])}  Linux '
                      f'{fmt(r[3])} Mbit/s  {ratio(r[2], r[3])}', flush=True)
    finally:
        if bad == 0:
            shutil.rmtree(tmp, ignore_errors=True)

    print('\n     profile direction        stack Mbit/s  Linux Mbit/s  '
          'stack/Linux')
    for r in rows:
        print(f'{r[0]:>12} {r[1]:<15} {fmt(r[2])}      {fmt(r[3])}     '
              f'{ratio(r[2], r[3])}')
    top = max([v for r in rows for v in r[2:] if v] or [1])
    print('\n' + '-' * 72)
    for r in rows:
        for who, v in (('stack', r[2]), ('Linux', r[3])):
            w = int(50 * (v or 0) / top)
            print(f'{r[0]:>10} {r[1].split()[0]:<4} {who:<5} |{"#" * w:<50}| '
                  f'{fmt(v).strip()}')
    if bad:
        print(f'wan: {bad} row(s) with a failed transfer; logs kept in {tmp}',
              file=sys.stderr)
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
