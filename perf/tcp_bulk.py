#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""Bulk TCP, the userspace stack against Linux, measured side by side.

    perf/tcp_bulk.py RS_STACKTEST [--bytes N] [--runs R] [--tso on|off|both]
                     [--workers 1|2 [--cross]] [--profile DIR]

DPDK to DPDK: two rs_stacktest processes joined by a vhost-user socket
(one net_vhost port, one virtio_user port; no kernel between them), each
on a core of its own: tcp-source sends N bytes (default 1 GiB), tcp-discard
reads them; neither generates nor hashes data (--no-hash), so what is
measured is the stack.  With TSO (the default runs both ways) the vhost
port offers it (tso=1), the sender hands the port segments of up to
64 KiB and the receiver gets them whole, as over a virtio NIC whose host
side does not cut them; without, [port] tso = off and every segment is
one MSS.  The baseline, in the same run: Linux TCP over a veth pair
between two network namespaces, iperf3 sending the same number of bytes
(veth passes 64 KiB GSO packets, the kernel's equivalent).

Printed per run and as the median of R runs (default 3): Gbit/s, and
cycles per byte on the sending and on the receiving side, with the ratio
stack / Linux; then a bar plot of the rates.  Cycles: the CPU time each
side used (DPDK: the process's user + system time; its worker backs off
when idle, as on any two-core machine two polling processes must; Linux: iperf3's CPU utilisation of each end, which
includes the kernel's TCP work done in its context), times the CPU clock
(/proc/cpuinfo), over the bytes.  Speed is never asserted: the exit status
only says whether both transfers completed (0) or not (1).

Several workers (--workers 2): each stack has two, on a port of two queue
pairs; the transfer runs on worker 0 of each, so its packets stay on
queue 0 and nothing crosses.  With --cross the sender runs it on its
worker 1: its segments reach the receiver on queue 1 and its ACKs come
back on queue 0, so every packet of both directions is handed from one
worker to the other (net/steer.c): the cost of steering, in the cycles
per byte (the counts steered are printed).  On a machine with fewer
cores than the six threads, they share cores (idle back-off on).

--profile DIR records both stacks with `perf record` (linux-perf) and
leaves DIR/perf-{rx,tx}-{tso,notso}-RUN.data and a report of each
(.txt, flat, by symbol): where the cycles of each side go.

Addresses: 198.18.2.0/24 for the DPDK pair, 198.18.3.0/24 for the veth
pair; nothing leaves the processes and namespaces this script creates, and
it removes them at the end, also on failure.
"""

import argparse
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

EAL = '--in-memory --no-pci --no-telemetry --log-level=lib.eal:notice'
PORT = 7010


def die(msg):
    print(f'tcp_bulk: {msg}', file=sys.stderr)
    sys.exit(1)


def cpu_hz():
    with open('/proc/cpuinfo') as f:
        m = re.search(r'^cpu MHz\s*:\s*([0-9.]+)', f.read(), re.M)
    if not m:
        die('no "cpu MHz" in /proc/cpuinfo')
    return float(m.group(1)) * 1e6


def ini(path, lcores, devargs, ip, tso, workers=1):
    with open(path, 'w') as f:
        f.write(f'''[eal]
args = {lcores} {EAL} --single-file-segments
[port]
devargs = {devargs}
tso = {'on' if tso else 'off'}
rx_desc = 1024
tx_desc = 1024
mbufs = 16383
link_timeout_ms = 10000
[net]
ip = {ip}
prefix = 24
[workers]
count = {workers}
burst = 64
; On two cores, two polling processes starve each other's helper threads
; (8.6 against 0.24 Gbit/s measured): back off when idle, and count the
; CPU time really used.
idle_backoff = on
idle_polls = 256
idle_sleep_max_us = 500
[tcp]
time_wait_ms = 500
close_grace_ms = 3000
''')


def results(text):
    """The key=value pairs of the last 'result' line."""
    kv = {}
    for line in text.splitlines():
        if line.startswith('result '):
            kv = dict(w.split('=', 1) for w in line.split()[1:] if '=' in w)
    return kv


class Proc:
    """A child whose CPU time is read when it ends (os.wait4)."""

    def __init__(self, argv, log):
        self.log = log
        self.f = open(log, 'w')
        self.p = subprocess.Popen(argv, stdout=self.f, stderr=subprocess.STDOUT,
                                  start_new_session=True)
        self.cpu = None
        self.rc = None

    def wait_for(self, pattern, secs):
        end = time.monotonic() + secs
        while time.monotonic() < end:
            if re.search(pattern, open(self.log).read(), re.M):
                return True
            if self.p.poll() is not None:
                return False
            time.sleep(0.05)
        return False

    def wait(self, secs):
        end = time.monotonic() + secs
        while time.monotonic() < end:
            pid, status, ru = os.wait4(self.p.pid, os.WNOHANG)
            if pid == self.p.pid:
                self.p.returncode = os.waitstatus_to_exitcode(status)
                self.rc = self.p.returncode
                self.cpu = ru.ru_utime + ru.ru_stime
                self.f.close()
                return self.rc
            time.sleep(0.05)
        self.stop()
        return None

    def stop(self):
        if self.p.poll() is None:
            os.killpg(self.p.pid, signal.SIGTERM)
            try:
                self.p.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.p.pid, signal.SIGKILL)
                self.p.wait()
        self.f.close()

    def text(self):
        return open(self.log).read()


def perf_prefix(profile, side, tso, run):
    """perf record's argv to run a stack under, or none."""
    if profile is None:
        return []
    out = os.path.join(profile,
                       f'perf-{side}-{"tso" if tso else "notso"}-{run}.data')
    return ['perf', 'record', '-q', '-F', '1999', '--call-graph', 'dwarf',
            '-o', out, '--']


def perf_report(profile):
    for f in sorted(os.listdir(profile)):
        if not f.endswith('.data'):
            continue
        data = os.path.join(profile, f)
        with open(data[:-5] + '.txt', 'w') as out:
            subprocess.run(['perf', 'report', '-i', data, '--stdio',
                            '--no-children', '--sort', 'symbol'],
                           stdout=out, stderr=subprocess.DEVNULL)
    print(f'tcp_bulk: profiles in {profile}')


def run_dpdk(stacktest, nbytes, d, hz, tso, workers=1, cross=False,
             profile=None, run=1):
    sock = os.path.join(d, 'vhost.sock')
    # Each side's lcores: one worker on a core of its own; two, spread
    # over both cores the other way round from the other side.
    rx_l, tx_l = '-l 0,1 --main-lcore 1', '-l 0,1'
    if workers == 2:
        rx_l, tx_l = '--lcores 0@1,1@0,2@1', '--lcores 0@0,1@1,2@0'
    ini(os.path.join(d, 'rx.ini'), rx_l,
        f'net_vhost0,iface={sock},queues={workers},tso={int(tso)}',
        '198.18.2.1', tso, workers)
    ini(os.path.join(d, 'tx.ini'), tx_l,
        f'virtio_user0,path={sock},queues={workers},queue_size=1024,'
        'mac=02:00:c6:12:02:02', '198.18.2.2', tso, workers)
    limit = 60 + nbytes // (50 << 20)
    # The receiver runs until the sender is gone: a vhost-user server
    # that quits first would leave the virtio side writing to a closed
    # socket (SIGPIPE).
    rx = Proc(perf_prefix(profile, 'rx', tso, run) +
              [stacktest, '-c', os.path.join(d, 'rx.ini'), '--timeout',
               str(limit + 60), '--no-hash', 'tcp-discard', str(PORT)],
              os.path.join(d, 'rx.log'))
    tx, go = None, os.path.join(d, 'go')
    try:
        # The vhost side's link comes up when virtio_user attaches; the
        # sender starts once the receiver listens (the go file).
        if not rx.wait_for(r'socket created', 30):
            die('the receiving stack did not start:\n' + rx.text())
        tx = Proc(perf_prefix(profile, 'tx', tso, run) +
                  [stacktest, '-c', os.path.join(d, 'tx.ini'), '--timeout',
                   str(limit), '--go-file', go, '--no-hash'] +
                  (['--worker', str(workers - 1)] if cross else []) +
                  ['tcp-source', f'198.18.2.1:{PORT}', str(nbytes), '1'],
                  os.path.join(d, 'tx.log'))
        if not rx.wait_for(r'^rs_stacktest: ready', 30) or \
                not tx.wait_for(r'^rs_stacktest: ready', 30):
            die('the stacks did not come up:\n' + rx.text() + tx.text())
        open(go, 'w').close()
        txrc = tx.wait(limit + 30)
        os.killpg(rx.p.pid, signal.SIGTERM)
        rxrc = rx.wait(30)
    finally:
        rx.stop()
        if tx is not None:
            tx.stop()
    t, r = results(tx.text()), results(rx.text())
    m = re.search(r'^\s*event\.tcp\.tso_segs_out\s+(\d+)', tx.text(), re.M)
    tso_segs = int(m.group(1)) if m else 0
    if tso != (tso_segs > 0):
        print(f'tcp_bulk: TSO {"on" if tso else "off"}, but {tso_segs} '
              'TSO segments sent')
        print(tx.text()[-2000:])
        return None
    if profile is not None and rxrc == -signal.SIGTERM and \
            re.search(r'^rs_stacktest: exit 0$', rx.text(), re.M):
        rxrc = 0  # perf record, not the stack, ended by the signal
    if txrc != 0 or rxrc != 0 or int(r.get("bytes", 0)) != nbytes:
        print(f'tcp_bulk: exit statuses {txrc} {rxrc}, '
              f'{r.get("bytes")} bytes received')
        print(tx.text()[-2000:], rx.text()[-2000:], sep='\n')
        return None
    secs = float(t['seconds'])

    def steered(text):
        m = re.search(r'^\s*event\.steered_in\s+(\d+)', text, re.M)
        return int(m.group(1)) if m else 0
    return {'gbps': nbytes * 8 / secs / 1e9,
            'steered': steered(tx.text()) + steered(rx.text()),
            'tx_cpb': tx.cpu * hz / nbytes, 'rx_cpb': rx.cpu * hz / nbytes,
            'tx_cpu': tx.cpu, 'rx_cpu': rx.cpu, 'secs': secs}


def sh(*argv):
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL)


def run_linux(nbytes, tag, hz):
    a, b = f'rsperf-a-{tag}', f'rsperf-b-{tag}'
    srv = None
    try:
        for ns in (a, b):
            sh('ip', 'netns', 'add', ns)
            sh('ip', '-n', ns, 'link', 'set', 'lo', 'up')
        sh('ip', '-n', a, 'link', 'add', 'v0', 'type', 'veth', 'peer', 'name',
           'v1', 'netns', b)
        sh('ip', '-n', a, 'addr', 'add', '198.18.3.1/24', 'dev', 'v0')
        sh('ip', '-n', b, 'addr', 'add', '198.18.3.2/24', 'dev', 'v1')
        sh('ip', '-n', a, 'link', 'set', 'v0', 'up')
        sh('ip', '-n', b, 'link', 'set', 'v1', 'up')
        srv = subprocess.Popen(['ip', 'netns', 'exec', a, 'iperf3', '-s', '-1',
                                '-B', '198.18.3.1'],
                               stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
        time.sleep(0.5)
        out = subprocess.run(['ip', 'netns', 'exec', b, 'iperf3', '-c',
                              '198.18.3.1', '-n', str(nbytes), '-J'],
                             capture_output=True, text=True, timeout=300)
        j = json.loads(out.stdout)
        if 'error' in j:
            die('iperf3: ' + j['error'])
        end = j['end']
        secs = end['sum_received']['seconds']
        got = end['sum_received']['bytes']
        cpu = end['cpu_utilization_percent']
        return {'gbps': got * 8 / secs / 1e9,
                'tx_cpb': cpu['host_total'] / 100 * secs * hz / got,
                'rx_cpb': cpu['remote_total'] / 100 * secs * hz / got,
                'secs': secs}
    finally:
        if srv is not None and srv.poll() is None:
            srv.terminate()
            srv.wait()
        for ns in (a, b):
            subprocess.run(['ip', 'netns', 'del', ns],
                           stderr=subprocess.DEVNULL)


def bar(label, v, vmax, width=50):
    n = int(round(v / vmax * width)) if vmax > 0 else 0
    return f'  {label:<24} {"#" * n}{" " * (width - n)} {v:6.2f} Gbit/s'


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('stacktest')
    ap.add_argument('--bytes', type=int, default=1 << 30)
    ap.add_argument('--runs', type=int, default=3)
    ap.add_argument('--tso', choices=('on', 'off', 'both'), default='both')
    ap.add_argument('--workers', type=int, choices=(1, 2), default=1)
    ap.add_argument('--cross', action='store_true')
    ap.add_argument('--profile', metavar='DIR')
    a = ap.parse_args()
    if a.cross and a.workers != 2:
        die('--cross needs --workers 2')
    modes = {'on': [True], 'off': [False], 'both': [True, False]}[a.tso]
    if os.geteuid() != 0:
        die('run as root (hugepages, vhost-user, namespaces)')
    if shutil.which('iperf3') is None:
        die('iperf3 is missing (scripts/setup.sh installs it)')
    if a.profile is not None:
        if shutil.which('perf') is None:
            die('--profile needs perf (linux-perf)')
        os.makedirs(a.profile, exist_ok=True)
    hz = cpu_hz()
    print(f'tcp_bulk: {a.bytes} bytes a run, {a.runs} runs, CPU clock '
          f'{hz / 1e6:.0f} MHz', flush=True)
    dpdk, linux = {t: [] for t in modes}, []
    d = tempfile.mkdtemp(prefix='rs-perf-')
    try:
        for i in range(a.runs):
            for tso in modes:
                r = run_dpdk(a.stacktest, a.bytes, d, hz, tso, a.workers,
                             a.cross, a.profile, i + 1)
                if r is None:
                    die(f'run {i + 1}: the DPDK transfer did not complete')
                dpdk[tso].append(r)
                print(f'run {i + 1}: stack, TSO {"on " if tso else "off"}'
                      f' {r["gbps"]:.2f} Gbit/s (send {r["tx_cpb"]:.2f}, '
                      f'receive {r["rx_cpb"]:.2f} cycles/B; '
                      f'{r["steered"]} packets steered)', flush=True)
            l = run_linux(a.bytes, f'{os.getpid()}-{i}', hz)
            linux.append(l)
            print(f'run {i + 1}: Linux {l["gbps"]:.2f} Gbit/s '
                  f'(send {l["tx_cpb"]:.2f}, receive {l["rx_cpb"]:.2f} '
                  f'cycles/B)', flush=True)
        if a.profile is not None:
            perf_report(a.profile)
    finally:
        if os.environ.get('RS_PERF_KEEP'):
            print(f'tcp_bulk: logs kept in {d}')
        else:
            shutil.rmtree(d, ignore_errors=True)

    def med(rows, k):
        return statistics.median(r[k] for r in rows)
    keys = ('gbps', 'tx_cpb', 'rx_cpb')
    s = {t: {k: med(dpdk[t], k) for k in keys} for t in modes}
    l = {k: med(linux, k) for k in keys}
    name = {True: 'stack, vhost, TSO', False: 'stack, vhost, no TSO'}

    def row(label, v):
        print(f'{label:<32} {v["gbps"]:8.2f} {v["tx_cpb"]:11.2f} '
              f'{v["rx_cpb"]:11.2f}')
    print()
    print(f'{"median of " + str(a.runs):<32} {"Gbit/s":>8} '
          f'{"send cyc/B":>11} {"recv cyc/B":>11}')
    for t in modes:
        row(name[t], s[t])
    row('Linux TCP, veth (iperf3)', l)
    for t in modes:
        row(f'ratio {name[t][7:]} / Linux',
            {k: s[t][k] / l[k] for k in keys})
    print()
    top = max([s[t]['gbps'] for t in modes] + [l['gbps']])
    for t in modes:
        print(bar(name[t], s[t]['gbps'], top))
    print(bar('Linux TCP (veth)', l['gbps'], top))
    return 0


if __name__ == '__main__':
    sys.exit(main())
