#!/usr/bin/env python3
"""find_tests.py - the test files meson builds tests from, so that no list is kept by hand.

    find_tests.py e2e DIR          names of DIR/*.test.mjs (without .test.mjs), one a line
    find_tests.py unit DIR SRC     MODULE/test_X of DIR/MODULE/test_X.c, one a line; fails
                                   when MODULE is not a module of SRC (unit tests mirror src/)
    find_tests.py check KIND DIR [SRC] -- NAME...
                                   fails when the files on disk are not the NAMEs this build
                                   was configured with (a file added or removed since)

Meson reads the directories when it configures; the check (the test_lists test) catches
a build directory that has not been reconfigured since.
"""
import os
import sys


def e2e_names(directory):
    return sorted(f[:-len('.test.mjs')] for f in os.listdir(directory) if f.endswith('.test.mjs'))


def unit_names(directory, src):
    names = []
    for module in sorted(os.listdir(directory)):
        path = os.path.join(directory, module)
        if not os.path.isdir(path):
            continue
        if not os.path.isdir(os.path.join(src, module)):
            sys.exit('tests/unit/%s: no src/%s; unit tests live in the directory of the module they test'
                     % (module, module))
        names += ['%s/%s' % (module, f[:-2]) for f in sorted(os.listdir(path))
                  if f.startswith('test_') and f.endswith('.c')]
    return names


def found(kind, args):
    return e2e_names(args[0]) if kind == 'e2e' else unit_names(args[0], args[1])


def main(argv):
    if len(argv) >= 2 and argv[0] in ('e2e', 'unit'):
        print('\n'.join(found(argv[0], argv[1:])))
        return 0
    if len(argv) >= 3 and argv[0] == 'check' and '--' in argv:
        sep = argv.index('--')
        on_disk, configured = set(found(argv[1], argv[2:sep])), set(argv[sep + 1:])
        if on_disk == configured:
            return 0
        for name in sorted(on_disk - configured):
            print('%s: on disk but not a test of this build' % name)
        for name in sorted(configured - on_disk):
            print('%s: a test of this build but no longer on disk' % name)
        print('the build directory is older than the test files: run meson setup --reconfigure BUILDDIR')
        return 1
    sys.exit(__doc__)


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
