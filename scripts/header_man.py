#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""Make libremsock(3) from client/remsock.h, its one source.

    header_man.py HEADER VERSION OUT

The header's @file comment is the DESCRIPTION; each "---- title ----"
divider starts a section of FUNCTIONS; each function declared after a
doc comment (/** ... */) is an entry: its prototype, then the comment,
@param and @return made into prose.  Every rsk_ function the header
declares must have its comment (the generator fails otherwise), so the
page cannot leave one out.
"""

import re
import sys

from help_man import esc  # the same escaping as the other pages




def comment_lines(c):
    """A /** */ comment's text lines, without the stars."""
    body = c[3:-2]
    out = []
    for ln in body.splitlines():
        ln = re.sub(r'^\s*\* ?', '', ln)
        out.append(ln.rstrip())
    while out and not out[0].strip():
        out.pop(0)
    while out and not out[-1].strip():
        out.pop()
    return out


def paragraphs(lines, brk='.PP'):
    """Comment lines as roff: prose joined; '@param X' and '@return'
    start paragraphs of their own (@p brk: .PP, or .IP inside an entry),
    their indented lines continuing them; ' - ' list items are kept as
    laid out."""
    o, prose, lead, in_list = [], [], [''], [False]

    def flush():
        if prose:
            o.append(lead[0] + esc(' '.join(prose)))
            prose.clear()
        lead[0] = ''

    def para():
        flush()
        if o:
            o.append(brk)
    for ln in lines:
        s = ln.strip()
        if not s:
            flush()
            continue
        m = re.match(r'@param\s+(\S+)\s*(.*)', s)
        r = re.match(r'@return\s*(.*)', s)
        if m or r:
            para()
            lead[0] = (f'\\fI{esc(m.group(1))}\\fR: ' if m
                       else 'Returns ')
            prose.append((m.group(2) if m else r.group(1)))
            continue
        if s.startswith('- '):  # a list item, its lines indented after
            flush()
            o.append('.IP \\(bu 2')
            in_list[0] = True
            prose.append(s[2:])
            continue
        if in_list[0] and not ln.startswith('   '):
            in_list[0] = False
            para()
        elif not prose and o and o[-1] != brk:
            para()
        prose.append(s.replace('@p ', '').replace('@c ', ''))
    flush()
    return o


def main():
    header, version, out = sys.argv[1:4]
    text = open(header).read()
    filedoc = re.search(r'/\*\*\s*\n\s*\* @file\n(.*?)\*/', text, re.S)
    if not filedoc:
        raise SystemExit('header_man: no @file comment')
    desc = comment_lines('/**' + filedoc.group(1) + '*/')
    o = ['.\\" Made by scripts/header_man.py from client/remsock.h: edit '
         'that.',
         f'.TH LIBREMSOCK 3 "" "remsock {version}" "remsock manual"',
         '.SH NAME',
         'libremsock \\- the client library of remsockd, the remote socket '
         'proxy',
         '.SH SYNOPSIS',
         '.nf',
         '.B #include <remsock.h>',
         '.PP',
         'Link with \\fB\\-lremsock\\fR (pkg\\-config: \\fBremsock\\fR).',
         '.fi',
         '.SH DESCRIPTION']
    o += paragraphs(desc[1:] if desc and desc[0].startswith('libremsock')
                    else desc)
    o.append('.SH FUNCTIONS')
    # Walk the header: dividers, doc comments and what follows them.
    token = re.compile(r'/\* ---- (.*?) -+ \*/|(/\*\*.*?\*/)\s*([^;{]*[;{])',
                       re.S)
    documented, pos = set(), filedoc.end()
    for m in token.finditer(text, pos):
        if m.group(1):
            o.append(f'.SS {esc(m.group(1).strip().capitalize())}')
            continue
        decl = ' '.join(m.group(3).split()).rstrip(';{').strip()
        fn = re.search(r'\b(rsk_\w+)\s*\(', decl)
        if not fn:
            continue  # a struct, a macro's comment: the header has them
        documented.add(fn.group(1))
        o += ['.TP', '.B ' + esc(decl + ';')]
        o += paragraphs(comment_lines(m.group(2)), '.IP')
    declared = set(re.findall(r'^[a-z].*?\b(rsk_\w+)\s*\(', text, re.M))
    missing = sorted(declared - documented)
    if missing:
        raise SystemExit('header_man: no doc comment for ' +
                         ', '.join(missing))
    o += ['.SH SEE ALSO',
          '.BR remsock (1),',
          '.BR remsock\\-preload (8),',
          '.BR remsockd (8),',
          '.BR remsockd.ini (5)']
    with open(out, 'w') as f:
        f.write('\n'.join(o) + '\n')
    return 0


if __name__ == '__main__':
    sys.exit(main())
