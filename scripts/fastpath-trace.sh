#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# make fastpath: the exact instructions of one hot allocate+free pair of
# spanalloc's cache and size APIs and of SLUB's kmem_cache and kmalloc, and
# of a bulk allocation and free of 16 objects of each cache API, on
# the benchmark's kernel (Debian's stock 6.12, init_on_alloc on) under
# QEMU -icount. The benchmark module (mode=fastpath) warms each pair up;
# gdb single-steps sab_fastpath_run() through QEMU's gdbstub, and
# scripts/fastpath-trace.py names each instruction's function from the
# guest's /proc/kallsyms. Writes .test-out/bench/fastpath.md (the table,
# then every instruction) and prints the table.
#
# Environment: FASTPATH_SIZE (object size, default 16).
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
out=$here/.test-out/bench
dir=$out/fastpath
size=${FASTPATH_SIZE:-16}
log() { echo "fastpath: $*" >&2; }
die() { log "$*"; exit 1; }

command -v gdb >/dev/null || {
	log "installing gdb"
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends gdb >&2
}
# shellcheck source=scripts/vm-lib.sh
. "$here/scripts/vm-lib.sh"
vm_bench_build "$dir"
{
	vm_init_head
	cat <<EOT
insmod /lib/spanalloc/spanalloc.ko
insmod /lib/spanalloc/spanalloc_bench.ko mode=fastpath fastpath_size=$size
echo "FP-TEXT spanalloc \$(cat /sys/module/spanalloc/sections/.text)"
echo "FP-TEXT spanalloc_bench \$(cat /sys/module/spanalloc_bench/sections/.text)"
echo FP-READY
sleep 5
echo 1 >/sys/kernel/debug/sabench/fastpath
grep ' [tTwW] ' /proc/kallsyms >/dev/ttyS1
echo FP-DONE
poweroff -f
EOT
} >"$dir/init"
vm_bench_stage "$dir/stage" "$dir/init"
vm_pack "$dir/stage" "$dir/initramfs.cpio.gz"

port=$((20000 + RANDOM % 20000))
log "booting $kver under -icount with a gdbstub on port $port"
timeout -k 5 300 qemu-system-x86_64 -accel tcg -icount shift=0 -smp 1 -m 1G \
	-nodefaults -nographic -no-reboot -monitor none \
	-serial "file:$dir/console.log" -serial "file:$dir/kallsyms" \
	-kernel "$kimage" -initrd "$dir/initramfs.cpio.gz" \
	-append "console=ttyS0 panic=-1 nokaslr" -gdb "tcp::$port" \
	</dev/null >"$dir/qemu.log" 2>&1 &
qpid=$!
for _ in $(seq 1 120); do
	grep -aq FP-READY "$dir/console.log" 2>/dev/null && break
	kill -0 $qpid 2>/dev/null || die "QEMU exited (console: $dir/console.log)"
	sleep 1
done
grep -aq FP-READY "$dir/console.log" || die "the guest never got ready ($dir/console.log)"
text() { grep -a "FP-TEXT $1 " "$dir/console.log" | awk '{print $3}' | tr -d '\r'; }
sa_text=$(text spanalloc)
bench_text=$(text spanalloc_bench)
off=$(nm "$tree/tests/bench/spanalloc_bench.ko" | awk '$3 == "sab_fastpath_run" {print $1}')
if [ -z "$bench_text" ] || [ -z "$off" ]; then
	die "no address for sab_fastpath_run"
fi
start=$(printf '%x' $((bench_text + 0x$off)))
# shellcheck disable=SC2031 # here changes only in vm_bench_stage's subshell
FP_START=$start FP_PORT=$port FP_TRACE=$dir/trace.txt \
	timeout 240 gdb -q -batch -x "$here/scripts/fastpath-trace.py" >"$dir/gdb.log" 2>&1 ||
	die "gdb failed ($dir/gdb.log)"
wait $qpid || true
grep -aq FP-DONE "$dir/console.log" || die "the guest did not finish ($dir/console.log)"
# shellcheck disable=SC2031
{
	echo "One hot allocate+free pair of $size B (and one bulk pair of 16 such objects)"
	echo "after 2,000 warm-up rounds, kernel $kver"
	echo "(Debian's stock image, init_on_alloc on), QEMU -icount, single-stepped by gdb:"
	echo "every instruction executed, the benchmark's call and its argument set-up included."
	echo
	python3 "$here/scripts/fastpath-trace.py" -v "$dir/trace.txt" "$dir/kallsyms" \
		"$tree/spanalloc.ko=$sa_text" "$tree/tests/bench/spanalloc_bench.ko=$bench_text"
} >"$out/fastpath.md"
sed -n '/^| pair/,/^$/p' "$out/fastpath.md"
log "written: $out/fastpath.md"
