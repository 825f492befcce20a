#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# `make check`: zero findings required from checkpatch --strict, sparse, a W=1
# build, kernel-doc -Wall, and the size-class table check. Each check prints
# "check: NAME ok" or its findings; one that cannot run fails. Exit status 0
# only when every check is clean.
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"
jobs=${JOBS:-2}
out=$here/.test-out/check

"$here/scripts/deps.sh"
KBUILD=$("$here/scripts/kernel.sh")
SRC=$(readlink -f "$KBUILD/source")
rm -rf "$out"
mkdir -p "$out"

failed=()
ok() { echo "check: $1 ok"; }
bad() {	# bad NAME FINDINGS-FILE|- MESSAGE
	echo "check: $1 FAILED${3:+: $3}"
	if [ "$2" != - ]; then
		head -n 60 "$2" | sed 's/^/    /'
		n=$(wc -l <"$2")
		[ "$n" -le 60 ] || echo "    ... $((n - 60)) more lines in $2"
	fi
	failed+=("$1")
}

# The repo's files that git tracks or would track (and that exist).
mapfile -t files < <(git ls-files -co --exclude-standard | sort -u |
	while IFS= read -r f; do [ -f "$f" ] && echo "$f"; done)
cfiles=()
for f in "${files[@]}"; do
	case "$f" in *.mod.c) ;; *.c|*.h) cfiles+=("$f") ;; esac
done

# 1. checkpatch --strict on every .c and .h.
if [ ${#cfiles[@]} -eq 0 ]; then
	bad checkpatch - "no .c or .h files found"
else
	rc=0
	"$SRC/scripts/checkpatch.pl" --strict --no-tree --terse --no-summary \
		--show-types -f "${cfiles[@]}" >"$out/checkpatch.txt" 2>&1 || rc=$?
	if [ "$rc" = 0 ] && [ ! -s "$out/checkpatch.txt" ]; then
		ok "checkpatch (${#cfiles[@]} files)"
	else
		bad checkpatch "$out/checkpatch.txt" "exit $rc"
	fi
fi

# 2 and 3 (W=1, sparse) build a clean copy of the tree, so that every file is compiled
# and the developer's own objects are left alone.
copy=$out/tree
mkdir -p "$copy"
printf '%s\0' "${files[@]}" | tar -cf - --null -T - | tar -C "$copy" -xf -

# 2. W=1: compile everything once with extra warnings; any warning fails.
rc=0
make -C "$KBUILD" M="$copy" W=1 -j"$jobs" modules >"$out/w1.log" 2>&1 || rc=$?
if [ "$rc" != 0 ]; then
	bad W=1 "$out/w1.log" "the build failed (exit $rc)"
elif grep -i 'warning:' "$out/w1.log" >"$out/w1.txt"; then
	bad W=1 "$out/w1.txt"
else
	ok W=1
fi

# 3. sparse: C=2 checks every source, compiled or not.
if ! command -v sparse >/dev/null; then
	bad sparse - "sparse is not installed"
else
	rc=0
	make -C "$KBUILD" M="$copy" W=1 C=2 -j"$jobs" modules >"$out/sparse.log" 2>&1 || rc=$?
	if [ "$rc" != 0 ]; then
		bad sparse "$out/sparse.log" "the build failed (exit $rc)"
	elif ! grep -q '^  CHECK ' "$out/sparse.log"; then
		bad sparse "$out/sparse.log" "sparse did not run"
	elif grep -E '(warning|error):' "$out/sparse.log" >"$out/sparse.txt"; then
		bad sparse "$out/sparse.txt"
	else
		ok "sparse ($(grep -c '^  CHECK ' "$out/sparse.log") files)"
	fi
fi

# 4. kernel-doc -Wall on the public header and every .c that exports.
docfiles=()
[ -f include/spanalloc.h ] && docfiles+=(include/spanalloc.h)
for f in "${cfiles[@]}"; do
	case "$f" in *.c) grep -q 'EXPORT_SYMBOL' "$f" && docfiles+=("$f") ;; esac
done
if [ ! -f include/spanalloc.h ]; then
	bad kernel-doc - "include/spanalloc.h is missing"
else
	rc=0
	"$SRC/scripts/kernel-doc" -Wall -none "${docfiles[@]}" >"$out/kernel-doc.txt" 2>&1 || rc=$?
	if [ "$rc" = 0 ] && [ ! -s "$out/kernel-doc.txt" ]; then
		ok "kernel-doc (${docfiles[*]})"
	else
		bad kernel-doc "$out/kernel-doc.txt" "exit $rc"
	fi
fi

# 5. The committed size-class table equals the generator's output.
if [ ! -f scripts/mksizeclasses.py ] || [ ! -f sizeclass.c ]; then
	bad sizeclasses - "scripts/mksizeclasses.py or sizeclass.c is missing"
else
	rc=0
	python3 scripts/mksizeclasses.py --check sizeclass.c >"$out/sizeclasses.txt" 2>&1 || rc=$?
	if [ "$rc" = 0 ]; then
		ok sizeclasses
	else
		bad sizeclasses "$out/sizeclasses.txt" "exit $rc"
	fi
fi

echo "check: logs in $out"
if [ ${#failed[@]} -gt 0 ]; then
	echo "check: ${#failed[@]} failed: ${failed[*]}"
	exit 1
fi
echo "check: all clean"
