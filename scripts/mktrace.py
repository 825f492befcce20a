#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Convert a slab replay trace (shared/traces/*.trace.gz) to the compact
binary form that tests/bench/spanalloc_bench.c replays in the guest.

The text format is described in shared/traces/README.md:
    a <id> <cpu> <bytes_req> <bytes_alloc> <gfp_flags_hex> <kind>
    f <id> <cpu>

Binary format (little-endian), read by sab_trace_load():
    header, 32 bytes: magic "SABTRC01", u32 header size (32), u32 nr_kinds,
        u32 nr_events, u32 nr_ids, u32 kind record size (48),
        u32 event record size (12)
    kinds, 48 bytes each: u32 object size, u32 allocations, char name[40]
        (NUL-terminated); kind 0 is "kmalloc" (size 0: the size is per event)
    events, 12 bytes each: u32 id, u32 size, u16 kind, u8 op (1 alloc,
        2 free), u8 cpu; a free carries the kind and size of its allocation

A named cache is one kind per (name, bytes_req): a name seen with several
object sizes (the boot trace's "cache" and "signal_cache") becomes
"name:size" kinds. The gfp flags are dropped: the replay allocates with
GFP_KERNEL. Usage: mktrace.py IN.trace.gz OUT.sabt
"""
import gzip
import struct
import sys

MAGIC = b"SABTRC01"
HDR = struct.Struct("<8sIIIIII")
KIND = struct.Struct("<II40s")
EV = struct.Struct("<IIHBB")
OP_ALLOC, OP_FREE = 1, 2


def slub_kmalloc_bucket(size):
    """SLUB's kmalloc slot for a request (x86_64, 4 KiB pages), or 0."""
    if size > 8192:
        return 0
    for b in (8, 16, 32, 64, 96, 128, 192, 256, 512, 1024, 2048, 4096, 8192):
        if size <= b:
            return b
    return 0


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: mktrace.py IN.trace.gz OUT.sabt")
    src, dst = sys.argv[1], sys.argv[2]
    kinds = {}              # (name, size) -> index; 0 is kmalloc
    kind_allocs = [0]
    obj_kind = []           # per id
    obj_size = []
    live = set()
    events = []             # (id, size, kind, op, cpu)
    header = []
    bucket_mismatch = 0
    with gzip.open(src, "rt") as f:
        for lineno, line in enumerate(f, 1):
            if line.startswith("#"):
                header.append(line.strip())
                continue
            w = line.split()
            if not w:
                continue
            if w[0] == "a":
                oid, cpu, req, got, kind = int(w[1]), int(w[2]), int(w[3]), int(w[4]), w[6]
                if oid != len(obj_kind):
                    sys.exit(f"{src}:{lineno}: id {oid} out of sequence")
                if kind == "kmalloc":
                    k = 0
                    b = slub_kmalloc_bucket(req)
                    if b and b != got:
                        bucket_mismatch += 1
                else:
                    k = kinds.setdefault((kind, req), len(kinds) + 1)
                    if k == len(kind_allocs):
                        kind_allocs.append(0)
                kind_allocs[k] += 1
                obj_kind.append(k)
                obj_size.append(req)
                live.add(oid)
                events.append((oid, req, k, OP_ALLOC, cpu))
            elif w[0] == "f":
                oid, cpu = int(w[1]), int(w[2])
                if oid not in live:
                    sys.exit(f"{src}:{lineno}: free of id {oid}, which is not live")
                live.remove(oid)
                events.append((oid, obj_size[oid], obj_kind[oid], OP_FREE, cpu))
            else:
                sys.exit(f"{src}:{lineno}: unknown event {w[0]!r}")
    if len(kinds) + 1 > 65535:
        sys.exit(f"{src}: too many kinds")

    # Names: "name", or "name:size" where one name has several sizes.
    by_name = {}
    for name, size in kinds:
        by_name[name] = by_name.get(name, 0) + 1
    table = [(b"kmalloc", 0, kind_allocs[0])]
    for (name, size), k in sorted(kinds.items(), key=lambda kv: kv[1]):
        label = name if by_name[name] == 1 else f"{name}:{size}"
        table.append((label.encode()[:39], size, kind_allocs[k]))

    out = bytearray()
    out += HDR.pack(MAGIC, HDR.size, len(table), len(events), len(obj_kind),
                    KIND.size, EV.size)
    for name, size, n in table:
        out += KIND.pack(size, n, name)
    pack = EV.pack
    out += b"".join(pack(*e) for e in events)
    with open(dst, "wb") as f:
        f.write(out)
    allocs = len(obj_kind)
    km = kind_allocs[0]
    print(f"mktrace: {src}: {len(events)} events ({allocs} allocs, "
          f"{len(events) - allocs} frees, {len(live)} live at end), "
          f"{len(table) - 1} caches, {km} kmalloc allocs "
          f"({bucket_mismatch} not in SLUB's kmalloc slot) -> {dst} "
          f"({len(out) >> 10} KiB)", file=sys.stderr)


if __name__ == "__main__":
    main()
