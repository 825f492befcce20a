#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# spanalloc gives its memory back: with spanalloc and the example client
# unloaded, the page allocator's free memory (MemFree plus the pages on its
# per-CPU lists, lib.sh's free_kib) is measured; both are loaded, a workload
# runs and is freed, both are unloaded, and free memory must be back within a
# tolerance of
#
#     2 MiB + 1% of the memory the workload took at its peak
#
# (module text and data, and kmemleak's and KASAN's bookkeeping move it by a
# little). Before each measurement the page cache and
# the slab caches are dropped (drop_caches, /sys/kernel/slab/*/shrink, which
# also empties KASAN's quarantine), and the largest of 3 readings half a second
# apart is taken. Modules loaded before the test are loaded again after it.
# Without debugfs it runs too, through the example client's parameters.

. "$(dirname "$0")/lib.sh"

N=${SPANALLOC_WORKLOAD:-1000}
TOL_KIB=2048		# plus 1% of the peak

require example nodebugfs
ktap_plan 6

had_spanalloc=
had_example=
is_loaded spanalloc && had_spanalloc=1
is_loaded spanalloc_example && had_example=1

cleanup() {
	if [ -n "$had_spanalloc" ]; then
		load_module spanalloc
	else
		unload_module spanalloc_example
		unload_module spanalloc
	fi
	if [ -n "$had_example" ]; then
		load_module spanalloc_example
	fi
}

settle() {
	sync
	echo 3 >/proc/sys/vm/drop_caches 2>/dev/null
	for f in /sys/kernel/slab/*/shrink; do
		[ -w "$f" ] && echo 1 >"$f" 2>/dev/null
	done
}

# The largest of 3 readings of MemFree (KiB), after settle.
measure() {
	settle
	best=0
	for _ in 1 2 3; do
		sleep 0.5
		v=$(free_kib)
		[ "$v" -gt "$best" ] && best=$v
	done
	echo "$best"
}

if unload_module spanalloc_example && unload_module spanalloc; then
	t_pass "spanalloc and spanalloc_example unloaded"
else
	t_fail "spanalloc and spanalloc_example unloaded" "rmmod failed (in use?)"
	skip_rest "cannot unload spanalloc"
fi

t0=$(date +%s)
before=$(measure)
diag "MemFree before loading: $before KiB (measured in $(($(date +%s) - t0)) s)"

if load_module spanalloc && load_module spanalloc_example && [ -d "$EX" ]; then
	t_pass "spanalloc and spanalloc_example loaded"
else
	t_fail "spanalloc and spanalloc_example loaded"
	skip_rest "modules did not load"
fi

if echo "$N" >"$EX/run"; then
	peak=$(free_kib)
	used=$((before - peak))
	diag "held: $(held_of objects) objects, $(held_of bytes_requested) bytes requested;" \
		"MemFree $peak KiB: the workload took $used KiB"
	if [ -n "$SA" ]; then
		snapshot
		diag "spanalloc pages_held $(stat_of pages_held) ($(($(stat_of pages_held) * 4)) KiB)"
	fi
	if [ "$used" -gt "$TOL_KIB" ]; then
		t_pass "echo $N > run took $used KiB"
	else
		t_fail "echo $N > run took $used KiB" "want more than $TOL_KIB KiB for the check to mean anything"
	fi
else
	used=0
	t_fail "echo $N > run"
fi

ok=1
echo 1 >"$EX/free" || ok=
[ "$(errors_of pattern_mismatches)" = 0 ] || ok=
[ "$(errors_of alloc_failures)" = 0 ] || ok=
if [ -n "$ok" ]; then
	t_pass "echo 1 > free, no errors"
else
	t_fail "echo 1 > free, no errors" "$(cat "$EX/errors")"
fi

if unload_module spanalloc_example && unload_module spanalloc; then
	t_pass "spanalloc and spanalloc_example unloaded again"
else
	t_fail "spanalloc and spanalloc_example unloaded again"
	skip_rest "cannot unload spanalloc"
fi

after=$(measure)
tol=$((TOL_KIB + used / 100))
diag "MemFree after unloading: $after KiB; before: $before KiB;" \
	"tolerance $TOL_KIB KiB + 1% of $used KiB = $tol KiB"
short=$((before - after))
if [ "$short" -le 0 ]; then
	t_pass "MemFree back within $tol KiB: $((-short)) KiB above where it was"
elif [ "$short" -le "$tol" ]; then
	t_pass "MemFree back within $tol KiB: $short KiB below where it was"
else
	t_fail "MemFree back within $tol KiB" "$short KiB below where it was"
fi

finish
