#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Memory goes back, and nothing live is lost on the way:
#  - drop_caches (the shrinker) under a live set frees the idle part and
#    keeps every live object intact (the example client checks its patterns);
#  - a CPU taken offline and back online during a workload loses nothing;
#  - with the retention floor at 0, a full scavenge after everything is freed
#    leaves no page held.

. "$(dirname "$0")/lib.sh"

N=${SPANALLOC_WORKLOAD:-2000}
PARAMS=/sys/module/spanalloc/parameters

require example
ktap_plan 9

cleanup() {
	[ -n "${floor0:-}" ] && echo "$floor0" >"$PARAMS/retain_floor_chunks"
	[ -n "${cpu:-}" ] && echo 1 >"/sys/devices/system/cpu/cpu$cpu/online" 2>/dev/null
	unload_module spanalloc_example
	if [ "${loaded_spanalloc:-}" = 1 ]; then
		unload_module spanalloc
	fi
}

no_errors() {	# DESC
	t_eq "$1" "$(errors_of pattern_mismatches) $(errors_of alloc_failures)" "0 0"
}

if load_module spanalloc && load_module spanalloc_example && [ -d "$EX" ]; then
	t_pass "spanalloc and spanalloc_example loaded"
else
	t_fail "spanalloc and spanalloc_example loaded"
	skip_rest "modules did not load"
fi

# --- drop_caches under a live set ---
echo "$N" >"$EX/run"
echo 1 >"$EX/free"			# leaves idle spans behind in the heap
echo "$N" >"$EX/run"			# the live set
snapshot
free0=$(stat_of pages_free)
held0=$(stat_of pages_held)
shrunk0=$(stat_of shrinker_pages)
diag "live: $(held_of objects) objects; pages_held $held0, pages_free $free0"
echo 2 >/proc/sys/vm/drop_caches
snapshot
diag "after drop_caches: pages_held $(stat_of pages_held), pages_free $(stat_of pages_free)," \
	"shrinker_pages $(stat_of shrinker_pages)"
# The shrinker gives the free pages back, then schedules a drain of the
# per-CPU caches, whose batched frees may free more spans meanwhile: count
# what left, not what is free now.
if [ "$free0" -gt 0 ] && [ "$(stat_of pages_held)" -lt "$held0" ] &&
   [ "$(stat_of shrinker_pages)" -gt "$shrunk0" ]; then
	t_pass "drop_caches gave idle pages back ($held0 -> $(stat_of pages_held) held)"
else
	t_fail "drop_caches gave idle pages back" \
		"pages_held $held0 -> $(stat_of pages_held), shrinker_pages $shrunk0 -> $(stat_of shrinker_pages)"
fi
echo 1 >"$EX/free"
no_errors "every live object intact after drop_caches"

# --- CPU offline and online during a workload ---
cpu=$(($(nproc) - 1))
if [ "$cpu" -lt 1 ] || [ ! -w "/sys/devices/system/cpu/cpu$cpu/online" ]; then
	cpu=
	t_skip "CPU offline and online during a workload" "needs 2 CPUs and CPU hotplug"
	t_skip "no object lost across hotplug" "needs 2 CPUs and CPU hotplug"
else
	echo "$N" >"$EX/run" &
	wl=$!
	toggles=0
	for i in 1 2 3; do
		echo 0 >"/sys/devices/system/cpu/cpu$cpu/online" && toggles=$((toggles + 1))
		sleep 0.5
		echo 1 >"/sys/devices/system/cpu/cpu$cpu/online"
		sleep 0.5
	done
	wait "$wl"
	t_eq "CPU $cpu went offline and online $toggles times during a workload" "$toggles" 3
	echo 1 >"$EX/free"
	no_errors "no object lost across hotplug"
	cpu=
fi
snapshot
t_eq "objects_in_use == allocs - frees" "$(stat_of objects_in_use)" \
	"$(($(stat_of allocs) - $(stat_of frees)))"

# --- back to nothing with the floor at 0 ---
floor0=$(cat "$PARAMS/retain_floor_chunks")
echo 0 >"$PARAMS/retain_floor_chunks"
echo 1 >"$SA/scavenge"
snapshot
diag "after a full scavenge: objects_in_use $(stat_of objects_in_use)," \
	"pages_held $(stat_of pages_held), pages_returned $(stat_of pages_returned)"
t_eq "nothing in use" "$(stat_of objects_in_use)" 0
t_eq "floor 0, full scavenge: no page held" "$(stat_of pages_held)" 0
no_errors "the example client saw no error"
finish
