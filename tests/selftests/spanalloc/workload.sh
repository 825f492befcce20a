#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# The example client's workload moves spanalloc's numbers as it should: on a
# quiet system, objects_in_use grows by what the client holds, allocs and
# frees by what it allocated and freed, its cache "example_obj" shows its
# objects; after "free" everything is back where it was, with no pattern
# mismatch and no allocation failure.

. "$(dirname "$0")/lib.sh"

N=${SPANALLOC_WORKLOAD:-2000}

require example
ktap_plan 10

cleanup() {
	unload_module spanalloc_example
	if [ "${loaded_spanalloc:-}" = 1 ]; then
		unload_module spanalloc
	fi
}

if load_module spanalloc && load_module spanalloc_example && [ -d "$EX" ]; then
	t_pass "spanalloc and spanalloc_example loaded"
else
	t_fail "spanalloc and spanalloc_example loaded"
	skip_rest "modules did not load"
fi

snapshot
in_use0=$(stat_of objects_in_use)
allocs0=$(stat_of allocs)
frees0=$(stat_of frees)
large0=$(stat_of large_objects)
errors0=$(stat_of errors)
held0=$(held_of objects)
allocated0=$(held_of allocated)
freed0=$(held_of freed)
diag "before: objects_in_use $in_use0, allocs $allocs0, frees $frees0; the client holds $held0"

t0=$(date +%s)
if echo "$N" >"$EX/run"; then
	t_pass "echo $N > run ($(nproc) CPUs, $(($(date +%s) - t0)) s)"
else
	t_fail "echo $N > run"
	skip_rest "the workload failed"
fi

snapshot
held=$(held_of objects)
allocated=$(($(held_of allocated) - allocated0))
freed=$(($(held_of freed) - freed0))
diag "the client holds $held objects, $(held_of bytes_requested) bytes requested;" \
	"it allocated $allocated, freed $freed ($(held_of remote_frees) from another CPU in all)"
diag "objects_in_use $(stat_of objects_in_use), allocs $(stat_of allocs), frees $(stat_of frees)"

t_eq "objects_in_use grew by what the client holds" \
	"$(($(stat_of objects_in_use) - in_use0))" "$((held - held0))"
problems=
[ "$(($(stat_of allocs) - allocs0))" = "$allocated" ] ||
	problems="allocs grew by $(($(stat_of allocs) - allocs0)), the client allocated $allocated"
[ "$(($(stat_of frees) - frees0))" = "$freed" ] ||
	problems="${problems:+$problems
}frees grew by $(($(stat_of frees) - frees0)), the client freed $freed"
[ "$allocated" -ge "$(($(nproc) * N))" ] ||
	problems="${problems:+$problems
}the client allocated $allocated, want $(nproc) x $N"
t_result "allocs and frees grew by what the client allocated and freed" "$problems"
t_eq "large_objects grew by the client's large objects" \
	"$(($(stat_of large_objects) - large0))" "$(held_of large_objects)"

row=$(echo "$s_caches" | awk '$1 == "example_obj"')
inuse=$(column "$s_caches" example_obj inuse)
problems=
if [ -z "$row" ]; then
	problems="no example_obj row in caches"
else
	diag "caches: $row"
	[ "$(column "$s_caches" example_obj size)" = 192 ] ||
		problems="example_obj size $(column "$s_caches" example_obj size), want 192"
	[ "$(column "$s_caches" example_obj ctor)" = yes ] ||
		problems="${problems:+$problems
}example_obj ctor $(column "$s_caches" example_obj ctor), want yes"
	# Its own geometry: 192 B objects, 21 on a one-page span (64 B of
	# tail); with spanalloc's debug=1, each slot also holds 32 B of debug
	# metadata: 224 B, 18 a page.
	want_geom="192 1 21"
	[ "$(cat /sys/module/spanalloc/parameters/debug 2>/dev/null)" = Y ] &&
		want_geom="224 1 18"
	geom="$(column "$s_caches" example_obj objsize) $(column "$s_caches" example_obj pages)"
	geom="$geom $(column "$s_caches" example_obj objs)"
	[ "$geom" = "$want_geom" ] ||
		problems="${problems:+$problems
}example_obj objsize, pages, objs: $geom, want $want_geom"
	[ "$inuse" -gt 0 ] && [ "$inuse" = "$(held_of cache_objects)" ] ||
		problems="${problems:+$problems
}example_obj inuse $inuse, want the client's $(held_of cache_objects) (> 0)"
fi
t_result "caches: example_obj (192 B, ctor, its geometry) has the client's objects in use" "$problems"

if echo 1 >"$EX/free"; then
	t_eq "echo 1 > free: the client holds nothing" "$(held_of objects)" 0
else
	t_fail "echo 1 > free: the client holds nothing" "the write failed"
fi

snapshot
diag "after free: objects_in_use $(stat_of objects_in_use), allocs $(stat_of allocs), frees $(stat_of frees)"
problems=
[ "$(stat_of objects_in_use)" = "$((in_use0 - held0))" ] ||
	problems="objects_in_use $(stat_of objects_in_use), want $((in_use0 - held0))"
[ "$(column "$s_caches" example_obj inuse)" = 0 ] ||
	problems="${problems:+$problems
}example_obj inuse $(column "$s_caches" example_obj inuse), want 0"
t_result "objects_in_use back to where it was, example_obj empty" "$problems"

mis=$(errors_of pattern_mismatches)
fail=$(errors_of alloc_failures)
problems=
[ "$mis" = 0 ] || problems="pattern_mismatches: $mis"
[ "$fail" = 0 ] || problems="${problems:+$problems
}alloc_failures: $fail"
[ "$(stat_of errors)" = "$errors0" ] || problems="${problems:+$problems
}spanalloc's errors went from $errors0 to $(stat_of errors)"
t_result "no pattern mismatch, no allocation failure, no spanalloc error" "$problems"

if unload_module spanalloc_example; then
	snapshot
	if echo "$s_caches" | grep -q '^example_obj '; then
		t_fail "rmmod spanalloc_example destroys example_obj" "$s_caches"
	else
		t_pass "rmmod spanalloc_example destroys example_obj"
	fi
else
	t_fail "rmmod spanalloc_example destroys example_obj" "rmmod failed"
fi

finish
