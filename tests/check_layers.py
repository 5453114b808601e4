#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""Check that the folders include each other as tests/layers.txt allows.

Every `#include "..."` in the .c and .h files of the folders the rules
name is resolved to the folder that provides the header: a path with a
directory part relative to the including file, otherwise the including
file's own directory, then its own top-level folder, then the one other
folder that has it (or generates it).  An include is refused when

  * the header is found nowhere, or in more than one other folder;
  * its folder is not in the including folder's `uses`;
  * it is not among its folder's `public` headers (unless the including
    folder lists it under `private`).

Each folder's `public` list must also equal its meson.build's *_headers
list, where it has one.  One line per violation, file:line first; exit
status 1 when there is any.

  /usr/bin/python3 tests/check_layers.py [--root DIR] [--rules FILE]
"""
import argparse
import configparser
import os
import re
import sys

INCLUDE = re.compile(r'^\s*#\s*include\s*"([^"]+)"')
HEADERS_LIST = re.compile(r'^\s*\w+_headers\s*=\s*files\(([^)]*)\)',
                          re.MULTILINE)
QUOTED = re.compile(r"'([^']+)'")


def words(rules, folder, key):
    return rules.get(folder, key, fallback='').split()


def load_rules(path):
    rules = configparser.ConfigParser(comment_prefixes=('#',),
                                      inline_comment_prefixes=('#',))
    with open(path, encoding='utf-8') as f:
        rules.read_file(f)
    return rules


def sources(root, folder):
    """Every .c and .h file under root/folder, as paths relative to root."""
    out = []
    for d, dirs, files in os.walk(os.path.join(root, folder)):
        dirs.sort()
        for name in sorted(files):
            if name.endswith(('.c', '.h')):
                out.append(os.path.relpath(os.path.join(d, name), root))
    return out


def top(relpath):
    return relpath.split(os.sep)[0]


class Index:
    """Which folder provides which header name."""

    def __init__(self, root, rules):
        self.by_name = {}
        for folder in rules.sections():
            for rel in sources(root, folder):
                if rel.endswith('.h'):
                    self.add(os.path.basename(rel), folder, rel)
            for name in words(rules, folder, 'generated'):
                self.add(name, folder, os.path.join(folder, name))

    def add(self, name, folder, rel):
        self.by_name.setdefault(name, []).append((folder, rel))

    def resolve(self, root, src, inc):
        """The (folder, relpath) candidates of `#include "inc"` in src."""
        if os.path.dirname(inc):
            path = os.path.normpath(
                os.path.join(os.path.dirname(src), inc))
            if os.path.exists(os.path.join(root, path)):
                return [(top(path), path)]
            return []
        own_dir = os.path.join(os.path.dirname(src), inc)
        if os.path.exists(os.path.join(root, own_dir)):
            return [(top(src), own_dir)]
        cands = self.by_name.get(inc, [])
        own = [c for c in cands if c[0] == top(src)]
        return own or cands


def check_meson_lists(root, rules):
    errors = []
    for folder in rules.sections():
        meson = os.path.join(folder, 'meson.build')
        try:
            with open(os.path.join(root, meson), encoding='utf-8') as f:
                text = f.read()
        except OSError:
            continue
        public = set(words(rules, folder, 'public'))
        generated = set(words(rules, folder, 'generated'))
        for m in HEADERS_LIST.finditer(text):
            listed = set(QUOTED.findall(m.group(1)))
            line = text.count('\n', 0, m.start()) + 1
            if listed != public - generated:
                errors.append(
                    f'{meson}:{line}: headers list {sorted(listed)} is not '
                    f'the public headers of tests/layers.txt '
                    f'{sorted(public - generated)}')
        for name in sorted(public - generated):
            if not os.path.exists(os.path.join(root, folder, name)):
                errors.append(f'tests/layers.txt: [{folder}] public header '
                              f'{name} does not exist')
    return errors


def check_file(root, rules, index, src):
    errors = []
    folder = top(src)
    uses = set(words(rules, folder, 'uses'))
    private = set(words(rules, folder, 'private'))
    with open(os.path.join(root, src), encoding='utf-8',
              errors='replace') as f:
        lines = f.readlines()
    for n, text in enumerate(lines, 1):
        m = INCLUDE.match(text)
        if m is None:
            continue
        inc = m.group(1)
        where = f'{src}:{n}: #include "{inc}":'
        cands = index.resolve(root, src, inc)
        if not cands:
            errors.append(f'{where} no folder provides this header')
            continue
        if len(cands) > 1:
            names = ', '.join(rel for _, rel in cands)
            errors.append(f'{where} ambiguous, provided by {names}')
            continue
        owner, rel = cands[0]
        if owner == folder:
            continue
        name = os.path.basename(rel)
        if owner not in uses:
            allowed = ' '.join(sorted(uses)) or 'nothing'
            errors.append(f'{where} {folder}/ may not include from '
                          f'{owner}/ ({rel}; [{folder}] uses: {allowed})')
        elif (name not in words(rules, owner, 'public')
              and f'{owner}/{name}' not in private):
            public = ' '.join(words(rules, owner, 'public')) or 'none'
            errors.append(f'{where} {rel} is private to {owner}/ '
                          f'(public: {public})')
    return errors


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--root', default=os.path.dirname(here),
                    help='the source tree (default: the script\'s parent)')
    ap.add_argument('--rules', help='default: ROOT/tests/layers.txt')
    args = ap.parse_args()
    rules_path = args.rules or os.path.join(args.root, 'tests',
                                            'layers.txt')
    rules = load_rules(rules_path)

    errors = []
    for folder in rules.sections():
        if not os.path.isdir(os.path.join(args.root, folder)):
            errors.append(f'{rules_path}: [{folder}] is not a folder')
        for dep in words(rules, folder, 'uses'):
            if not rules.has_section(dep):
                errors.append(f'{rules_path}: [{folder}] uses unknown '
                              f'folder {dep}')
    errors += check_meson_lists(args.root, rules)
    index = Index(args.root, rules)
    count = 0
    for folder in rules.sections():
        for src in sources(args.root, folder):
            count += 1
            errors += check_file(args.root, rules, index, src)

    for e in errors:
        print(e)
    print(f'check_layers: {count} files, {len(rules.sections())} folders, '
          f'{len(errors)} violations')
    return 1 if errors else 0


if __name__ == '__main__':
    sys.exit(main())
