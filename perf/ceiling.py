#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""The ceiling of the vhost-user link: what dpdk-testpmd moves over it.

    perf/ceiling.py [--seconds S] [--pkt-len N [N ...]] [--no-reverse]
                    [--json] [--testpmd PATH] [--keep]

The remote socket benchmark runs remsockd and its load generator over a
vhost-user link: one DPDK process with a net_vhost port (the vhost-user
server, it creates the UNIX socket), one with a virtio_user port on that
socket, no kernel between them.  This measures what that kind of link can
carry at all, so that the benchmark's results can be read as a fraction
of it: two dpdk-testpmd processes joined the same way, one generating
frames (forward mode txonly: UDP/IPv4 frames of N bytes, --txpkts=N),
the other counting and freeing them (rxonly), for S seconds once traffic
flows.  The rate is read from the receiving port's statistics ("show
port stats": packets and bytes over the interval, timed by testpmd).

Both directions are measured by default: vhost -> virtio_user (the
vhost side sends: the backend copies into the guest's buffers, the
virtio_user side refills its ring) and virtio_user -> vhost (the backend
copies out of the guest's buffers into its own mbufs).  --no-reverse
measures only the first.

Bytes: Gbit/s counts the frame bytes only, N per frame, from the
destination MAC address to the end of the payload: no FCS, no Ethernet
preamble, start delimiter or inter-frame gap (a virtual link has none of
them; on a 10/100G NIC a 64-byte frame would occupy 84 bytes of line
time).  Mpps is frames per second / 1e6.

Cores: each testpmd has two lcores, its main one (which waits in the
command line, driven by this script over a pseudo-terminal; it does not
poll) and one forwarding lcore, which busy-polls its port all the time:
testpmd has no back-off.  The two forwarding lcores are on different
cores (vhost side: lcores 0,1 with --main-lcore 1, so it forwards on
core 0; virtio_user side: main lcore 0, forwards on core 1).  On a
two-core machine that means the two busy-polling processes own the
machine between them while this runs: that is exactly what is measured
(a polling sender and a polling receiver, each with a core to itself),
and anything else running at the same time, including the other
processes' threads, lowers the numbers: "other CPU" in the table is the
CPU time (in CPUs: 1.0 = one core all the time) that everything except
the two testpmd took during the interval, hypervisor steal included.
With more than 0.05 the point is marked; measure again.  The command
line itself (a "show port stats" at each end of the interval) briefly
takes the receiving process's main thread onto the sender's core, which
costs a few milliseconds at each end; nothing runs in between.

Measured on the 2-core development VM (Debian 12, DPDK 22.11), 2 s a
point, nothing else running: 64 B about 20.5 Mpps / 10.5 Gbit/s
vhost -> virtio_user and 25-27 Mpps / 13-14 Gbit/s back; 1500 B about
8.2-8.5 Mpps / 97-102 Gbit/s and 10.2-10.6 Mpps / 122-127 Gbit/s back;
9000 B about 170 and 180 Gbit/s.  A concurrent build halves them.

Memory: each testpmd uses dynamic hugepage memory (no -m), a pool of
16384 mbufs of 2 KiB (fewer, larger ones for frames over 1514 bytes,
which get a pair of processes of their own), about 50 MiB of hugepages
a process; --in-memory --no-pci --no-telemetry --single-file-segments.  Hugepages must be set
up (scripts/setup.sh); vhost-user and hugepages need root.

Exit status 0 if every point was measured, 1 otherwise (testpmd missing,
no hugepages, the link not coming up, no traffic): the tail of the
testpmd logs is printed on failure.  Sockets and logs are in a fresh
temporary directory, removed at the end (--keep keeps it); the testpmd
processes are stopped at the end, also on failure or interruption
("quit", then SIGINT, then SIGKILL).

As a module:

    import ceiling
    r = ceiling.measure(seconds=3, pkt_len=1500)
    r['vhost_to_virtio']['gbps'], r['virtio_to_vhost']['mpps']

measure_all(seconds, pkt_lens, reverse) measures several lengths with one
pair of processes and returns a list of such dicts.  Failures raise
ceiling.CeilingError.
"""

import argparse
import ctypes
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import termios
import threading
import time

EAL = ['--in-memory', '--no-pci', '--no-telemetry', '--single-file-segments',
       '--log-level=lib.eal:notice']
PROMPT = 'testpmd> '
MIN_LEN = 42            # Ethernet + IPv4 + UDP headers (testpmd txonly)
MAX_LEN = 9000
POOL_BYTES = 16384 * 2176     # about 36 MiB of mbufs a process
START_SECS = 30         # EAL init, mempool, port start
LINK_SECS = 20          # the vhost-user handshake
FLOW_SECS = 10          # first frames at the receiver
CMD_SECS = 15           # a command's answer
STOP_SECS = 10          # quit, then SIGINT, then SIGKILL

FWD = ('vhost_to_virtio', 'vhost', 'virtio_user')
REV = ('virtio_to_vhost', 'virtio_user', 'vhost')


class CeilingError(Exception):
    """The measurement could not be made; the message says why."""


def testpmd_path(path=None):
    """The testpmd binary: path, else $TESTPMD, else dpdk-testpmd (looked
    up on PATH)."""
    name = path or os.environ.get('TESTPMD') or 'dpdk-testpmd'
    found = shutil.which(name)
    if found is None:
        raise CeilingError(f'{name} not found: install dpdk-dev (Debian: '
                           'apt-get install dpdk-dev) or give --testpmd PATH')
    return found


def hugepages_free():
    """Free hugepage memory in bytes (default page size), from meminfo."""
    info = {}
    with open('/proc/meminfo') as f:
        for line in f:
            k, _, v = line.partition(':')
            info[k] = v.split()
    free = int(info.get('HugePages_Free', ['0'])[0])
    size = int(info.get('Hugepagesize', ['0'])[0]) * 1024
    return free * size


def mbuf_layout(max_len):
    """--mbuf-size (headroom included) and --total-num-mbufs for frames
    of up to max_len bytes, each in one mbuf: virtio_user refuses a
    receive pool whose data room cannot hold MTU + 18 + its 12-byte
    header (rx scatter being off)."""
    if max_len <= 1514:
        return 2176, 16384                  # testpmd's default mbuf
    size = 128 + (max_len + 64 + 63) // 64 * 64
    return size, max(4096, POOL_BYTES // size)


try:
    _prctl = ctypes.CDLL(None, use_errno=True).prctl
except (OSError, AttributeError):
    _prctl = None


def _die_with_parent():
    """In the child, before exec: SIGKILL when the parent dies, so that
    a killed caller (kill -9, no finally) leaves no polling testpmd."""
    if _prctl is not None:
        _prctl(1, signal.SIGKILL, 0, 0, 0)      # PR_SET_PDEATHSIG


def cpu_jiffies(pids):
    """(all CPUs' busy time incl. steal, the given processes' time), in
    clock ticks."""
    with open('/proc/stat') as f:
        v = [int(x) for x in f.readline().split()[1:]]
    busy = sum(v[:3]) + sum(v[5:8])     # user nice system irq softirq steal
    ours = 0
    for pid in pids:
        try:
            with open(f'/proc/{pid}/stat') as f:
                st = f.read().rsplit(')', 1)[1].split()
            ours += int(st[11]) + int(st[12])   # utime stime
        except (OSError, IndexError, ValueError):
            pass
    return busy, ours


class TestPmd:
    """One interactive testpmd on a pseudo-terminal.

    A pty rather than pipes: testpmd's stdio is then line-buffered (its
    output can be waited for) and its command line reads a terminal.  A
    thread copies everything it prints to a log file and to self.out.
    """

    def __init__(self, name, argv, log):
        self.name = name
        self.log = log
        self.out = ''
        self.cond = threading.Condition()
        self.eof = False
        master, slave = os.openpty()
        attrs = termios.tcgetattr(slave)
        attrs[1] &= ~termios.OPOST      # no \n -> \r\n
        termios.tcsetattr(slave, termios.TCSANOW, attrs)
        self.logf = open(log, 'w')
        try:
            self.p = subprocess.Popen(argv, stdin=slave, stdout=slave,
                                      stderr=slave, start_new_session=True,
                                      close_fds=True,
                                      preexec_fn=_die_with_parent)
        except BaseException:
            os.close(master)
            self.logf.close()
            raise
        finally:
            os.close(slave)
        self.master = master
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        while True:
            try:
                b = os.read(self.master, 65536)
            except OSError:         # EIO: the child closed the terminal
                b = b''
            text = b.decode('utf-8', 'replace').replace('\r', '')
            with self.cond:
                if not b:
                    self.eof = True
                    self.cond.notify_all()
                    return
                self.out += text
                self.logf.write(text)
                self.logf.flush()
                self.cond.notify_all()

    def mark(self):
        with self.cond:
            return len(self.out)

    def wait_for(self, pattern, secs, start=0):
        """The first match of pattern in the output after start, or None
        if the process ends or secs pass first."""
        rx = re.compile(pattern, re.M)
        end = time.monotonic() + secs
        with self.cond:
            while True:
                m = rx.search(self.out, start)
                if m:
                    return m
                left = end - time.monotonic()
                if left <= 0 or self.eof or self.p.poll() is not None:
                    return None
                self.cond.wait(min(left, 0.2))

    def alive(self):
        return self.p.poll() is None

    def cmd(self, line, secs=CMD_SECS):
        """Type a command; return its output (up to the next prompt)."""
        start = self.mark()
        try:
            os.write(self.master, line.encode() + b'\n')
        except OSError as e:
            raise CeilingError(f'{self.name}: cannot type "{line}": {e}')
        m = self.wait_for(re.escape(PROMPT), secs, start)
        if m is None:
            raise CeilingError(f'{self.name}: no answer to "{line}" within '
                               f'{secs} s' + ('' if self.alive() else
                                              ' (testpmd exited)'))
        text = self.out[start:m.start()]
        if re.search(r'Bad arguments|Command not found|Please stop', text):
            raise CeilingError(f'{self.name}: "{line}" refused:\n{text}')
        return text

    def stats(self):
        """Port 0's counters and testpmd's rates since the last call."""
        text = self.cmd('show port stats 0')
        keys = {'rx_packets': r'RX-packets:\s*(\d+)',
                'rx_bytes': r'RX-bytes:\s*(\d+)',
                'tx_packets': r'TX-packets:\s*(\d+)',
                'rx_pps': r'Rx-pps:\s*(\d+)',
                'rx_bps': r'Rx-bps:\s*(\d+)',
                'tx_pps': r'Tx-pps:\s*(\d+)'}
        s = {}
        for k, rx in keys.items():
            m = re.search(rx, text)
            if m is None:
                raise CeilingError(f'{self.name}: no {rx.split(":")[0]} in '
                                   f'"show port stats 0":\n{text}')
            s[k] = int(m.group(1))
        s['time'] = time.monotonic()
        return s

    def tail(self, n=40):
        with self.cond:
            lines = self.out.rstrip('\n').split('\n')
        return '\n'.join(f'  {self.name}| {x}' for x in lines[-n:])

    def stop(self):
        """quit, then SIGINT, then SIGKILL; always returns."""
        if self.alive():
            try:
                os.write(self.master, b'quit\n')
                self.p.wait(STOP_SECS)
            except (OSError, subprocess.TimeoutExpired):
                pass
        for sig in (signal.SIGINT, signal.SIGKILL):
            if not self.alive():
                break
            try:
                os.killpg(self.p.pid, sig)
            except ProcessLookupError:
                break
            try:
                self.p.wait(STOP_SECS)
            except subprocess.TimeoutExpired:
                pass
        if self.alive():
            self.p.kill()
            self.p.wait()
        self.reader.join(5)
        with self.cond:
            if not self.logf.closed:
                self.logf.close()
        try:
            os.close(self.master)
        except OSError:
            pass


class Pair:
    """testpmd on net_vhost (server) and on virtio_user, linked."""

    def __init__(self, testpmd, d, max_len):
        self.testpmd, self.d, self.max_len = testpmd, d, max_len
        self.procs = []
        self.vhost = self.virtio = None

    def open(self):
        testpmd, d, max_len = self.testpmd, self.d, self.max_len
        sock = os.path.join(d, 'vhost.sock')
        mbuf_size, nb_mbufs = mbuf_layout(max_len)
        app = ['-i', '--nb-cores=1', f'--total-num-mbufs={nb_mbufs}',
               f'--mbuf-size={mbuf_size}', '--forward-mode=rxonly']
        if max_len > 1514:
            app.append(f'--max-pkt-len={max_len}')
        # EAL's main lcore is the lowest in -l whatever the order ("-l 1,0"
        # makes 0 the main one and 1 the worker): --main-lcore it is.
        self.vhost = self._start(
            'vhost', [testpmd, '-l', '0,1', '--main-lcore', '1'] + EAL +
            ['--vdev', f'net_vhost0,iface={sock},queues=1', '--'] + app)
        if not os.path.exists(sock):
            self.fail('the vhost side did not create its socket ' + sock)
        self.virtio = self._start(
            'virtio_user', [testpmd, '-l', '0,1'] + EAL +
            ['--vdev', f'virtio_user0,path={sock},queues=1,queue_size=1024,'
             'mac=02:00:c6:12:04:02', '--'] + app)
        if not self.vhost.wait_for(r'virtio is now ready for processing',
                                   LINK_SECS):
            self.fail(f'the link did not come up within {LINK_SECS} s')
        for p in self.procs:
            m = re.search(r'Logical Core (\d+) .*forwards', p.cmd('start'))
            p.core = int(m.group(1)) if m else None
            p.cmd('stop')

    def _start(self, name, argv):
        p = TestPmd(name, argv, os.path.join(self.d, name + '.log'))
        self.procs.append(p)
        m = p.wait_for(re.escape(PROMPT), START_SECS)
        if m and re.search(r'Start ports failed|Fail to ',
                           p.out[:m.start()]):
            self.fail(f'testpmd on {name} could not start its port')
        if m and 'No probed ethernet devices' in p.out[:m.start()]:
            self.fail(f'testpmd on {name} has no port (its --vdev failed)')
        if not m:
            why = 'exited' if not p.alive() else \
                f'gave no prompt within {START_SECS} s'
            hint = ''
            if re.search(r'hugepage|Cannot init memory|Cannot create mbuf'
                         r'|Cannot allocate|No available', p.out, re.I):
                hint = (' (hugepages: scripts/setup.sh sets them up; '
                        f'{hugepages_free() >> 20} MiB free now)')
            self.fail(f'testpmd on {name} {why}{hint}')
        return p

    def tails(self):
        return '\n'.join(f'last lines of {p.name}.log:\n{p.tail()}'
                         for p in self.procs)

    def fail(self, msg):
        e = CeilingError(f'{msg}\n{self.tails()}')
        e.tails = True
        raise e

    def side(self, name):
        return self.vhost if name == 'vhost' else self.virtio

    def run(self, direction, pkt_len, seconds):
        """One point: frames of pkt_len from one side to the other."""
        key, src, dst = direction
        tx, rx = self.side(src), self.side(dst)
        try:
            tx.cmd('set fwd txonly')
            rx.cmd('set fwd rxonly')
            tx.cmd(f'set txpkts {pkt_len}')
            rx.cmd('start')
            out = tx.cmd('start')
            if not re.search(rf'packet len={pkt_len} ', out):
                self.fail(f'{src} does not send {pkt_len}-byte frames:\n'
                          + out)
            # Traffic flows: the receiver's count grows.
            first = rx.stats()['rx_packets']
            end = time.monotonic() + FLOW_SECS
            while rx.stats()['rx_packets'] == first:
                if time.monotonic() > end:
                    self.fail(f'{src} -> {dst}: no frames received within '
                              f'{FLOW_SECS} s')
                time.sleep(0.05)
            a = rx.stats()          # starts testpmd's interval
            ca = cpu_jiffies(p.p.pid for p in self.procs)
            time.sleep(seconds)
            cb = cpu_jiffies(p.p.pid for p in self.procs)
            b = rx.stats()
            if not tx.alive():
                self.fail(f'testpmd on {src} exited while sending')
        finally:
            for p in (tx, rx):
                try:
                    if p.alive():
                        p.cmd('stop')
                except CeilingError:
                    pass    # the error in flight, or the next command's
        packets = b['rx_packets'] - a['rx_packets']
        nbytes = b['rx_bytes'] - a['rx_bytes']
        secs = b['time'] - a['time']
        if packets <= 0 or b['rx_pps'] <= 0:
            self.fail(f'{src} -> {dst}: {packets} frames in {secs:.2f} s')
        # The counters are read while frames arrive: allow a burst's skew.
        if abs(nbytes / packets - pkt_len) > pkt_len * 0.01:
            self.fail(f'{src} -> {dst}: {nbytes} bytes in {packets} frames, '
                      f'not {pkt_len} a frame')
        hz = os.sysconf('SC_CLK_TCK')
        other = ((cb[0] - ca[0]) - (cb[1] - ca[1])) / hz / max(secs, 1e-3)
        # testpmd's own rate (its clock, between the two "show port
        # stats"), frame bytes as counted: N per frame.
        mpps = b['rx_pps'] / 1e6
        return key, {'mpps': mpps,
                     'gbps': mpps * pkt_len * 8 / 1e3,
                     'packets': packets,
                     'bytes': nbytes,
                     'secs': secs,
                     'other_cpu': round(max(other, 0.0), 3),
                     'tx_core': tx.core, 'rx_core': rx.core}

    def close(self):
        # virtio_user first: a vhost-user server that leaves first makes
        # the client see its socket close under it.
        for p in reversed(self.procs):
            p.stop()


def measure_all(seconds=3, pkt_lens=(64, 1500), reverse=True, testpmd=None,
                keep=False, progress=None):
    """Measure each frame length; a list of dicts as measure() returns,
    in the order of pkt_lens.

    One pair of testpmd processes serves all lengths up to 1514 bytes
    (forward mode and frame length are changed between points, with
    forwarding stopped); longer frames need larger mbufs, which are
    slower for short frames, so they get a pair of their own.
    progress, if given, is called with a line of text after each point.
    """
    if seconds <= 0:
        raise CeilingError('seconds must be positive')
    pkt_lens = list(pkt_lens)
    if not pkt_lens:
        raise CeilingError('no frame length given')
    for n in pkt_lens:
        if not MIN_LEN <= n <= MAX_LEN:
            raise CeilingError(f'frame length {n}: must be {MIN_LEN}..'
                               f'{MAX_LEN} bytes')
    binary = testpmd_path(testpmd)
    groups = {}
    for i, n in enumerate(pkt_lens):
        groups.setdefault(mbuf_layout(n), []).append(i)
    free = hugepages_free()
    need = max(2 * (size * count + (16 << 20))  # seen: 50 MiB a process
               for size, count in groups)
    if free == 0:
        raise CeilingError('no free hugepages (HugePages_Free is 0 in '
                           '/proc/meminfo): run scripts/setup.sh')
    if free < need:
        raise CeilingError(f'{free >> 20} MiB of hugepages free, about '
                           f'{need >> 20} MiB needed: run scripts/setup.sh '
                           'or stop what uses them')

    def point(pair, n):
        r = {'pkt_len': n, 'seconds': seconds}
        for direction in (FWD, REV) if reverse else (FWD,):
            key, v = pair.run(direction, n, seconds)
            r[key] = v
            if progress:
                progress(f'{n:5d} B  {direction[1]:>11} -> '
                         f'{direction[2]:<11} {v["mpps"]:7.3f} Mpps '
                         f'{v["gbps"]:8.2f} Gbit/s  other CPU '
                         f'{v["other_cpu"]:.2f}')
        if not reverse:
            r[REV[0]] = None
        return r

    d = tempfile.mkdtemp(prefix='rs-ceiling-')
    results = [None] * len(pkt_lens)
    try:
        for g, idx in enumerate(groups.values()):
            gd = os.path.join(d, str(g))
            os.mkdir(gd)
            pair = Pair(binary, gd, max(pkt_lens[i] for i in idx))
            try:
                pair.open()
                for i in idx:
                    results[i] = point(pair, pkt_lens[i])
            except CeilingError as e:
                if getattr(e, 'tails', False):
                    raise
                pair.fail(str(e))       # with the logs' tails
            finally:
                pair.close()
    finally:
        if keep:
            if progress:
                progress(f'logs kept in {d}')
        else:
            shutil.rmtree(d, ignore_errors=True)
    return results


def measure(seconds=3, pkt_len=1500, reverse=True, testpmd=None):
    """The link's ceiling for frames of pkt_len bytes, as a dict:

    pkt_len, seconds   as asked
    vhost_to_virtio    net_vhost sends (txonly), virtio_user receives
    virtio_to_vhost    the reverse; None if reverse is False
    each a dict: mpps, gbps (frame bytes only, no preamble/IFG/FCS),
    packets and bytes received in the interval, secs (its length by this
    process's clock), tx_core and rx_core (the sender's and the
    receiver's forwarding lcore, = CPU), other_cpu (CPUs' worth of time
    everything but the two testpmd used during the interval, hypervisor
    steal included: above ~0.05 the numbers are low).
    Raises CeilingError on failure.
    """
    return measure_all(seconds, [pkt_len], reverse, testpmd)[0]


OTHER_CPU_WARN = 0.05


def table(results):
    lines = [f'{"frame B":>7}  {"direction":<26} {"Mpps":>8} {"Gbit/s":>8} '
             f'{"other CPU":>9}']
    busy = False
    for r in results:
        for key, src, dst in (FWD, REV):
            v = r.get(key)
            if v is None:
                continue
            mark = ''
            if v['other_cpu'] > OTHER_CPU_WARN:
                mark, busy = ' *', True
            lines.append(f'{r["pkt_len"]:7d}  {src + " -> " + dst:<26} '
                         f'{v["mpps"]:8.3f} {v["gbps"]:8.2f} '
                         f'{v["other_cpu"]:9.2f}{mark}')
    if busy:
        lines.append(f'* other processes (or the hypervisor) used more than '
                     f'{OTHER_CPU_WARN} CPU during the interval: '
                     'these numbers are low')
    return '\n'.join(lines)


def main(argv=None):
    ap = argparse.ArgumentParser(
        prog='ceiling.py', description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--seconds', type=float, default=3, metavar='S',
                    help='measured interval a point, after traffic flows '
                    '(default 3)')
    ap.add_argument('--pkt-len', type=int, nargs='+', default=[64, 1500],
                    metavar='N', help=f'frame lengths in bytes, without FCS '
                    f'({MIN_LEN}..{MAX_LEN}; default 64 1500)')
    ap.add_argument('--no-reverse', action='store_true',
                    help='only vhost -> virtio_user, not virtio_user -> vhost')
    ap.add_argument('--json', action='store_true',
                    help='print the results as JSON (a list, one object a '
                    'frame length, as measure() returns) instead of a table')
    ap.add_argument('--testpmd', metavar='PATH',
                    help='testpmd binary (default: $TESTPMD or dpdk-testpmd)')
    ap.add_argument('--keep', action='store_true',
                    help='keep the temporary directory with the logs')
    a = ap.parse_args(argv)

    def on_term(sig, frame):
        # Once: the cleanup that follows must not be interrupted.
        for s in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
            signal.signal(s, signal.SIG_IGN)
        raise KeyboardInterrupt
    for s in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
        signal.signal(s, on_term)

    def progress(line):
        print(f'ceiling: {line}', file=sys.stderr, flush=True)
    try:
        res = measure_all(a.seconds, a.pkt_len, not a.no_reverse, a.testpmd,
                          a.keep, progress)
    except CeilingError as e:
        print(f'ceiling: {e}', file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print('ceiling: interrupted', file=sys.stderr)
        return 1
    if a.json:
        print(json.dumps(res, indent=2))
    else:
        print(f'vhost-user link ceiling: dpdk-testpmd txonly -> rxonly, '
              f'{a.seconds:g} s a point, frame bytes only')
        print(table(res))
    return 0


if __name__ == '__main__':
    sys.exit(main())
