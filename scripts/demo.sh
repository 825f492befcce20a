#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# `make demo`: see spanalloc work. The set-up of `make test` (packages, the
# cached test kernel, the modules, a busybox initramfs, QEMU with 4 CPUs on 2
# NUMA nodes; scripts/vm-lib.sh), with scripts/demo-guest.sh as /init: it
# loads spanalloc, shows its debugfs tables, runs the example client's
# workload (tests/example) on every vCPU, shows the tables again, frees
# everything, shows them once more and unloads. Its output is printed as it
# comes. Exit status 0 when every step worked and the kernel log has no
# warning, KASAN/lockdep report or oops.
#
# Environment: DEMO_OBJECTS (objects per CPU, default 2000), DEMO_TIMEOUT (s,
# default 600), and those of scripts/vm-lib.sh: SPANALLOC_ACCEL,
# KVM_PROBE_TIMEOUT, JOBS, SPANALLOC_CACHE.
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"
out=$here/.test-out
start=$(date +%s)

log() { echo "demo: $*" >&2; }
die() { log "$*"; exit 1; }

# shellcheck source=scripts/vm-lib.sh
. "$here/scripts/vm-lib.sh"

log "setting up (packages, test kernel, modules); the first time builds the kernel (~11 min)"
vm_prepare
vm_build_modules
ex=$(printf '%s\n' "${other_kos[@]}" | grep -m1 'spanalloc_example\.ko$') ||
	die "tests/example/spanalloc_example.ko was not built (is tests/example/ in Kbuild?)"
other_kos=("$ex")
kunit_kos=()		# the demo needs none of the test modules
harness_kos=()

dir=$out/demo
rm -rf "$dir"
mkdir -p "$dir"
stage=$dir/initramfs
vm_stage "$stage" "$here/scripts/demo-guest.sh"
echo "${DEMO_OBJECTS:-2000}" >"$stage/etc/demo-objects"
vm_pack "$stage" "$dir/initramfs.cpio.gz"
rm -rf "$stage"
vm_accel

# The demo's own output: the guest's ttyS1, as it comes.
follow_demo() {	# DIR QEMU-PID
	tail -n +1 -F --pid="$2" "$1/results.log" 2>/dev/null |
		sed -u -e 's/\r$//' -e '/^DEMO-/d'
}
vm_follow=follow_demo

log "booting the VM ($accel); kernel log: $dir/console.log"
t0=$(date +%s)
rc=0
vm_boot "$dir" "$dir/initramfs.cpio.gz" "${DEMO_TIMEOUT:-600}" || rc=$?
log "VM ran $(( $(date +%s) - t0 )) s; $(( $(date +%s) - start )) s in all"

# Kernel reports, found as make test finds them (scripts/results.py).
splats=0
python3 - "$here/scripts" "$dir/console.log" <<'EOF' || splats=1
import sys
sys.path.insert(0, sys.argv[1])
import results
run = results.Run()
results.scan_console(run, results.read_lines(sys.argv[2]), sys.argv[2])
sys.exit(1 if run.problems else 0)
EOF

result=$(tr -d '\r' <"$dir/results.log" | grep '^DEMO-' | tail -n 1 || true)
if [ "$rc" = 124 ] || [ "$rc" = 137 ]; then
	die "the VM hung: killed after ${DEMO_TIMEOUT:-600} s (console: $dir/console.log)"
elif [ "$rc" != 0 ]; then
	sed 's/^/    /' "$dir/qemu.log" >&2
	die "qemu failed (exit $rc)"
elif [ "$result" != DEMO-OK ]; then
	die "${result:-the demo stopped early}; kernel log: $dir/console.log"
elif [ "$splats" != 0 ]; then
	die "the kernel reported problems (above); kernel log: $dir/console.log"
fi
log "done"
