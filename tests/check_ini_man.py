#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""remsockd.ini(5) and its generator: the page is made from the real
files and renders without a groff warning; a key config.c knows that
default.ini does not describe, or one it sets that config.c does not
know, fails the generator (and so the build).

    check_ini_man.py --root SOURCE_ROOT
"""

import os
import re
import shutil
import subprocess
import sys
import tempfile

ROOT = sys.argv[sys.argv.index('--root') + 1]
GEN = os.path.join(ROOT, 'scripts', 'ini_man.py')
INI = os.path.join(ROOT, 'configs', 'default.ini')
C = os.path.join(ROOT, 'config', 'config.c')
H = os.path.join(ROOT, 'config', 'rs_config.h')
failures = 0


def check(name, ok, why=''):
    global failures
    failures += not ok
    print(('ok - ' if ok else 'not ok - ') + name)
    if not ok:
        print(f'#   {why}')


def gen(ini, out):
    return subprocess.run([sys.executable, GEN, ini, C, H, 'test', '/etc',
                           '/usr/share', out], capture_output=True,
                          text=True)


tmp = tempfile.mkdtemp(prefix='ini-man-')
try:
    page = os.path.join(tmp, 'remsockd.ini.5')
    r = gen(INI, page)
    check('the page is made from default.ini and config.c', r.returncode == 0,
          r.stderr)
    text = open(page).read() if r.returncode == 0 else ''
    table = open(C).read()
    table = table[table.index('static const struct key keys[]'):]
    table = table[:table.index('};')]
    want = re.findall(r'KEY\((\w+), (\w+),', table)
    want += re.findall(r'\{"(\w+)", "(\w+)",', table)
    missing = [f'[{s}] {k}' for s, k in want
               if f'.SH "[{s}]"' not in text or f'.B {k}\n' not in text]
    check(f'all {len(want)} keys of config.c have an entry', not missing,
          missing[:5])
    if shutil.which('man'):
        r = subprocess.run(['man', '--warnings', '-l', page],
                           capture_output=True, text=True,
                           env=dict(os.environ, MANWIDTH='80',
                                    MANPAGER='cat', PAGER='cat'))
        check('man renders it without a warning',
              r.returncode == 0 and r.stderr == '' and
              'REMSOCKD.INI(5)' in r.stdout, r.stderr[:300])
    ini = open(INI).read()
    bad = os.path.join(tmp, 'bad.ini')
    with open(bad, 'w') as f:
        f.write(ini.replace('\ntries = 2\n', '\n'))
    r = gen(bad, os.path.join(tmp, 'x.5'))
    check('a key left undescribed fails the generator',
          r.returncode != 0 and '[dns] tries' in r.stderr, r.stderr)
    with open(bad, 'w') as f:
        f.write(ini.replace('\n[dns]\n', '\n[dns]\nbogus = 1\n'))
    r = gen(bad, os.path.join(tmp, 'x.5'))
    check('a key config.c does not know fails the generator',
          r.returncode != 0 and '[dns] bogus' in r.stderr, r.stderr)
finally:
    shutil.rmtree(tmp)
print(f'{"FAILED" if failures else "passed"}')
sys.exit(1 if failures else 0)
