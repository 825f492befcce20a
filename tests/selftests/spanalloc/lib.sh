# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=sh disable=SC2034  # sets variables for the tests
# Shared by the spanalloc kselftests; sourced, never run. POSIX sh: the test
# VM has only busybox.
#
# Environment:
#   SPANALLOC_MODDIR  where spanalloc.ko and spanalloc_example.ko are
#                     (default /lib/spanalloc, the test VM's; a build tree
#                     works too: tests/example/spanalloc_example.ko is
#                     looked for under it). Without the .ko files, modprobe
#                     is tried.
#   DEBUGFS           debugfs mount point (default /sys/kernel/debug)

KSFT_PASS=0
KSFT_FAIL=1
KSFT_SKIP=4

SPANALLOC_MODDIR=${SPANALLOC_MODDIR:-/lib/spanalloc}
DEBUGFS=${DEBUGFS:-/sys/kernel/debug}
SA=$DEBUGFS/spanalloc
EX=$DEBUGFS/spanalloc_example

ktap_nr=0
ktap_fails=0
ktap_passes=0
ktap_skips=0
ktap_planned=0

# ---- TAP output ----

ktap_plan() {	# N
	ktap_planned=$1
	echo "TAP version 13"
	echo "1..$1"
}

diag() {
	echo "# $*"
}

t_pass() {	# DESC
	ktap_nr=$((ktap_nr + 1))
	ktap_passes=$((ktap_passes + 1))
	echo "ok $ktap_nr $1"
}

t_fail() {	# DESC [DIAGNOSTIC...]
	ktap_nr=$((ktap_nr + 1))
	ktap_fails=$((ktap_fails + 1))
	echo "not ok $ktap_nr $1"
	shift
	for l in "$@"; do
		diag "$l"
	done
}

t_skip() {	# DESC REASON
	ktap_nr=$((ktap_nr + 1))
	ktap_skips=$((ktap_skips + 1))
	echo "ok $ktap_nr $1 # SKIP $2"
}

# t_result DESC PROBLEMS: pass if PROBLEMS is empty, else fail and print
# each line of PROBLEMS as a diagnostic.
t_result() {
	if [ -z "$2" ]; then
		t_pass "$1"
	else
		ktap_nr=$((ktap_nr + 1))
		ktap_fails=$((ktap_fails + 1))
		echo "not ok $ktap_nr $1"
		echo "$2" | sed 's/^/# /'
	fi
}

# t_eq DESC GOT WANT
t_eq() {
	if [ "$2" = "$3" ]; then
		t_pass "$1"
	else
		t_fail "$1" "got '$2', want '$3'"
	fi
}

# Skip what is left of the plan with REASON, then finish.
skip_rest() {	# REASON
	while [ "$ktap_nr" -lt "$ktap_planned" ]; do
		t_skip "not run" "$1"
	done
	finish
}

# Skip every case: before anything was planned, "1..0 # SKIP".
skip_all() {	# REASON
	echo "TAP version 13"
	echo "1..0 # SKIP $1"
	exit $KSFT_SKIP
}

# Restore what the test changed (its own cleanup hook), print the totals and
# exit: 1 if anything failed, 4 if everything was skipped, else 0.
finish() {
	if command -v cleanup >/dev/null 2>&1; then
		cleanup
	fi
	if [ "$ktap_nr" -lt "$ktap_planned" ]; then
		diag "planned $ktap_planned, ran $ktap_nr"
		ktap_fails=$((ktap_fails + 1))
	fi
	echo "# Totals: pass:$ktap_passes fail:$ktap_fails xfail:0 xpass:0 skip:$ktap_skips error:0"
	if [ "$ktap_fails" -gt 0 ]; then
		exit $KSFT_FAIL
	fi
	if [ "$ktap_passes" = 0 ] && [ "$ktap_skips" -gt 0 ]; then
		exit $KSFT_SKIP
	fi
	exit $KSFT_PASS
}

# ---- modules and debugfs ----

is_loaded() {	# MODULE
	grep -q "^$1 " /proc/modules 2>/dev/null
}

# The .ko of MODULE under SPANALLOC_MODDIR, or nothing.
find_ko() {	# MODULE
	for f in "$SPANALLOC_MODDIR/$1.ko" "$SPANALLOC_MODDIR/tests/example/$1.ko"; do
		if [ -f "$f" ]; then
			echo "$f"
			return 0
		fi
	done
	return 1
}

# Load MODULE if it is not loaded; sets loaded_MODULE=1 when this call
# loaded it. Returns non-zero when it cannot be loaded.
load_module() {	# MODULE
	is_loaded "$1" && return 0
	ko=$(find_ko "$1")
	if [ -n "$ko" ]; then
		insmod "$ko" || return 1
	else
		modprobe "$1" 2>/dev/null || return 1
	fi
	eval "loaded_$1=1"
	return 0
}

unload_module() {	# MODULE
	is_loaded "$1" || return 0
	rmmod "$1"
}

have_module() {	# MODULE: loaded, or loadable
	is_loaded "$1" && return 0
	[ -n "$(find_ko "$1")" ] && return 0
	modprobe -n "$1" >/dev/null 2>&1
}

# Mount debugfs if it is not mounted; false when there is no debugfs.
need_debugfs() {
	if ! grep -q " $DEBUGFS debugfs " /proc/mounts 2>/dev/null; then
		mount -t debugfs debugfs "$DEBUGFS" 2>/dev/null || return 1
	fi
	return 0
}

# Common set-up: exit with KSFT_SKIP when spanalloc or debugfs is missing.
# require spanalloc, or require example (the example client too). With a
# second word "nodebugfs", a test that needs only the example client's files
# runs without debugfs too: SA is then empty, and EX the client's module
# parameters, which are the same files (run, free, held, errors).
require() {	# spanalloc|example [nodebugfs]
	if [ "$(id -u)" != 0 ]; then
		skip_all "must be run as root"
	fi
	if ! need_debugfs; then
		[ "${2:-}" = nodebugfs ] || skip_all "no debugfs (CONFIG_DEBUG_FS)"
		SA=
		EX=/sys/module/spanalloc_example/parameters
		diag "no debugfs: the example client through $EX"
	fi
	have_module spanalloc || skip_all "spanalloc.ko not found (SPANALLOC_MODDIR=$SPANALLOC_MODDIR)"
	if [ "${1:-}" = example ]; then
		have_module spanalloc_example ||
			skip_all "spanalloc_example.ko not found (SPANALLOC_MODDIR=$SPANALLOC_MODDIR)"
	fi
}

# ---- reading the files ----

# value NAME TEXT: the value of "NAME: value" in TEXT ("name: value" lines).
value() {
	echo "$2" | awk -v n="$1" -F': *' '$1 == n { print $2; f = 1 } END { if (!f) print "" }'
}

# column TABLE ROWKEY COLUMN: in a table with a header line, the field of the
# row whose first field is ROWKEY, under the header COLUMN.
column() {
	echo "$1" | awk -v k="$2" -v c="$3" '
		NR == 1 { for (i = 1; i <= NF; i++) if ($i == c) col = i; next }
		$1 == k && col { print $col; exit }'
}

# Snapshots of the spanalloc files, taken close together.
snapshot() {
	s_stats=$(cat "$SA/stats")
	s_classes=$(cat "$SA/classes")
	s_caches=$(cat "$SA/caches")
	s_heap=$(cat "$SA/heap")
}

# A snapshot of a quiet spanalloc: "stats" the same before and after the
# other files were read (but for the scavenger's pass counter: it runs every
# second, and gives free pages back in the background for a while after
# frees). Retried every 0.5 s, for up to 15 s; returns non-zero (with the
# last snapshot taken) if it never was quiet.
snapshot_quiet() {
	tries=0
	while :; do
		snapshot
		[ "$(grep -v '^scavenger_passes:' "$SA/stats")" = \
		  "$(echo "$s_stats" | grep -v '^scavenger_passes:')" ] && return 0
		tries=$((tries + 1))
		[ "$tries" -lt 30 ] || return 1
		sleep 0.5
	done
}

stat_of() {	# NAME: from the last snapshot
	value "$1" "$s_stats"
}

# The example client's numbers.
held_of() {	# NAME
	value "$1" "$(cat "$EX/held")"
}

errors_of() {	# NAME
	value "$1" "$(cat "$EX/errors")"
}

# The page allocator's free memory in KiB: MemFree (nr_free_pages) plus the
# pages waiting on its per-CPU lists ("count:" in /proc/zoneinfo), which are
# free too but not counted in MemFree; with several CPUs they hold megabytes.
free_kib() {
	pcp=$(awk '$1 == "count:" { n += $2 } END { print n + 0 }' /proc/zoneinfo 2>/dev/null)
	awk -v pcp="${pcp:-0}" -v kib="$(($(getconf PAGESIZE 2>/dev/null || echo 4096) / 1024))" \
		'$1 == "MemFree:" { print $2 + pcp * kib; exit }' /proc/meminfo
}
