# SPDX-License-Identifier: GPL-2.0
"""Exact instruction traces of one hot allocate+free pair (make fastpath).

Two roles. Inside gdb (scripts/fastpath-trace.sh runs it with gdb -x), it
connects to QEMU's gdbstub, stops at the bench module's sab_fastpath_run()
and single-steps it to its return, writing every instruction executed to
FP_TRACE. Outside gdb, with the trace, the guest's /proc/kallsyms and the
modules' .text addresses, it cuts the trace at sab_fastpath_run()'s nop
markers (one pair of each API: spanalloc cache, spanalloc size, kmem_cache,
kmalloc; then a bulk pair of 16 objects of each cache API) and prints, per pair, the instructions executed by function, and
with -v every instruction.
"""
import bisect
import collections
import os
import re
import subprocess
import sys

APIS = ["spanalloc_cache_alloc + spanalloc_cache_free",
        "spanalloc_alloc + spanalloc_free",
        "kmem_cache_alloc + kmem_cache_free",
        "kmalloc + kfree",
        "spanalloc_cache_alloc_bulk + spanalloc_cache_free_bulk (16 objects)",
        "kmem_cache_alloc_bulk + kmem_cache_free_bulk (16 objects)"]


def step():
    import gdb  # noqa: F401 (only inside gdb)
    start = int(os.environ["FP_START"], 16)
    gdb.execute("set pagination off")
    gdb.execute("target remote :%s" % os.environ.get("FP_PORT", "1234"))
    gdb.execute("hbreak *0x%x" % start)
    gdb.execute("continue")
    ret = int(gdb.parse_and_eval("*(unsigned long *)$rsp")) & (2**64 - 1)
    with open(os.environ["FP_TRACE"], "w") as out:
        for _ in range(100000):
            pc = int(gdb.parse_and_eval("$pc")) & (2**64 - 1)
            if pc == ret:
                break
            out.write(gdb.execute("x/i $pc", to_string=True).strip() + "\n")
            gdb.execute("stepi", to_string=True)
    gdb.execute("delete")
    gdb.execute("detach")


def report(trace, kallsyms, mods, verbose):
    syms = []
    with open(kallsyms, errors="replace") as f:
        for line in f:
            p = line.split()
            if len(p) >= 3 and p[1] in "tTwW":
                syms.append((int(p[0], 16), p[2]))
    for spec in mods:              # path.ko=0xTEXT
        ko, base = spec.split("=")
        nm = subprocess.run(["nm", ko], capture_output=True, text=True, check=True)
        for line in nm.stdout.splitlines():
            p = line.split()
            if len(p) == 3 and p[1] in "tT":
                syms.append((int(base, 16) + int(p[0], 16), p[2]))
    syms.sort()
    addrs = [a for a, _ in syms]

    def name(a):
        i = bisect.bisect_right(addrs, a) - 1
        return syms[i][1] if i >= 0 else "?"

    segs, nops = [[]], 0
    with open(trace) as f:
        for line in f:
            m = re.match(r"=>\s*(0x[0-9a-f]+)(?:\s*<[^>]*>)?:\s*(.*)", line.strip())
            if not m:
                continue
            fn, ins = name(int(m.group(1), 16)), m.group(2).strip()
            if fn == "sab_fastpath_run" and ins.startswith("nop"):
                nops += 1
                if nops == 3:
                    segs.append([])
                    nops = 0
                continue
            nops = 0
            segs[-1].append((fn, ins))
    if len(segs) < len(APIS) + 1:
        sys.exit("fastpath-trace: %d pairs in the trace, want %d" % (len(segs) - 1, len(APIS)))
    print("| pair | instructions | by function |")
    print("|---|---:|---|")
    for api, seg in zip(APIS, segs):
        c = collections.Counter(fn for fn, _ in seg)
        by = ", ".join("%s %d" % (fn, n) for fn, n in c.most_common())
        print("| %s | %d | %s |" % (api, len(seg), by))
    if verbose:
        for api, seg in zip(APIS, segs):
            print("\n### %s: %d instructions\n" % (api, len(seg)))
            print("```")
            for fn, ins in seg:
                print("%-28s %s" % (fn, ins))
            print("```")


if __name__ == "__main__":
    try:
        import gdb  # noqa: F401
        step()
    except ImportError:
        args = [a for a in sys.argv[1:] if a != "-v"]
        report(args[0], args[1], args[2:], "-v" in sys.argv)
