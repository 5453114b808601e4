#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""Make a man page from a manual in remsock's --help layout.

    help_man.py SECTION VERSION OUT (--run CMD... | --file TEXT)

The manual is what `CMD --help` prints (or TEXT holds): sections whose
names are in capitals at the left margin, their text indented by four
spaces.  In a section, a line followed by lines indented four more is a
term and its description (an option, a signal, a file); other lines are
prose, a blank line ends a paragraph; SYNOPSIS and EXAMPLES are kept as
they are laid out.  The page's name comes from NAME's first word(s)
before ' - ' ("remsock stats" makes remsock-stats).  So --help and the
page say the same, from one source.
"""

import re
import subprocess
import sys

LITERAL = {'SYNOPSIS', 'EXAMPLES'}


def esc(text):
    """roff-safe text: backslashes, hyphens, leading dots and quotes."""
    text = text.replace('\\', '\\e').replace('-', '\\-')
    if text.startswith('.') or text.startswith("'"):
        text = '\\&' + text
    return text


def sections(manual):
    """[(NAME, [lines without the four-space indent])]"""
    out = []
    for line in manual.splitlines():
        if re.fullmatch(r'[A-Z][A-Z /-]*', line):
            out.append((line, []))
        elif out:
            out[-1][1].append(line[4:] if line.startswith('    ') else
                              line.strip())
        elif line.strip():
            raise SystemExit(f'help_man: text before the first section: '
                             f'{line!r}')
    return out


def indent(line):
    return len(line) - len(line.lstrip(' '))


def body(name, lines):
    """A section's lines as roff."""
    while lines and not lines[-1].strip():
        lines.pop()
    if name in LITERAL:
        return ['.nf'] + [esc(ln) for ln in lines] + ['.fi']
    o, prose, i = [], [], 0
    in_item = [False]  # prose after an item needs a paragraph of its own

    def flush():
        if prose:
            if in_item[0]:
                o.append('.PP')
                in_item[0] = False
            o.append(esc(' '.join(prose)))
            prose.clear()
    while i < len(lines):
        ln = lines[i]
        if not ln.strip():
            flush()
            if not in_item[0]:
                o.append('.PP')
            i += 1
            continue
        short = re.fullmatch(r'(-\S.*?\S)\s{2,}(\S.*)', ln)
        if indent(ln) == 0 and short:  # "-h, --help   What it does."
            flush()
            o += ['.TP', '.B ' + esc(short.group(1)), esc(short.group(2))]
            in_item[0] = True
            i += 1
            continue
        nxt = lines[i + 1] if i + 1 < len(lines) else ''
        if indent(ln) == 0 and nxt.strip() and indent(nxt) >= 4:
            flush()
            o += ['.TP', '.B ' + esc(ln.strip())]
            i += 1
            desc = []
            while i < len(lines) and lines[i].strip() and \
                    indent(lines[i]) >= 4:
                desc.append(lines[i].strip())
                i += 1
            o.append(esc(' '.join(desc)))
            in_item[0] = True
            continue
        if indent(ln) >= 2:  # laid out on purpose: kept
            flush()
            if in_item[0]:
                o.append('.PP')
                in_item[0] = False
            o += ['.RS', '.nf', esc(ln.strip()), '.fi', '.RE']
        else:
            prose.append(ln.strip())
        i += 1
    flush()
    return o


def main():
    sec, version, out = sys.argv[1:4]
    if sys.argv[4] == '--run':
        manual = subprocess.run(sys.argv[5:], capture_output=True,
                                text=True, check=True).stdout
    else:
        manual = open(sys.argv[5]).read()
    parts = sections(manual)
    if not parts or parts[0][0] != 'NAME':
        raise SystemExit('help_man: the manual does not start with NAME')
    name_line = ' '.join(x.strip() for x in parts[0][1] if x.strip())
    m = re.fullmatch(r'(.+?) - (.+)', name_line)
    if not m:
        raise SystemExit(f'help_man: NAME is not "name - what": '
                         f'{name_line!r}')
    page = m.group(1).replace(' ', '-')
    o = [f'.\\" Made by scripts/help_man.py from {page}\'s manual: edit '
         'that.',
         f'.TH {page.upper()} {sec} "" "remsock {version}" '
         '"remsock manual"',
         '.SH NAME', f'{esc(page)} \\- {esc(m.group(2))}']
    for name, lines in parts[1:]:
        o.append(f'.SH {name}')
        o += body(name, list(lines))
    with open(out, 'w') as f:
        f.write('\n'.join(o) + '\n')
    return 0


if __name__ == '__main__':
    sys.exit(main())
