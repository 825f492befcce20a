#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Judge one run of the spanalloc test VM (called by scripts/test.sh).

Reads the guest's results channel (ttyS1, "SA-" marker lines written by
tests/guest/init) and the console log (ttyS0), then:

- joins every KUnit suite's debugfs KTAP into one document (top-level 1..S,
  suites renumbered) and parses it with the kernel's own
  tools/testing/kunit/kunit.py, counting leaf test cases;
- counts the kselftest TAP results of each program;
- scans the whole console log for kernel splats (WARNING, BUG, KASAN,
  lockdep, kmemleak, ...) and prints each with context, except for the
  reports a test provoked and checked itself, between its
  "spanalloc-expect: begin|end TAG" lines;
- fails on a missing done marker, a module that did not load or whose results
  never appeared, zero tests, or a hang (--timed-out).

Prints the findings, then one closing line "N passed, N failed[, N skipped]".
Exit status 0 only when nothing failed.
"""
import argparse
import os
import re
import subprocess
import sys

# What the console scan looks for. The guest's own messages start with
# "spanalloc-init:" and avoid these words. KASAN's reports say "KASAN:" (a
# KUnit case skipped for want of KASAN names it without the colon).
SPLATS = [
    r'WARNING:', r'BUG:', r'kernel BUG at', r'Oops', r'general protection',
    r'Unable to handle kernel', r'KASAN:', r'UBSAN',
    r'possible circular locking', r'possible recursive locking',
    r'inconsistent lock state', r'suspicious RCU usage', r'INFO: ',
    r'sleeping function called from invalid context',
    r'unreferenced object', r'kmemleak: \d+ new suspected memory leak',
    r'Bad page state', r'Kernel panic', r'Call Trace:',
    r'BUG [\w.-]+ \(.*\): ',           # SLUB debug object reports
]
SPLAT_RE = re.compile('|'.join(SPLATS))
ANSI_RE = re.compile(r'\x1b\[[0-9;?]*[A-Za-z]|\x1bc')
CONTEXT_BEFORE, CONTEXT_AFTER = 10, 30
MAX_SHOWN = 5


def read_lines(path):
    try:
        with open(path, 'rb') as f:
            data = f.read().decode('utf-8', 'replace')
    except FileNotFoundError:
        return []
    data = ANSI_RE.sub('', data).replace('\r', '')
    return data.split('\n')


class Run:
    def __init__(self):
        self.passed = self.failed = self.skipped = 0
        self.problems = []

    def problem(self, msg):
        self.problems.append(msg)


def parse_channel(lines):
    """Split the results channel into events and sections."""
    ch = {'start': None, 'done': False, 'loaded': False, 'insmod_fail': [],
          'rmmod_fail': [], 'errors': [], 'kunit_modules': [],
          'suites': [], 'ksft': [], 'kmemleak': None}
    section = None
    buf = []
    for line in lines:
        if section:
            if line.startswith(section[0]):
                if section[1] == 'ktap':
                    ch['suites'].append((section[2], section[3], buf))
                elif section[1] == 'ksft':
                    m = re.search(r'rc=(\d+)', line)
                    rc = int(m.group(1)) if m else None
                    ch['ksft'].append((section[2], buf, rc))
                elif section[1] == 'kmemleak':
                    ch['kmemleak'] = buf
                section, buf = None, []
            else:
                buf.append(line)
            continue
        w = line.split()
        if not w:
            continue
        tag = w[0]
        if tag == 'SA-START':
            ch['start'] = ' '.join(w[1:])
        elif tag == 'SA-DONE':
            ch['done'] = True
        elif tag == 'SA-LOADED':
            ch['loaded'] = True
        elif tag == 'SA-INSMOD-FAIL':
            ch['insmod_fail'].append(w[1])
        elif tag == 'SA-RMMOD-FAIL':
            ch['rmmod_fail'].append(w[1])
        elif tag == 'SA-ERROR':
            ch['errors'].append(' '.join(w[1:]))
        elif tag == 'SA-KUNIT-MODULE':
            ch['kunit_modules'].append(w[1])
        elif tag == 'SA-KTAP-BEGIN' and len(w) >= 3:
            section = ('SA-KTAP-END', 'ktap', w[1], w[2])
        elif tag == 'SA-KSFT-BEGIN' and len(w) >= 2:
            section = ('SA-KSFT-END', 'ksft', w[1])
        elif tag == 'SA-KMEMLEAK-BEGIN':
            section = ('SA-KMEMLEAK-END', 'kmemleak')
    if section:     # cut off in the middle: the guest died or hung
        if section[1] == 'ksft':
            ch['ksft'].append((section[2], buf, None))
        elif section[1] == 'ktap':
            ch['suites'].append((section[2], section[3], buf + ['<cut off>']))
    return ch


TOP_RESULT = re.compile(r'^(not ok|ok) 1\b(.*)$')


def combine_ktap(suites):
    """One KTAP document from per-suite debugfs documents."""
    out = ['KTAP version 1', '1..%d' % len(suites)]
    for i, (_mod, _suite, lines) in enumerate(suites, 1):
        body = [l for l in lines if l.strip()]
        # Drop the document header "KTAP version 1" / "1..1".
        while body and re.match(r'^(KTAP version \d+|TAP version \d+|1\.\.1)$',
                                body[0]):
            body.pop(0)
        for l in body:
            if l.startswith('# Totals:'):    # per-suite, misleading here
                continue
            m = TOP_RESULT.match(l)
            if m:
                l = '%s %d%s' % (m.group(1), i, m.group(2))
            out.append(l)
    return '\n'.join(out) + '\n'


SUMMARY_RE = re.compile(r'Testing complete\. Ran (\d+) tests?(?:: (.*))?$')


def judge_kunit(run, ch, args):
    expected = [m for m in args.expect_kunit.split(',') if m]
    with_results = {mod for mod, _s, _l in ch['suites']}
    for mod in expected:
        if mod in ch['insmod_fail']:
            run.problem('KUnit module %s: insmod failed' % mod)
        elif mod not in ch['kunit_modules']:
            run.problem('KUnit module %s: never loaded' % mod)
        elif mod not in with_results:
            run.problem('KUnit module %s: no results in debugfs' % mod)
    if not ch['suites']:
        return
    ktap = os.path.join(args.out, 'kunit.ktap')
    with open(ktap, 'w') as f:
        f.write(combine_ktap(ch['suites']))
    print('--- KUnit (%s)' % ktap)
    for l in kunit_parse(run, ktap, args.src,
                         os.path.join(args.out, 'kunit-parse.txt')):
        print(l)


def kunit_parse(run, ktap, src, parsed):
    """Parse the file KTAP (KTAP, or a kernel log holding it) with the kernel
    source SRC's tools/testing/kunit/kunit.py into the file PARSED; count its
    leaf test cases into RUN. Returns kunit.py's output lines."""
    kunit_py = os.path.join(src, 'tools/testing/kunit/kunit.py')
    try:
        p = subprocess.run([sys.executable, kunit_py, 'parse', ktap],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           text=True, timeout=120, check=False)
    except (OSError, subprocess.SubprocessError) as e:
        run.problem('kunit.py parse could not run: %s' % e)
        return []
    with open(parsed, 'w') as f:
        f.write(p.stdout)
    lines = [ANSI_RE.sub('', l) for l in p.stdout.splitlines()]
    summary = None
    for l in lines:
        m = SUMMARY_RE.search(l)
        if m:
            summary = m
    if not summary:
        run.problem('kunit.py parse printed no summary (exit %d)'
                    % p.returncode)
        return lines
    counts = dict(passed=0, failed=0, crashed=0, skipped=0, errors=0)
    for part in (summary.group(2) or '').split(','):
        if ':' in part:
            k, v = part.split(':')
            counts[k.strip()] = int(v)
    run.passed += counts['passed']
    run.failed += counts['failed'] + counts['crashed']
    run.skipped += counts['skipped']
    if counts['crashed']:
        run.problem('KUnit: %d test cases crashed' % counts['crashed'])
    if counts['errors']:
        run.problem('KUnit: kunit.py found %d errors in the KTAP'
                    % counts['errors'])
    if counts['failed']:
        run.problem('KUnit: %d test cases failed' % counts['failed'])
    if p.returncode != 0 and not (counts['failed'] or counts['crashed']
                                  or counts['errors']):
        run.problem('kunit.py parse exited %d' % p.returncode)
    return lines


TAP_RESULT = re.compile(r'^(not ok|ok)\b(.*)$')
TAP_PLAN = re.compile(r'^1\.\.(\d+)')


def judge_ksft(run, ch, args):
    expected = [p for p in args.expect_ksft.split(',') if p]
    seen = {prog for prog, _l, _rc in ch['ksft']}
    for prog in expected:
        if prog not in seen:
            run.problem('kselftest %s: never ran' % prog)
    if ch['ksft']:
        print('--- kselftests')
    for prog, lines, rc in ch['ksft']:
        p = f = s = 0
        plan = None
        for l in lines:
            m = TAP_RESULT.match(l)
            if m:
                directive = m.group(2).partition('#')[2].strip().upper()
                if directive.startswith('SKIP'):
                    s += 1
                elif m.group(1) == 'ok' or directive.startswith('TODO'):
                    p += 1
                else:
                    f += 1
                continue
            m = TAP_PLAN.match(l)
            if m and plan is None:
                plan = int(m.group(1))
        if rc is None:
            f += 1
            run.problem('kselftest %s: did not finish' % prog)
        elif p + f + s == 0:
            if rc == 0:
                p = 1
            elif rc == 4:
                s = 1
            else:
                f = 1
        elif rc not in (0, 4) and f == 0:
            f += 1
            run.problem('kselftest %s: exit status %d' % (prog, rc))
        if plan is not None and p + f + s < plan:
            run.problem('kselftest %s: planned %d, reported %d'
                        % (prog, plan, p + f + s))
            f += plan - (p + f + s)
        if f:
            run.problem('kselftest %s: %d failed' % (prog, f))
            for l in lines[-40:]:
                print('    ' + l)
        print('%s: %d passed, %d failed, %d skipped (exit %s)'
              % (prog, p, f, s, rc))
        run.passed += p
        run.failed += f
        run.skipped += s


EXPECT_RE = re.compile(r'spanalloc-expect: (begin|end) (\S+)')
# The only splat lines a window of each kind may hold: a WARNING or a lockdep
# report inside a KASAN window is still a failure.
EXPECT_ALLOW = {
    'kasan': re.compile(r'BUG: KASAN: |Call Trace:'),
    'kmemleak': re.compile(r'kmemleak: \d+ new suspected memory leak'),
}


def expected_windows(lines):
    """Line ranges a test marked as holding reports it provoked on purpose.

    A test that makes a sanitizer report for real (KASAN, kmemleak), and
    checks each report itself, prints "spanalloc-expect: begin TAG" before
    and "spanalloc-expect: end TAG" after. Only a closed window counts: a
    test that died in the middle leaves its reports reported.
    """
    windows, open_ = [], {}
    for i, l in enumerate(lines):
        m = EXPECT_RE.search(l)
        if not m:
            continue
        if m.group(1) == 'begin':
            open_[m.group(2)] = i
        elif m.group(2) in open_:
            windows.append((open_.pop(m.group(2)), i, m.group(2)))
    return windows


def scan_console(run, lines, path):
    windows = expected_windows(lines)
    hits, expected = [], {}
    for i, l in enumerate(lines):
        if not SPLAT_RE.search(l) or l.startswith('spanalloc-init:'):
            continue
        w = next((w for w in windows if w[0] < i < w[1] and w[2] in EXPECT_ALLOW
                  and EXPECT_ALLOW[w[2]].search(l)), None)
        if w:
            expected[w] = expected.get(w, 0) + 1
        else:
            hits.append(i)
    for (lo, hi, tag), n in sorted(expected.items()):
        print('--- expected: %d splat lines between "spanalloc-expect" lines %d-%d '
              '(%s), checked by the test that provoked them'
              % (n, lo + 1, hi + 1, tag))
    if not hits:
        return
    # Merge the hits into regions of context.
    regions = []
    for i in hits:
        lo, hi = max(0, i - CONTEXT_BEFORE), min(len(lines), i + CONTEXT_AFTER)
        if regions and lo <= regions[-1][1]:
            regions[-1][1] = hi
            regions[-1][2].append(i)
        else:
            regions.append([lo, hi, [i]])
    run.problem('console: %d splat lines in %d reports (%s)'
                % (len(hits), len(regions), path))
    for n, (lo, hi, idx) in enumerate(regions):
        if n == MAX_SHOWN:
            print('--- %d more reports: see %s' % (len(regions) - n, path))
            break
        print('--- console splat, %s lines %d-%d: %s'
              % (os.path.basename(path), lo + 1, hi,
                 lines[idx[0]].strip()))
        for l in lines[lo:hi]:
            print('    ' + l)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--console', required=True)
    ap.add_argument('--results', required=True)
    ap.add_argument('--src', required=True, help='kernel source tree')
    ap.add_argument('--out', required=True)
    ap.add_argument('--expect-kunit', default='')
    ap.add_argument('--expect-ksft', default='')
    ap.add_argument('--timed-out', type=int, default=0)
    args = ap.parse_args()

    run = Run()
    console = read_lines(args.console)
    ch = parse_channel(read_lines(args.results))

    if args.timed_out:
        run.problem('hung: the VM was killed after %d s' % args.timed_out)
    if ch['start'] is None:
        run.problem('the guest /init never started')
    if not ch['loaded']:
        run.problem('spanalloc.ko did not load')
    for mod in ch['rmmod_fail']:
        run.problem('rmmod %s failed' % mod)
    for err in ch['errors']:
        run.problem('guest: %s' % err)

    judge_kunit(run, ch, args)
    judge_ksft(run, ch, args)

    if ch['kmemleak'] is None:
        if ch['done']:
            run.problem('kmemleak report missing')
    elif any('unreferenced object' in l for l in ch['kmemleak']):
        run.problem('kmemleak: leaks reported')
    scan_console(run, console, args.console)

    if not ch['done']:
        run.problem('no done marker on the results channel: '
                    'the guest crashed, hung or stopped early')
    elif not any('spanalloc-init: all done' in l for l in console):
        run.problem('no done marker on the console: log cut short')
    if run.passed + run.failed + run.skipped == 0:
        run.problem('no tests found')

    for p in run.problems:
        print('FAIL: ' + p)
    line = '%d passed, %d failed' % (run.passed, run.failed)
    if run.skipped:
        line += ', %d skipped' % run.skipped
    print(line)
    return 1 if run.problems or run.failed else 0


if __name__ == '__main__':
    sys.exit(main())
