#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# The benchmark module's own correctness checks, without the timing: every
# scenario of `make bench` runs once on spanalloc and on SLUB and every object
# is checked (spanalloc_bench.ko mode=verify; its load fails on a mismatch).

. "$(dirname "$0")/lib.sh"

require spanalloc
have_module spanalloc_bench || skip_all "spanalloc_bench.ko not found (SPANALLOC_MODDIR=$SPANALLOC_MODDIR)"
ktap_plan 2

cleanup() {
	unload_module spanalloc_bench
	if [ "${loaded_spanalloc:-}" = 1 ]; then
		unload_module spanalloc
	fi
}

if load_module spanalloc; then
	t_pass "spanalloc loaded"
else
	t_fail "spanalloc loaded"
	skip_rest "spanalloc did not load"
fi
ko=$(find_ko spanalloc_bench)
if insmod "$ko" mode=verify; then
	t_pass "spanalloc_bench mode=verify: every object checked, no failure"
else
	t_fail "spanalloc_bench mode=verify" "$(dmesg | grep 'sabench' | tail -5)"
fi
finish
