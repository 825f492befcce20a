#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# `make test`: build spanalloc and its test modules against the cached test
# kernel, boot it in QEMU (4 CPUs, 2 NUMA nodes) twice, spanalloc loaded with
# its defaults, then with debug=1, run every KUnit suite and kselftest, scan
# the console for splats, and print each boot's closing line, then their sum
# "N passed, N failed[, N skipped]". Exit status 0 only when all is well.
#
# `scripts/test.sh --harness` (`make test-harness`) plants a fault in the VM
# three times (a failing case, a WARN, a hang) and checks each is caught.
#
# Environment: TEST_TIMEOUT (s, default 1800), HARNESS_HANG_TIMEOUT (s,
# default 120), SPANALLOC_ACCEL (kvm|tcg, default: probe KVM, else tcg),
# KVM_PROBE_TIMEOUT (s, default 20), JOBS (default 2), VM_CPUS (default 4),
# SPANALLOC_CACHE.
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"
mode="test"
case "${1:-}" in
--harness) mode=harness ;;
"") ;;
*) echo "usage: $0 [--harness]" >&2; exit 2 ;;
esac

out=$here/.test-out
timeout_s=${TEST_TIMEOUT:-1800}
hang_timeout_s=${HARNESS_HANG_TIMEOUT:-120}
start=$(date +%s)

log() { echo "test: $*" >&2; }
die() { log "$*"; exit 1; }

# One run at a time in a tree: they share $out (the initramfs, the logs).
mkdir -p "$out"
exec 9>"$out/.test.lock"
if ! flock -n 9; then
	log "another scripts/test.sh is running in $here: waiting for it"
	flock 9
fi

# The VM's pieces, shared with scripts/demo.sh.
# shellcheck source=scripts/vm-lib.sh
. "$here/scripts/vm-lib.sh"

# a. packages, b. kernel, c. the modules.
vm_prepare
vm_build_modules
modname() { local n=${1##*/}; n=${n%.ko}; echo "${n//-/_}"; }
expect_kunit=$(for m in "${kunit_kos[@]}" "${harness_kos[@]}" "${late_kos[@]}"; do
	modname "$m"; done | paste -sd, -)

# d. the initramfs: busybox, /init, modules, kselftests.
stage=$out/initramfs
vm_stage "$stage" "$here/tests/guest/init"

expect_ksft=
st=$here/tests/selftests/spanalloc
if [ -d "$st" ]; then
	cp -a "$st" "$stage/lib/spanalloc/selftests"
	if [ -f "$st/Makefile" ]; then
		# TEST_PROGS (with := += = and line continuations).
		progs=$(sed -e ':a' -e '/\\$/N; s/\\\n/ /; ta' "$st/Makefile" |
			sed -n 's/^[[:space:]]*TEST_PROGS[[:space:]]*[:+?]*=//p' |
			tr -s ' \t' '\n' | sed '/^$/d')
		if [ -z "$progs" ]; then
			die "$st/Makefile lists no TEST_PROGS (TEST_GEN_PROGS are not supported)"
		fi
	else
		progs=$(cd "$st" && ls -1 -- *.sh 2>/dev/null | sort)
	fi
	for p in $progs; do
		[ -f "$st/$p" ] || die "kselftest $p listed but missing in $st"
	done
	printf '%s\n' $progs >"$stage/lib/spanalloc/selftests/.sa-progs"
	expect_ksft=$(printf '%s\n' $progs | paste -sd, -)
fi

pack() {	# pack PLANT OUTPUT [SPANALLOC-PARAMETERS]
	echo "$1" >"$stage/etc/spanalloc-plant"
	echo "${3:-}" >"$stage/lib/spanalloc/spanalloc.args"
	vm_pack "$stage" "$2"
}

# e. QEMU: KVM when it boots a kernel, else TCG (scripts/vm-lib.sh).
vm_accel

# Progress: the guest /init's own messages, as they come.
follow_init() {	# DIR QEMU-PID
	tail -n +1 -F --pid="$2" "$1/console.log" 2>/dev/null |
		grep --line-buffered -o 'spanalloc-init: .*' >&2
}
vm_follow=follow_init

# run_vm DIR PLANT TIMEOUT [SPANALLOC-PARAMETERS]: boot once; results.py
# judges. Returns its status.
run_vm() {
	local dir=$1 plant=$2 limit=$3 params=${4:-} rc=0 timed_out=0 t0
	rm -rf "$dir"
	mkdir -p "$dir"
	pack "$plant" "$dir/initramfs.cpio.gz" "$params"
	log "booting the VM ($accel, plant=$plant, spanalloc ${params:-defaults}, timeout ${limit} s)"
	log "console: $dir/console.log"
	t0=$(date +%s)
	vm_boot "$dir" "$dir/initramfs.cpio.gz" "$limit" || rc=$?
	log "VM ran $(( $(date +%s) - t0 )) s (qemu exit $rc); $(( $(date +%s) - start )) s in all"
	if [ "$rc" = 124 ] || [ "$rc" = 137 ]; then
		timed_out=$limit
		log "VM hung: killed after $limit s; console tail:"
		tail -n 40 "$dir/console.log" | sed 's/^/    /' >&2
	elif [ "$rc" != 0 ]; then
		log "qemu failed:"
		sed 's/^/    /' "$dir/qemu.log" >&2
	fi
	echo "logs: $dir (console.log, results.log, kunit.ktap, kunit-parse.txt)"
	python3 "$here/scripts/results.py" --console "$dir/console.log" \
		--results "$dir/results.log" --src "$SRC" --out "$dir" \
		--expect-kunit "$expect_kunit" --expect-ksft "$expect_ksft" \
		--timed-out "$timed_out"
}

if [ "$mode" = test ]; then
	# Two boots: spanalloc as loaded by default, then in debug mode for
	# every object (debug=1: poison, red zones, call sites, checks), under
	# the same sanitizers. Each run's results, then the closing line of the
	# two together (results.py prints each run's closing line last).
	rc=0 passed=0 failed=0 skipped=0
	for params in "" debug=1; do
		dir=$out/run${params:+-debug}
		run_vm "$dir" none "$timeout_s" "$params" >"$dir.txt" || rc=1
		sed '$d' "$dir.txt"
		last=$(tail -n 1 "$dir.txt")
		# The second boot must really be in debug mode (spanalloc's load line).
		if [ -n "$params" ] &&
		   ! grep -q 'debug mode for every object (debug=1)' "$dir/console.log"; then
			echo "FAIL: spanalloc was not loaded with $params"
			rc=1 failed=$((failed + 1))
		fi
		echo "spanalloc ${params:-defaults}: $last"
		n=$(echo "$last" | sed -n 's/^\([0-9][0-9]*\) passed, \([0-9][0-9]*\) failed\(, \([0-9][0-9]*\) skipped\)\{0,1\}$/\1 \2 \4/p')
		# No closing line: the run's judge failed; count the boot as failed.
		[ -n "$n" ] || { rc=1 failed=$((failed + 1)); continue; }
		set -- $n
		passed=$((passed + $1)) failed=$((failed + $2)) skipped=$((skipped + ${3:-0}))
	done
	log "total $(( $(date +%s) - start )) s"
	echo "$passed passed, $failed failed, $skipped skipped" | sed 's/, 0 skipped$//'
	exit "$rc"
fi

# --harness: each planted fault must fail the run, for the right reason.
if ! printf '%s\n' "${harness_kos[@]}" | grep -q 'sa_plant.ko$'; then
	die "sa_plant.ko was not built (no KUnit?)"
fi
caught=0
missed=0
for plant in fail warn hang; do
	dir=$out/harness-$plant
	limit=$timeout_s
	[ "$plant" = hang ] && limit=$hang_timeout_s
	rc=0
	run_vm "$dir" "$plant" "$limit" >"$out/harness-$plant.txt" 2>&1 || rc=$?
	# The evidence of this plant, not just any failure.
	why=
	case "$plant" in
	fail) what="KUnit case sa_plant_fail failed"
	      grep -Eq '^[[:space:]]*not ok [0-9]+ sa_plant_fail' "$dir/kunit.ktap" 2>/dev/null ||
		why="sa_plant_fail did not fail" ;;
	warn) what="WARNING from sa_plant found on the console"
	      grep -q 'WARNING:.*sa_plant' "$dir/console.log" &&
		grep -q '^FAIL: console:' "$out/harness-$plant.txt" ||
		why="no WARNING from sa_plant reported" ;;
	hang) what="VM killed after $limit s in sa_plant"
	      grep -q '^FAIL: hung' "$out/harness-$plant.txt" ||
		why="the VM did not hang"
	      grep -q 'spanalloc-init: insmod sa_plant' "$dir/console.log" ||
		why="${why:+$why; }sa_plant never loaded" ;;
	esac
	if [ "$rc" = 0 ]; then
		echo "missed: $plant (the run passed; see $out/harness-$plant.txt)"
		missed=$((missed + 1))
	elif [ -n "$why" ]; then
		echo "missed: $plant (the run failed, but $why; see $out/harness-$plant.txt)"
		missed=$((missed + 1))
	else
		echo "caught: $plant ($what)"
		caught=$((caught + 1))
	fi
done
log "total $(( $(date +%s) - start )) s"
echo "$caught passed, $missed failed"
[ "$missed" = 0 ]
