#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""Make remsockd.ini(5) from configs/default.ini and config/config.c.

    ini_man.py DEFAULT_INI CONFIG_C RS_CONFIG_H VERSION SYSCONFDIR DATADIR OUT

(SYSCONFDIR and DATADIR: the install's, for FILES.)

default.ini is the reference: its comments describe each section and key,
its values are the defaults.  config.c's key table adds each key's type,
range and flags.  Every key config.c knows must be described in
default.ini (set, or shown in a comment as `; key = example`), and every
key default.ini sets must be one config.c knows: otherwise this fails,
and so does the build, so the page cannot fall behind the parser.
"""

import re
import sys

KIND = {
    'K_BOOL': 'on or off',
    'K_IPV4': 'an IPv4 address',
    'K_MAC': 'a MAC address (xx:xx:xx:xx:xx:xx)',
    'K_CC': 'a congestion control name',
    'K_IPLIST': 'IPv4 addresses separated by blanks',
}


def keys_of(config_c, rs_config_h):
    """{(section, key): (kind, lo, hi, flags)}, and the sections whose
    keys are free names."""
    consts = {'UINT32_MAX': str(2**32 - 1)}
    for m in re.finditer(r'#define (RS_CONFIG_\w+) (\d+)\b', rs_config_h):
        consts[m.group(1)] = m.group(2)

    def value(expr):
        expr = re.sub(r'\b(\d+)u\b', r'\1', expr.strip())
        for k, v in consts.items():
            expr = expr.replace(k, v)
        if not re.fullmatch(r'[\d\s<*+()-]+', expr):
            raise SystemExit(f'ini_man: cannot read the bound {expr!r}')
        return eval(expr)  # digits and operators only, checked above
    keys, free = {}, set()
    table = config_c[config_c.index('static const struct key keys[]'):]
    table = table[:table.index('};')]
    for m in re.finditer(r'KEY\((\w+), (\w+), (\w+), ([^,]+), ([^,]+), '
                         r'([^)]+)\)', table):
        sec, key, kind, lo, hi, fl = m.groups()
        keys[(sec, key)] = (kind, value(lo), value(hi), fl)
    for m in re.finditer(r'\{"(\w+)", (ANY_NAME|"(\w+)"), (\w+),', table):
        if m.group(2) == 'ANY_NAME':
            free.add(m.group(1))
        else:
            keys[(m.group(1), m.group(3))] = (m.group(4), 0, 0, '0')
    return keys, free


def parse_ini(text, keys):
    """(header paragraphs, [(section, [blocks])]); a block is (comment
    lines, [(key, value, shown_only)])."""
    header, sections = [], []
    comment, blocks, sec = [], None, None
    for raw in text.splitlines():
        line = raw.strip()
        m = re.fullmatch(r'\[(\w+)\]', line)
        if m:
            if sec is None:
                header = comment
            elif comment:
                blocks.append((comment, []))
            sec, blocks, comment = m.group(1), [], []
            sections.append((sec, blocks))
            continue
        if line.startswith(';') or line.startswith('#'):
            body = line[1:]
            body = body[1:] if body.startswith(' ') else body
            shown = re.fullmatch(r'(\w+) = (.*)', body)
            if sec is not None and shown and (sec, shown.group(1)) in keys:
                blocks.append((comment, [(shown.group(1), shown.group(2),
                                          True)]))
                comment = []
            else:
                comment.append(body)
            continue
        if not line:
            if sec is None:
                comment.append('')
            continue
        m = re.fullmatch(r'(\w+)\s*=\s*(.*)', line)
        if not m or sec is None:
            raise SystemExit(f'ini_man: cannot read {raw!r}')
        if comment or not blocks or blocks[-1][1][-1:] and \
                blocks[-1][1][-1][2]:
            blocks.append((comment, []))
            comment = []
        blocks[-1][1].append((m.group(1), m.group(2), False))
    if comment and sec is not None:
        blocks.append((comment, []))
    return header, sections


def roff(text):
    """Escape for roff; `code` in bold."""
    text = text.replace('\\', '\\e')
    parts = re.split(r'`([^`]*)`', text)
    out = ''
    for i, p in enumerate(parts):
        out += '\\fB' + p.replace('-', '\\-') + '\\fR' if i % 2 else p
    if out.startswith('.') or out.startswith("'"):
        out = '\\&' + out
    return out


def paragraphs(lines, cont='.PP'):
    """Comment lines as roff: prose joined, indented lines kept as they
    are (syntax lines and examples); @p cont goes on after those (.IP
    inside a key's paragraph)."""
    out, prose = [], []

    def flush():
        if prose:
            out.append(roff(' '.join(prose)))
            prose.clear()
    for ln in lines:
        if ln.startswith('  '):
            flush()
            out += ['.RS', '.nf', roff(ln.strip()), '.fi', '.RE', cont]
        elif ln == '':
            flush()
            out.append(cont)
        else:
            prose.append(ln)
    flush()
    return out


def key_facts(info):
    kind, lo, hi, fl = info
    facts = []
    if kind == 'K_UINT':
        facts.append(f'An integer from {lo} to {hi}'
                     + (', a power of two' if 'F_POW2' in fl else '') + '.')
    elif kind in KIND:
        facts.append(KIND[kind][0].upper() + KIND[kind][1:] + '.')
    if 'F_REQUIRED' in fl:
        facts.append('Required.')
    return ' '.join(facts)


def main():
    ini_p, c_p, h_p, version, etc, share, out_p = sys.argv[1:8]
    conf = roff(f'{etc}/remsock/remsockd.ini')
    keys, free = keys_of(open(c_p).read(), open(h_p).read())
    header, sections = parse_ini(open(ini_p).read(), keys)
    seen, errors = set(), []
    for sec, blocks in sections:
        for _, entries in blocks:
            for key, _, _ in entries:
                if (sec, key) in keys:
                    seen.add((sec, key))
                elif sec not in free:
                    errors.append(f'[{sec}] {key}: not a key config.c '
                                  'knows')
    for sec, key in sorted(set(keys) - seen):
        errors.append(f'[{sec}] {key}: config.c knows it, default.ini '
                      'does not describe it')
    for sec in sorted(free - {s for s, _ in sections}):
        errors.append(f'[{sec}]: config.c knows it, default.ini has no '
                      'such section')
    if errors:
        for e in errors:
            print(f'ini_man: {e}', file=sys.stderr)
        return 1

    o = ['.\\" Made by scripts/ini_man.py from configs/default.ini and '
         'config/config.c: edit those.',
         f'.TH REMSOCKD.INI 5 "" "remsock {version}" "File Formats"',
         '.SH NAME',
         'remsockd.ini \\- configuration file of remsockd, the remote '
         'socket proxy',
         '.SH SYNOPSIS',
         f'.B {conf}',
         '(read with',
         '.BR "remsockd \\-c" " FILE"),',
         'or the embedded default',
         '.RB ( "remsockd \\-\\-print\\-default\\-config" ).',
         '.SH DESCRIPTION']
    # From the header, what tells of the format (not of the default file).
    syntax = next((i for i, ln in enumerate(header)
                   if ln.startswith('Syntax:')), len(header))
    o += paragraphs(header[syntax:])
    o += ['.PP',
          'Check a file with',
          '.BR "remsockd \\-c FILE \\-\\-check\\-config" ;',
          'a running remsockd rereads [acl], [hosts], [apps], [quotas] and',
          '[dns] at SIGHUP',
          '.RB ( "systemctl reload remsockd" )',
          'and refuses any other change. The sections and keys follow,',
          'each with its default as the embedded configuration sets it.']
    for sec, blocks in sections:
        o.append(f'.SH "[{sec}]"')
        if sec in free and not any((sec, k) in keys for _, es in blocks
                                   for k, _, _ in es):
            o.append('The entries of this section are named freely '
                     '(NAME = ...), as described here.')
            o.append('.PP')
        for comment, entries in blocks:
            if not entries:
                o.append('.PP')
                o += paragraphs(comment)
                continue
            for i, (key, _, _) in enumerate(entries):
                o += ['.TP' if i == 0 else '.TQ', f'.B {roff(key)}']
            o += paragraphs(comment, '.IP')
            lines = []
            for key, value, shown in entries:
                info = keys.get((sec, key))
                if shown:
                    d = f'not set by default (e.g. \\fB{roff(value)}\\fR)'
                elif info is None:
                    d = f'the default has \\fB{roff(key)} = {roff(value)}\\fR'
                else:
                    d = f'default \\fB{roff(value)}\\fR'
                facts = key_facts(info) if info else ''
                head = f'\\fB{roff(key)}\\fR: ' if len(entries) > 1 else ''
                lines.append(head + d[0].upper() + d[1:] + '.'
                             + (' ' + facts if facts else ''))
            o.append('.IP')
            o += [ln for pair in zip(lines, ['.br'] * len(lines))
                  for ln in pair][:-1]
    o += ['.SH FILES',
          '.TP',
          f'.I {conf}',
          'the configuration the systemd unit starts remsockd with',
          '(installed from the example, never overwritten).',
          '.TP',
          f'.I {roff(share)}/remsock/examples/',
          'default.ini (tap mode), virtio.ini, nic\\-example.ini.',
          '.SH SEE ALSO',
          '.BR remsockd " (\\-\\-help), " remsock " (\\-\\-help), "',
          'docs/security.md (every limit), docs/operations.md (metrics).']
    with open(out_p, 'w') as f:
        f.write('\n'.join(o) + '\n')
    return 0


if __name__ == '__main__':
    sys.exit(main())
