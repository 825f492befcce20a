#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# make profile: where scenario 6's trace replays spend their time, for
# spanalloc and for SLUB, by `perf record -e cpu-clock` inside the
# benchmark's guest (Debian's stock 6.12 under QEMU -icount, one vCPU). The
# benchmark module (mode=profile) replays each trace whole PROFILE_RUNS
# times on one allocator; the guest runs it once per allocator under perf,
# with Debian's perf (package linux-perf) copied into its initramfs.
# Writes .test-out/bench/profile.md: per allocator and trace, the symbols
# by share of samples, then the callers of the interrupt-off sections
# (their samples land on _raw_spin_unlock_irqrestore). Samples are guest
# time, that is guest instructions; the replay loop and the trace checks
# of the module are in them too.
#
# Environment: PROFILE_RUNS (default 3), PROFILE_TRACES (default "fs boot").
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
out=$here/.test-out/bench
dir=$out/profile
runs=${PROFILE_RUNS:-3}
want=${PROFILE_TRACES:-fs boot}
log() { echo "profile: $*" >&2; }
die() { log "$*"; exit 1; }

command -v perf >/dev/null || {
	log "installing linux-perf"
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
		linux-perf >&2
}
perf=$(command -v perf)
# shellcheck source=scripts/vm-lib.sh
. "$here/scripts/vm-lib.sh"
vm_bench_build "$dir"
{
	vm_init_head
	cat <<EOT
echo -1 >/proc/sys/kernel/perf_event_paranoid
insmod /lib/spanalloc/spanalloc.ko
cd /tmp
for t in \$(cat /etc/profile-traces); do
	for a in spanalloc slub; do
		perf record -q -g -e cpu-clock -F 20000 -a -o /tmp/p.data -- \\
			insmod /lib/spanalloc/spanalloc_bench.ko mode=profile profile=\$a \\
			runs=$runs traces=/lib/sabench/\$t.sabt >/dev/null 2>&1
		# Reported while the module is loaded: its symbols resolve.
		{
			echo "PROFILE-BEGIN \$a \$t"
			dmesg | grep 'profile:' | tail -n 1
			perf report -i /tmp/p.data --stdio --no-children --sort sym -g none \\
				--percent-limit 0.3 2>/dev/null | grep -v '^#' | grep -v '^\$'
			echo "PROFILE-CALLERS"
			perf report -i /tmp/p.data --stdio --no-children --sort sym -G \\
				-S _raw_spin_unlock_irqrestore --percent-limit 0.2 2>/dev/null |
				grep -v '^#' | grep -v '^\$' | grep -v 'perf!)'
			echo "PROFILE-END"
		} >/dev/ttyS1
		rmmod spanalloc_bench
		rm -f /tmp/p.data
	done
done
poweroff -f
EOT
} >"$dir/init"
sabts=()
for t in $want; do
	f=$(find "$out/traces" -maxdepth 1 -name "$t-*.sabt" 2>/dev/null | head -n 1)
	[ -n "$f" ] || die "no converted $t trace in $out/traces (see scripts/bench.sh)"
	sabts+=("$f")
done
vm_bench_stage "$dir/stage" "$dir/init"
stage=$dir/stage
mkdir -p "$stage/lib/sabench" "$stage/lib64" "$stage/lib/x86_64-linux-gnu"
for f in "${sabts[@]}"; do
	n=${f##*/}
	cp "$f" "$stage/lib/sabench/${n%%-*}.sabt"
done
echo "$want" >"$stage/etc/profile-traces"
cp "$perf" "$stage/bin/perf"
for l in $(ldd "$perf" | awk '$3 ~ /^\// {print $3}'); do
	cp -L "$l" "$stage/lib/x86_64-linux-gnu/"
done
cp -L /lib64/ld-linux-x86-64.so.2 "$stage/lib64/"
vm_pack "$stage" "$dir/initramfs.cpio.gz"

log "booting $kver under -icount: $want, $runs replays per allocator and trace"
timeout -k 10 1200 qemu-system-x86_64 -accel tcg -icount shift=0 -smp 1 -m 1G \
	-nodefaults -nographic -no-reboot -monitor none \
	-serial "file:$dir/console.log" -serial "file:$dir/report.txt" \
	-kernel "$kimage" -initrd "$dir/initramfs.cpio.gz" \
	-append "console=ttyS0 panic=-1" </dev/null >"$dir/qemu.log" 2>&1 ||
	die "QEMU failed or timed out ($dir/qemu.log, $dir/console.log)"
grep -q PROFILE-END "$dir/report.txt" || die "no profile in $dir/report.txt"
{
	echo "perf record -e cpu-clock in the benchmark guest, kernel $kver,"
	echo "QEMU -icount (1 guest ns = 1 instruction), $runs whole replays per trace"
	echo "and allocator; Debian's defaults (init_on_alloc on)."
	tr -d '\r' <"$dir/report.txt" | awk '
		/^PROFILE-BEGIN/ { printf "\n## %s, %s trace\n\n```\n", $2, $3; next }
		/^PROFILE-CALLERS/ { print "```\n\nInterrupt-off sections, by caller:\n\n```"; next }
		/^PROFILE-END/ { print "```"; next }
		{ print }'
} >"$out/profile.md"
log "written: $out/profile.md"
grep -E '^## |profile: ' "$out/profile.md" >&2
