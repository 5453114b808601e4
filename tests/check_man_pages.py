#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""The man pages made at build time (from --help texts, the header, the
default configuration): each renders with man(1) without a warning and
has NAME, SYNOPSIS and DESCRIPTION.  Skipped (exit 77) where man is not
installed.

    check_man_pages.py PAGE...
"""

import os
import shutil
import subprocess
import sys

if shutil.which('man') is None:
    print('SKIP: no man(1) here')
    sys.exit(77)
failures = 0
for page in sys.argv[1:]:
    r = subprocess.run(['man', '--warnings', '-l', page], capture_output=True,
                       text=True, env=dict(os.environ, MANWIDTH='80',
                                           MANPAGER='cat', PAGER='cat'))
    name = os.path.basename(page)
    sections = [s for s in ('NAME', 'SYNOPSIS', 'DESCRIPTION')
                if f'\n{s}\n' not in '\n' + r.stdout]
    ok = r.returncode == 0 and r.stderr == '' and not sections
    failures += not ok
    print(('ok - ' if ok else 'not ok - ') + f'{name} renders cleanly')
    if not ok:
        print(f'#   rc={r.returncode} missing={sections} '
              f'stderr={r.stderr[:300]!r}')
print('FAILED' if failures else 'passed')
sys.exit(1 if failures else 0)
