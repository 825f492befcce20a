#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Generate sizeclass.c, the small-object size-class table of spanalloc.

Model: the Go runtime's src/internal/runtime/gc/mksizeclasses.go (formerly
src/runtime/mksizeclasses.go) and its output sizeclasses.go.

Two steps:

1. Reproduce Go's size classes with Go's own algorithm (makeClasses), on
   Go's 8 KiB page, and insist that the result is exactly Go's 67 sizes.
2. Keep those sizes, and re-derive the span geometry for our 4 KiB kernel
   pages with Go's rule: a span is the smallest number of pages whose tail
   (span bytes mod object size) is at most 1/8 of the span.

Then check everything that the C side relies on and write the C table.

Usage:
    mksizeclasses.py                 write sizeclass.c to stdout
    mksizeclasses.py PATH            write it to PATH
    mksizeclasses.py --check PATH    exit 1, showing a diff, if PATH differs
                                     from what would be generated

Python 3 standard library only.
"""

import argparse
import difflib
import os
import sys

# Go's constants (mksizeclasses.go).
MIN_HEAP_ALIGN = 8
MAX_SMALL_SIZE = 32 << 10
SMALL_SIZE_DIV = 8
SMALL_SIZE_MAX = 1024
LARGE_SIZE_DIV = 128
GO_PAGE_SHIFT = 13
GO_PAGE_SIZE = 1 << GO_PAGE_SHIFT

# Ours: x86_64 kernel pages.
PAGE_SHIFT = 12
PAGE_SIZE = 1 << PAGE_SHIFT

NUM_CLASSES = 68
MAX_NELEMS = 512        # SA_MAX_NELEMS in sizeclass.h
MAX_SPAN_PAGES = 8      # SA_MAX_SPAN_PAGES in sizeclass.h

# Go's sizeclasses.go, SizeClassToSize[1:]: the truth we must reproduce.
GO_SIZES = [
    8, 16, 24, 32, 48, 64, 80, 96, 112, 128, 144, 160, 176, 192, 208, 224,
    240, 256, 288, 320, 352, 384, 416, 448, 480, 512, 576, 640, 704, 768,
    896, 1024, 1152, 1280, 1408, 1536, 1792, 2048, 2304, 2688, 3072, 3200,
    3456, 4096, 4864, 5376, 6144, 6528, 6784, 6912, 8192, 9472, 9728, 10240,
    10880, 12288, 13568, 14336, 16384, 18432, 19072, 20480, 21760, 24576,
    27264, 28672, 32768,
]

# Go's sizeclasses.go, SizeClassToNPages[1:] (8 KiB pages), for the
# cross-check of step 1.
GO_NPAGES = [
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 1, 2, 1, 2, 1, 3, 2, 3, 1, 3, 2, 3, 4,
    5, 6, 1, 7, 6, 5, 4, 3, 5, 7, 2, 9, 7, 5, 8, 3, 10, 7, 4,
]


class GenError(Exception):
    pass


def fail(msg):
    raise GenError(msg)


def power_of_two(x):
    return x != 0 and x & (x - 1) == 0


def span_pages(size, page_size):
    """Go's rule: fewest pages whose tail waste is at most 1/8 of the span."""
    allocsize = page_size
    while allocsize % size > allocsize // 8:
        allocsize += page_size
    return allocsize // page_size


def go_make_classes():
    """Go's makeClasses(), on Go's 8 KiB page: list of (size, npages)."""
    classes = [(0, 0)]  # class 0 is a dummy entry
    align = MIN_HEAP_ALIGN
    size = align
    while size <= MAX_SMALL_SIZE:
        if power_of_two(size):  # bump alignment once in a while
            if size >= 2048:
                align = 256
            elif size >= 128:
                align = size // 8
            elif size >= 32:
                align = 16
        if not power_of_two(align):
            fail("incorrect alignment")

        npages = span_pages(size, GO_PAGE_SIZE)
        allocsize = npages * GO_PAGE_SIZE

        # Same span and same object count as the previous class: widen
        # that class instead of adding a new one.
        if len(classes) > 1:
            psize, pnpages = classes[-1]
            if npages == pnpages and allocsize // size == allocsize // psize:
                classes[-1] = (size, pnpages)
                size += align
                continue
        classes.append((size, npages))
        size += align

    # Grow each size as far as the same object count per span allows,
    # keeping largeSizeDiv alignment.
    for i in range(1, len(classes)):
        csize, cnpages = classes[i]
        psize = cnpages * GO_PAGE_SIZE
        new_size = (psize // (psize // csize)) & ~(LARGE_SIZE_DIV - 1)
        if new_size > csize:
            classes[i] = (new_size, cnpages)

    if len(classes) != NUM_CLASSES:
        fail("number of size classes has changed: %d" % len(classes))
    return classes


def div_mul(size):
    """Go's SizeClassToDivMagic: ^uint32(0)/size + 1."""
    return (2**32 - 1) // size + 1


def check_div_magic(size, npages, page_size):
    """Go's computeDivMagic(): Lemire et al.'s bound, then brute force."""
    maxoff = npages * page_size
    n_bits = maxoff.bit_length()
    if power_of_two(size):
        f_bits = size.bit_length() - 1
    else:
        lbits = 0
        while size > (1 << (n_bits + lbits)) % size + (1 << lbits):
            lbits += 1
        f_bits = n_bits + lbits
    if f_bits > 32:
        fail("size %d needs %d > 32 bits of precision" % (size, f_bits))

    # The exact computation the allocator does, for every offset in the
    # span and the one just past its end (Go checks n <= max, too).
    m = div_mul(size)
    if m >= 2**32:
        fail("div_mul for size %d does not fit in u32" % size)
    for off in range(maxoff + 1):
        if (off * m) >> 32 != off // size:
            fail("bad 32-bit multiply magic: size=%d off=%d m=%d"
                 % (size, off, m))


def make_classes():
    """Go's sizes with our 4 KiB span geometry, fully checked."""
    go = go_make_classes()
    sizes = [s for s, _ in go[1:]]
    if sizes != GO_SIZES:
        fail("Go's algorithm no longer gives Go's sizes:\n  got  %s\n  want %s"
             % (sizes, GO_SIZES))
    if [n for _, n in go[1:]] != GO_NPAGES:
        fail("Go's algorithm no longer gives Go's page counts")
    for size, npages in go[1:]:
        check_div_magic(size, npages, GO_PAGE_SIZE)

    classes = [dict(size=0, npages=0, nelems=0, div_mul=0)]
    for size in sizes:
        npages = span_pages(size, PAGE_SIZE)
        classes.append(dict(size=size, npages=npages,
                            nelems=npages * PAGE_SIZE // size,
                            div_mul=div_mul(size)))
    check_classes(classes)
    return classes


def smallest_class(classes, size):
    for i, c in enumerate(classes):
        if i and c["size"] >= size:
            return i
    fail("no class holds %d bytes" % size)


def lookup_tables(classes):
    """sa_size_to_class8 and sa_size_to_class128, as in Go's printClasses.

    Go maps index 0 (size 0) to class 0; we map it to class 1 so that a
    size of 0, which callers never pass, still yields a real class.
    """
    t8 = [smallest_class(classes, max(i * SMALL_SIZE_DIV, 1))
          for i in range(SMALL_SIZE_MAX // SMALL_SIZE_DIV + 1)]
    t128 = [smallest_class(classes, SMALL_SIZE_MAX + i * LARGE_SIZE_DIV)
            for i in range((MAX_SMALL_SIZE - SMALL_SIZE_MAX)
                           // LARGE_SIZE_DIV + 1)]
    return t8, t128


def size_to_class(t8, t128, size):
    """The C lookup, sa_size_to_class() in sizeclass.h."""
    if size <= SMALL_SIZE_MAX:
        return t8[(size + SMALL_SIZE_DIV - 1) // SMALL_SIZE_DIV]
    return t128[(size - SMALL_SIZE_MAX + LARGE_SIZE_DIV - 1)
                // LARGE_SIZE_DIV]


def check_classes(classes):
    if len(classes) != NUM_CLASSES:
        fail("%d classes, want %d" % (len(classes), NUM_CLASSES))
    if any(classes[0].values()):
        fail("class 0 must be all zero")
    prev = 0
    for i, c in enumerate(classes[1:], 1):
        size, npages, nelems = c["size"], c["npages"], c["nelems"]
        span = npages * PAGE_SIZE
        if size % MIN_HEAP_ALIGN:
            fail("class %d: size %d not a multiple of 8" % (i, size))
        if size <= prev:
            fail("class %d: size %d not above %d" % (i, size, prev))
        prev = size
        if nelems != span // size or nelems < 1:
            fail("class %d: bad nelems %d" % (i, nelems))
        if (span % size) * 8 > span:
            fail("class %d: tail waste %d over 1/8 of %d"
                 % (i, span % size, span))
        if npages > 1 and ((span - PAGE_SIZE) % size) * 8 <= span - PAGE_SIZE:
            fail("class %d: %d pages is not the fewest" % (i, npages))
        if nelems > 0xffff or npages > 0xffff or c["div_mul"] >= 2**32:
            fail("class %d: field overflow" % i)
        check_div_magic(size, npages, PAGE_SIZE)
    if classes[-1]["size"] != MAX_SMALL_SIZE:
        fail("largest class is not %d" % MAX_SMALL_SIZE)
    most_elems = max(c["nelems"] for c in classes)
    most_pages = max(c["npages"] for c in classes)
    if most_elems != MAX_NELEMS:
        fail("max objects per span %d, sizeclass.h says %d"
             % (most_elems, MAX_NELEMS))
    if most_pages != MAX_SPAN_PAGES:
        fail("max pages per span %d, sizeclass.h says %d"
             % (most_pages, MAX_SPAN_PAGES))

    t8, t128 = lookup_tables(classes)
    if t8[0] != 1:
        fail("size 0 must map to class 1")
    for size in range(1, MAX_SMALL_SIZE + 1):
        got = size_to_class(t8, t128, size)
        want = smallest_class(classes, size)
        if got != want:
            fail("size %d maps to class %d, want %d" % (size, got, want))
    if max(t8 + t128) >= 256:
        fail("lookup entry does not fit in u8")


def align_bits(size):
    """Go's min align column: trailing zeros, capped at the page."""
    return min((size & -size).bit_length() - 1, PAGE_SHIFT)


def comment_table(classes):
    """Go's printComment(), for our 4 KiB pages."""
    out = [" * %-5s  %-9s  %-10s  %-7s  %-10s  %-9s  %-9s"
           % ("class", "bytes/obj", "bytes/span", "objects", "tail waste",
              "max waste", "min align")]
    prev = 0
    min_aligns = [0] * (PAGE_SHIFT + 1)
    for i, c in enumerate(classes[1:], 1):
        size = c["size"]
        span = c["npages"] * PAGE_SIZE
        objects = span // size
        tail = span - size * objects
        max_waste = ((size - prev - 1) * objects + tail) / span
        abits = align_bits(size)
        for b in range(len(min_aligns)):
            if b > abits:
                min_aligns[b] = 0
            elif min_aligns[b] == 0:
                min_aligns[b] = size
        prev = size
        out.append(" * %5d  %9d  %10d  %7d  %10d  %8.2f%%  %9d"
                   % (i, size, span, objects, tail, 100 * max_waste,
                      1 << abits))
    out.append(" *")
    out.append(" * %-9s  %-4s  %-12s" % ("alignment", "bits", "min obj size"))
    for b, size in enumerate(min_aligns):
        if size == 0:
            break
        if b + 1 < len(min_aligns) and size == min_aligns[b + 1]:
            continue
        out.append(" * %9d  %4d  %12d" % (1 << b, b, size))
    return out


def c_array(values, base, step, per_row):
    """Rows of per_row entries, each led by its first entry's largest size."""
    out = []
    for r in range(0, len(values), per_row):
        row = values[r:r + per_row]
        out.append("\t/* %5d */ %s,"
                   % (base + r * step, ", ".join("%2d" % v for v in row)))
    return out


HEADER = """\
// SPDX-License-Identifier: GPL-2.0
/*
 * Code generated by scripts/mksizeclasses.py; DO NOT EDIT.
 * To regenerate, run scripts/mksizeclasses.py with this file's path;
 * "make check" runs it with --check to catch a stale copy.
 *
 * Small-object size classes, on the design of the Go runtime's
 * (src/internal/runtime/gc/mksizeclasses.go and sizeclasses.go).
 *
 * Policy.  The object sizes are Go's own 67, produced by Go's algorithm on
 * Go's 8 KiB page: sizes are multiples of 8 up to 32 KiB, spaced so that
 * rounding a request up to its class wastes at most 12.5%, with neighbours
 * that would give the same span geometry merged, and each size then grown
 * to the largest multiple of 128 that still fits as many objects per span.
 * The spans are re-derived for 4 KiB kernel pages with Go's rule: a class's
 * span is the fewest pages whose tail (span bytes mod object size) is at
 * most 1/8 of the span, so chopping a span into objects wastes at most
 * 12.5% as well.  Class 0 is not a small class: it stands for "large",
 * whole spans, and is all zero.
 *
 * div_mul turns the division of a byte offset by the object size into a
 * multiply and a shift: (off * div_mul) >> 32 == off / size, with
 * div_mul = U32_MAX / size + 1; the generator checks this for every offset
 * in the span by brute force, as Go's does.
 *
 * Columns, as Go computes them: tail waste is the span's leftover bytes;
 * max waste is the worst case over requests that land in the class,
 * (bytes the rounding up can waste per object * objects + tail) / span;
 * min align is the largest power of two dividing the size, capped at the
 * page size.
 *
"""


def generate():
    classes = make_classes()
    t8, t128 = lookup_tables(classes)
    most_elems = max(c["nelems"] for c in classes)
    most_pages = max(c["npages"] for c in classes)

    lines = HEADER.rstrip("\n").split("\n")
    lines += comment_table(classes)
    lines += [
        " */",
        "",
        "#include <linux/build_bug.h>",
        "#include <linux/export.h>",
        "#include <linux/types.h>",
        "#include <asm/page.h>",
        "",
        '#include "sizeclass.h"',
        "",
        "/* The geometry below is for 4 KiB pages, the limits for this table. */",
        'static_assert(PAGE_SIZE == %d, "this table is generated for %d-byte pages");'
        % (PAGE_SIZE, PAGE_SIZE),
        "static_assert(SA_NUM_CLASSES == %d);" % len(classes),
        "static_assert(SA_MAX_SMALL == %d);" % MAX_SMALL_SIZE,
        "static_assert(SA_SMALL_SIZE_DIV == %d);" % SMALL_SIZE_DIV,
        "static_assert(SA_SMALL_SIZE_MAX == %d);" % SMALL_SIZE_MAX,
        "static_assert(SA_LARGE_SIZE_DIV == %d);" % LARGE_SIZE_DIV,
        "static_assert(SA_MAX_NELEMS == %d);" % most_elems,
        "static_assert(SA_MAX_SPAN_PAGES == %d);" % most_pages,
        "",
        "/*",
        " * The arrays take their sizes from the declarations in sizeclass.h,",
        " * whose constants the static_asserts above pin; an entry too many draws",
        " * an \"excess elements\" warning, and the generator checks the counts.",
        " */",
        "const struct sa_class sa_classes[] = {",
    ]
    w = len(str(MAX_SMALL_SIZE))
    for i, c in enumerate(classes):
        lines.append(
            "\t[%d]%s = { .size = %*d, .npages = %d, .nelems = %3d, "
            ".div_mul = 0x%08x },"
            % (i, " " * (i < 10), w, c["size"], c["npages"], c["nelems"],
               c["div_mul"]))
    lines += [
        "};",
        "EXPORT_SYMBOL_NS_GPL(sa_classes, SPANALLOC_INTERNAL);",
        "",
        "/*",
        " * Class by index (size + 7) / 8, for sizes 0 to 1024.  Entry i serves",
        " * sizes up to i * 8; a row's label is that bound for its first entry.",
        " */",
        "const u8 sa_size_to_class8[] = {",
    ]
    lines += c_array(t8, 0, SMALL_SIZE_DIV, 16)
    lines += [
        "};",
        "EXPORT_SYMBOL_NS_GPL(sa_size_to_class8, SPANALLOC_INTERNAL);",
        "",
        "/*",
        " * Class by index (size - 1024 + 127) / 128, for sizes 1025 to 32768.",
        " * Entry i serves sizes up to 1024 + i * 128; labels as above.",
        " */",
        "const u8 sa_size_to_class128[] = {",
    ]
    lines += c_array(t128, SMALL_SIZE_MAX, LARGE_SIZE_DIV, 16)
    lines += ["};", "EXPORT_SYMBOL_NS_GPL(sa_size_to_class128, SPANALLOC_INTERNAL);"]
    text = "\n".join(lines) + "\n"
    for n, line in enumerate(text.split("\n"), 1):
        if len(line.expandtabs(8)) > 100:
            fail("generated line %d is over 100 columns" % n)
    return text


def main(argv):
    ap = argparse.ArgumentParser(
        description="Generate spanalloc's sizeclass.c (Go's size classes "
                    "on 4 KiB pages).")
    ap.add_argument("--check", action="store_true",
                    help="compare PATH with the generated text; exit 1 "
                         "with a diff if they differ")
    ap.add_argument("path", nargs="?",
                    help="output file (default: stdout)")
    args = ap.parse_args(argv)

    try:
        text = generate()
    except GenError as e:
        sys.stderr.write("mksizeclasses.py: FAILED: %s\n" % e)
        return 1

    if args.check:
        if not args.path:
            ap.error("--check needs the path of the committed file")
        try:
            with open(args.path, encoding="utf-8") as f:
                old = f.read()
        except OSError as e:
            sys.stderr.write("mksizeclasses.py: %s\n" % e)
            return 1
        if old != text:
            sys.stdout.writelines(difflib.unified_diff(
                old.splitlines(True), text.splitlines(True),
                args.path, args.path + " (generated)"))
            sys.stderr.write("mksizeclasses.py: %s is stale; run "
                             "python3 scripts/mksizeclasses.py %s\n"
                             % (args.path, args.path))
            return 1
        return 0

    if args.path:
        tmp = args.path + ".tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, args.path)
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
