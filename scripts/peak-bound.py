#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""The fewest pages spanalloc's span geometry could hold at a trace's peak.

For bench scenario 6 (BENCHMARKS.md): replays a trace (shared/traces/*.gz)
with perfect packing, the best any allocator with spanalloc's geometry can
do: at every event, each pool (a size class of the size API, or a named
cache's own geometry, as sa_cache_geometry() computes it) holds exactly
ceil(live objects / objects per span) spans, and a large object its pages.
No partly used span, no per-CPU span, no free page in the heap. Prints the
peak pages of the whole trace and of its kmalloc part, without and with
span descriptors (--desc bytes each, sizeof(struct sa_span) rounded up by
its slab cache), and the pages of the fewest whole chunks that hold those
spans at the peak: the page heap takes its pages from the page allocator in
1 MiB chunks (SA_CHUNK_PAGES), and only a huge object (more than a chunk)
has pages of its own.

Usage: scripts/peak-bound.py [--desc 256] TRACE.gz...
"""
import argparse
import gzip
import re

PAGE = 4096
MAX_SPAN_PAGES = 8
CHUNK_PAGES = 256
MAX_NELEMS = 512
CACHE_MIN_OBJS = 4


def classes(path):
    """(size, npages, nelems) of each Go class, from sizeclass.c's comment."""
    out = []
    with open(path) as f:
        for line in f:
            m = re.match(r"\s*\*\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s+\d+\s+[\d.]+%", line)
            if m:
                out.append((int(m.group(2)), int(m.group(3)) // PAGE, int(m.group(4))))
    return out


def cache_geometry(size):
    """span.c's sa_cache_geometry(): (size, npages, nelems)."""
    size = (size + 7) // 8 * 8
    want = min(CACHE_MIN_OBJS, MAX_SPAN_PAGES * PAGE // size)
    for frac in (16, 8):
        for np in range(1, MAX_SPAN_PAGES + 1):
            n = np * PAGE // size
            if want <= n <= MAX_NELEMS and np * PAGE - n * size <= np * PAGE // frac:
                return size, np, n
    best = None
    for np in range(1, MAX_SPAN_PAGES + 1):
        n = np * PAGE // size
        tail = np * PAGE - n * size
        if 0 < n <= MAX_NELEMS and (best is None or tail * best[1] < best[0] * np):
            best = (tail, np, n)
    return size, best[1], best[2]


def bound(path, cls, kmalloc_only, desc):
    geom, live, count = {}, {}, {}
    pages = spans = peak = peak_desc = huge = peak_chunked = 0
    with gzip.open(path, "rt") as f:
        for line in f:
            if line[0] not in "af":
                continue
            p = line.split()
            if p[0] == "a":
                kind, req, slot = p[6], int(p[3]), int(p[4])
                if kmalloc_only and kind != "kmalloc":
                    continue
                size = req if kind == "kmalloc" else slot
                if size > 32768:
                    live[p[1]] = (None, -(-size // PAGE))
                    pages += live[p[1]][1]
                    if live[p[1]][1] > CHUNK_PAGES:
                        huge += live[p[1]][1]
                else:
                    key = ("kmalloc", size) if kind == "kmalloc" else (kind, size)
                    if key not in geom:
                        geom[key] = (next(c for c in cls if c[0] >= size)
                                     if kind == "kmalloc" else cache_geometry(size))
                    pool = ("kmalloc", geom[key][0]) if kind == "kmalloc" else key
                    geom[pool] = geom[key]
                    live[p[1]] = (pool, 0)
                    n = count.get(pool, 0)
                    g = geom[pool]
                    ds = -(-(n + 1) // g[2]) - -(-n // g[2])
                    spans += ds
                    pages += ds * g[1]
                    count[pool] = n + 1
            elif p[1] in live:
                pool, np = live.pop(p[1])
                if pool is None:
                    pages -= np
                    if np > CHUNK_PAGES:
                        huge -= np
                else:
                    n = count[pool]
                    g = geom[pool]
                    ds = -(-(n - 1) // g[2]) - -(-n // g[2])
                    spans += ds
                    pages += ds * g[1]
                    count[pool] = n - 1
            peak = max(peak, pages)
            peak_desc = max(peak_desc, pages + spans * desc / PAGE)
            chunks = -(-(pages - huge) // CHUNK_PAGES)
            peak_chunked = max(peak_chunked, chunks * CHUNK_PAGES + huge)
    return peak, peak_desc, peak_chunked


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--desc", type=int, default=256, help="bytes per span descriptor")
    ap.add_argument("--classes", default="sizeclass.c")
    ap.add_argument("traces", nargs="+")
    a = ap.parse_args()
    cls = classes(a.classes)
    print("| trace | part | peak pages, perfect packing | with span descriptors (%d B) "
          "| in whole 1 MiB chunks, descriptors not counted |" % a.desc)
    print("|---|---|---:|---:|---:|")
    for t in a.traces:
        name = re.sub(r"\.trace\.gz$", "", t.split("/")[-1])
        for km in (False, True):
            pk, pkd, pkc = bound(t, cls, km, a.desc)
            print("| %s | %s | %d | %.0f | %d |"
                  % (name, "kmalloc part" if km else "whole", pk, pkd, pkc))


if __name__ == "__main__":
    main()
