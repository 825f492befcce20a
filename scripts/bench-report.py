#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""The benchmark table of `make bench` (scripts/bench.sh).

Reads the "sabench: row ..." lines of tests/bench/spanalloc_bench.c from the
consoles of the benchmark VMs, prints the table, writes it to --table, puts
it (with the run's facts, the method checks and the fast paths' static
instruction counts) between the markers of --markdown (BENCHMARKS.md), and
draws the ratios with gnuplot into --chart.

Usage: bench-report.py [options] MODE=CONSOLE...   (MODE: icount or wall)
Exit status 1 when the module's checks failed or a console has no table.
"""
import argparse
import collections
import datetime
import os
import re
import subprocess
import sys
import tempfile

ROW = re.compile(r"sabench: row (\S+) (\S+) (\d+) (\S+) (\S+) (.*)$")
NOTE = re.compile(r"sabench: (note \S+|start|checks|verify|FAIL)[: ](.*)$")
BEGIN = "<!-- bench-report:begin -->"
END = "<!-- bench-report:end -->"

# SLUB in this setup, from shared/docs/kernel-notes.md (icount, instructions).
NOTES_SLUB = [
    ("1", 64, "cache API", "234"), ("1", 256, "cache API", "267"),
    ("1", 16, "size API", "233"), ("1", 64, "size API", "236"),
    ("1", 256, "size API", "269"), ("1", 1024, "size API", "401"),
    ("1", 4096, "size API", "930"),
    ("2", 64, "1024 in random order, size API", "520"),
    ("2", 256, "1024 in random order, size API", "1149"),
    ("3", 64, "bulk alloc+free of 16 ", "149"), ("3", 64, "bulk alloc+free of 64 ", "138"),
]

FAST_PATHS = ["spanalloc_cache_alloc", "spanalloc_cache_free", "spanalloc_alloc",
              "spanalloc_free"]


def target(scen, unit, label):
    """The lead's target for a row, as (text, test on (sa, slub, ratio))."""
    if scen == "1":
        t = 0.6 if "cache API" in label else 0.7
        return f"<={t:.2f}", lambda sa, sl, r: r is not None and r <= t
    if scen == "2":
        return "<=0.70", lambda sa, sl, r: r is not None and r <= 0.7
    if scen == "3":
        if unit == "x":
            return "spanalloc <=0.50", lambda sa, sl, r: sa is not None and sa <= 0.5
        return "<=1.00", lambda sa, sl, r: r is not None and r <= 1.0
    if scen in ("4", "5") and unit == "ns" and "one CPU alone" not in label:
        return "<=1.00", lambda sa, sl, r: r is not None and r <= 1.0
    if scen == "6":
        if unit == "instr":
            return "<=0.80", lambda sa, sl, r: r is not None and r <= 0.8
        if "peak" in label:
            t = 0.85 if "kmalloc part" in label else 1.0
            return f"<={t:.2f}", lambda sa, sl, r: r is not None and r <= t
    if scen == "7":
        if unit == "B/B":
            return "<=0.85", lambda sa, sl, r: r is not None and r <= 0.85
        if "scavenge" in label:
            return "retention floor", None
    return "", None


def num(s):
    return None if s == "-" else float(s)


def parse(consoles):
    rows, notes, facts, failed, missing = [], [], [], False, []
    for spec in consoles:
        mode, _, path = spec.partition("=")
        seen = False
        with open(path, errors="replace") as f:
            for line in f:
                m = ROW.search(line)
                if m:
                    scen, unit, size, sa, sl, label = m.groups()
                    rows.append(dict(mode=mode, scen=scen, unit=unit, size=int(size),
                                     sa=num(sa), sl=num(sl), label=label.strip()))
                    seen = True
                    continue
                m = NOTE.search(line)
                if m:
                    kind, text = m.group(1), m.group(2).strip()
                    if kind.startswith("note"):
                        notes.append(f"{mode}, scenario {kind[5:].rstrip(':')}: {text}")
                    elif kind == "start":
                        facts.append(f"{mode}: {text}")
                    elif kind == "verify":
                        facts.append(f"{mode} checks: {text}")
                        if not text.startswith("ok"):
                            failed = True
                    elif kind == "FAIL":
                        failed = True
                        notes.append(f"{mode}: FAIL {text}")
        if not seen:
            missing.append(mode)
    return rows, notes, facts, failed, missing


def fmt(v):
    if v is None:
        return "-"
    return f"{v:.0f}" if v >= 1000 else f"{v:.2f}" if v < 10 else f"{v:.1f}"


def table(rows):
    out = ["| # | scenario | size | mode | unit | spanalloc | SLUB | ratio | target |",
           "|---|---|---:|---|---|---:|---:|---:|---|"]
    for r in rows:
        sa, sl = r["sa"], r["sl"]
        ratio = sa / sl if sa is not None and sl else None
        r["ratio"] = ratio
        text, test = target(r["scen"], r["unit"], r["label"])
        if test:
            text += " (met)" if test(sa, sl, ratio) else " (not met)"
        size = f"{r['size']} B" if r["size"] else "mixed"
        out.append(f"| {r['scen']} | {r['label']} | {size} | {r['mode']} | {r['unit']} | "
                   f"{fmt(sa)} | {fmt(sl)} | {fmt(ratio) if ratio is not None else '-'} | "
                   f"{text} |")
    return "\n".join(out)


def validation(rows):
    out = []
    for scen, size, key, want in NOTES_SLUB:
        for r in rows:
            if r["scen"] == scen and r["size"] == size and r["unit"] == "instr" and \
                    key in r["label"] and r["sl"] is not None:
                out.append(f"| {scen} | {size} B | {r['label']} | {want} | {r['sl']:.0f} |")
                break
    if not out:
        return ""
    return "\n".join(["| # | size | measurement | kernel-notes.md | measured now |",
                      "|---|---:|---|---:|---:|"] + out)


def fast_paths(dis):
    """Static instruction counts of the exported fast paths and sa_free()."""
    if not dis or not os.path.exists(dis):
        return ""
    funcs, cur = collections.defaultdict(list), None
    head = re.compile(r"^[0-9a-f]+ <([^>]+)>:$")
    insn = re.compile(r"^\s+[0-9a-f]+:\s+(\S+)\s*(.*)$")
    reloc = re.compile(r"^\s+[0-9a-f]+: R_X86_64_\w+\s+([\w.]+)")
    with open(dis) as f:
        for line in f:
            m = head.match(line)
            if m:
                cur = m.group(1)
                continue
            m = reloc.match(line)
            if m and cur and funcs[cur]:
                funcs[cur][-1][2] = m.group(1)
                continue
            m = insn.match(line)
            if m and cur and not re.match(r"(nop|data16|cs|xchg|int3)", m.group(1)):
                tgt = re.search(r"<([\w.]+)", m.group(2))
                funcs[cur].append([m.group(1), m.group(2), tgt.group(1) if tgt else None])
    out = ["| function | instructions | calls and tail calls | most frequent |",
           "|---|---:|---|---|"]
    for name in FAST_PATHS + ["sa_free"]:
        body = funcs.get(name, []) + funcs.get(name + ".cold", [])
        if not body:
            continue
        ops = collections.Counter(op for op, _, _ in body)
        calls = []
        for op, _, tgt in body:
            if (op.startswith("call") or op.startswith("jmp")) and tgt and \
                    tgt != name and not tgt.startswith(name + "+") and tgt not in calls and \
                    tgt not in ("__fentry__", "__x86_return_thunk"):
                calls.append(tgt)
        out.append(f"| {name} | {len(body)} | {', '.join(calls) or '-'} | "
                   f"{', '.join(f'{op} {n}' for op, n in ops.most_common(6))} |")
    return "\n".join(out) if len(out) > 2 else ""


def short(r):
    lab = r["label"]
    if r["scen"] == "1":
        api = "cache" if "cache API" in lab else "size"
        return f"1 pair {api} {r['size']}"
    if r["scen"] == "2":
        m = re.search(r"allocate (\d+) .* in (\w+) order, (\w+) API", lab)
        order = "seq" if m and m.group(2) == "allocation" else "rand"
        return f"2 {m.group(3)} {r['size']} N={m.group(1)} {order}" if m else "2"
    if r["scen"] == "3":
        m = re.search(r"of (\d+)", lab)
        return f"3 bulk {m.group(1) if m else ''}"
    if r["scen"] in ("4", "5"):
        api = "cache" if "cache API" in lab else "size"
        what = "" if r["scen"] == "4" else ("all " if lab.startswith("all") else "one ")
        return f"{r['scen']} {what}{api} {r['size']}"
    if r["scen"] == "6":
        trace = lab.split()[0]
        part = "kmalloc" if "kmalloc part" in lab else "whole"
        kind = "time" if r["unit"] == "instr" else "peak" if "peak" in lab else "end"
        return f"6 {trace} {part} {kind}"
    if r["scen"] == "7":
        m = re.search(r"(\d+-\d+) B", lab)
        kind = "B/B" if r["unit"] == "B/B" else "scav" if "scavenge" in lab else "freed"
        return f"7 {m.group(1) if m else ''} {kind}"
    return f"{r['scen']} {lab[:20]}"


def chart(rows, path, title):
    pts = [r for r in rows if r.get("ratio") and r["unit"] != "x"]
    if not pts:
        return False
    with tempfile.TemporaryDirectory() as d:
        data = os.path.join(d, "data")
        with open(data, "w") as f:
            for i, r in enumerate(reversed(pts)):
                x = r["ratio"]
                f.write(f"{i}\t{x:.4f}\t{min(x, 1.0):.4f}\t{max(x, 1.0):.4f}\t"
                        f"{0x2e8b57 if x <= 1.0 else 0xcd3333}\t{short(r)}\n")
        height = 120 + 17 * len(pts)
        script = f"""
set terminal pngcairo size 900,{height} font "sans,9"
set output "{path}"
set datafile separator "\\t"
set title "{title}"
set logscale x
set xrange [0.05:50]
set yrange [-1:{len(pts)}]
set xtics (0.1, 0.2, 0.5, 1, 2, 5, 10, 20)
set xlabel "spanalloc / SLUB (under 1: spanalloc better)"
set grid xtics
unset key
set arrow from 1, graph 0 to 1, graph 1 nohead lw 2 lc rgb "black"
plot "{data}" using 2:1:3:4:($1-0.4):($1+0.4):5:ytic(6) with boxxyerror \\
     fill solid 0.8 lc rgb variable
"""
        try:
            subprocess.run(["gnuplot"], input=script, text=True, check=True)
        except (OSError, subprocess.CalledProcessError) as e:
            print(f"bench-report: gnuplot failed: {e}", file=sys.stderr)
            return False
    return True


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--kernel", default="?")
    ap.add_argument("--qemu", default="?")
    ap.add_argument("--wall-cpus", default="2")
    ap.add_argument("--runs", default="60")
    ap.add_argument("--wall-runs", default="7")
    ap.add_argument("--disassembly")
    ap.add_argument("--table")
    ap.add_argument("--markdown")
    ap.add_argument("--chart")
    ap.add_argument("--fact", action="append", default=[],
                    help="a line for the run facts (repeatable)")
    ap.add_argument("consoles", nargs="+")
    a = ap.parse_args()

    rows, notes, facts, failed, missing = parse(a.consoles)
    rows.sort(key=lambda r: r["scen"])     # stable: each scenario in its order
    tab = table(rows)
    date = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    modes = {c.partition("=")[0] for c in a.consoles}
    qemu_modes = []
    if "icount" in modes:
        qemu_modes.append("icount: `-accel tcg -icount shift=0 -smp 1` (1 guest ns = 1 "
                          f"instruction; minimum of {a.runs} runs)")
    if "wall" in modes:
        qemu_modes.append(f"wall: `-accel tcg,thread=multi -smp {a.wall_cpus}` (wall-clock "
                          f"ns, median of {a.wall_runs} runs; TCG distorts these costs: "
                          "compare ratios, not absolute times)")
    head = [f"Run {date}: kernel {a.kernel} (Debian's stock image, `console=ttyS0 "
            f"panic=-1`, Debian's defaults otherwise: init_on_alloc on), {a.qemu}.", ""]
    head += [f"- {m}" for m in qemu_modes] + [""]
    body = head + [tab, ""]
    body += ["Run facts:", ""] + [f"- {x}" for x in facts + a.fact] + [""]
    if notes:
        body += ["Notes from the module:", ""] + [f"- {x}" for x in notes] + [""]
    val = validation(rows)
    if val:
        body += ["Method check: SLUB now against the figures in "
                 "shared/docs/kernel-notes.md (instructions, loop included):", "", val, ""]
    fp = fast_paths(a.disassembly)
    if fp:
        body += ["Static size of spanalloc's exported fast paths (`objdump -d spanalloc.ko`, "
                 f"built against {a.kernel}'s headers; whole function bodies, slow "
                 "branches included):", "", fp, ""]
    text = "\n".join(body)
    print(text)
    if a.table:
        with open(a.table, "w") as f:
            f.write(text + "\n")
    title = f"spanalloc / SLUB, {a.kernel}, QEMU {'+'.join(sorted(modes))}, {date[:10]}"
    have_chart = bool(a.chart) and chart(rows, a.chart, title)
    if a.markdown:
        md = open(a.markdown).read() if os.path.exists(a.markdown) else \
            f"# Benchmarks\n\n{BEGIN}\n{END}\n"
        if BEGIN not in md or END not in md:
            md += f"\n{BEGIN}\n{END}\n"
        pre, rest = md.split(BEGIN, 1)
        post = rest.split(END, 1)[1]
        img = f"\n![ratios]({os.path.basename(a.chart)})\n" if have_chart else ""
        md = f"{pre}{BEGIN}\n{text}{img}\n{END}{post}"
        with open(a.markdown, "w") as f:
            f.write(md)
    if missing:
        print(f"bench-report: no table rows in the {', '.join(missing)} console",
              file=sys.stderr)
    sys.exit(1 if failed or missing else 0)


if __name__ == "__main__":
    main()
