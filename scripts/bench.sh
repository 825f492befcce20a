#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# `make bench`: spanalloc against SLUB, in the same boot of Debian's stock
# 6.12 kernel under QEMU (tests/bench/spanalloc_bench.c says what is measured
# and how; BENCHMARKS.md keeps the latest table).
#
#  1. packages: scripts/deps.sh, gnuplot-nox, and the newest installable
#     linux-image-6.12.*+deb12-amd64-unsigned with its linux-headers-*
#     (apt-get, INITRD=No: no initramfs is generated for it);
#  2. builds spanalloc.ko and tests/bench/spanalloc_bench.ko against those
#     headers, in a copy of the tree's sources (the tree's own build products
#     may belong to the test kernel);
#  3. converts ../shared/traces/{fs,boot}.trace.gz (or $BENCH_TRACES/) with
#     scripts/mktrace.py, cached by content;
#  4. boots the kernel (a busybox initramfs, tests/bench/init as /init):
#     "icount": QEMU -icount shift=0 on 1 vCPU, a guest ns is an instruction
#     (scenarios 1, 2, 3, 6, 7); "wall": multi-threaded TCG on $BENCH_CPUS
#     vCPUs (scenarios 4, 5);
#  5. scripts/bench-report.py prints the table, writes it to
#     .test-out/bench/table.md, and puts it into BENCHMARKS.md with the chart
#     benchmarks.png.
# Fails if a VM did not finish or the benchmark module's checks failed; never
# because of a ratio.
#
# Environment: BENCH_MODES (default "icount wall"), BENCH_CPUS (wall vCPUs,
# default 2), BENCH_RUNS (icount runs per measurement, default 60),
# BENCH_WALL_RUNS (default 7), BENCH_TIMEOUT (s per VM, default 1800),
# BENCH_TRACES (directory of *.trace.gz), BENCH_ONLY (scenarios, e.g. "1,6":
# a quick look, without the checks), BENCH_NO_UPDATE=1 (leave BENCHMARKS.md
# and benchmarks.png alone; implied by BENCH_ONLY or BENCH_MODES),
# BENCH_APT_UPDATE=1, BENCH_ALLOW_BOOTLOADER=1, JOBS.
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"
out=$here/.test-out/bench
jobs=${JOBS:-2}
modes=${BENCH_MODES:-icount wall}
wall_cpus=${BENCH_CPUS:-2}
timeout_s=${BENCH_TIMEOUT:-1800}
traces_dir=${BENCH_TRACES:-$here/../shared/traces}
start=$(date +%s)

log() { echo "bench: $*" >&2; }
die() { log "$*"; exit 1; }
mkdir -p "$out"

# 1. Packages.
"$here/scripts/deps.sh"
have_pkg() { [ "$(dpkg-query -W -f='${db:Status-Abbrev}' "$1" 2>/dev/null)" = "ii " ]; }
apt_updated=0
apt_update() {
	[ "$apt_updated" = 1 ] && return
	log "apt-get update"
	apt-get update -qq >&2
	apt_updated=1
}
# The newest linux-image-6.12.N+deb12-amd64-unsigned whose headers exist.
resolve_kernel() {
	local n
	kver=
	for n in $(apt-cache pkgnames linux-image-6.12. 2>/dev/null |
		   grep -E '^linux-image-6\.12\.[0-9]+\+deb12-amd64-unsigned$' | sort -rV); do
		n=${n#linux-image-}
		n=${n%-unsigned}
		if apt-cache show --no-all-versions "linux-headers-$n" >/dev/null 2>&1; then
			kver=$n
			return 0
		fi
	done
	return 1
}
[ "${BENCH_APT_UPDATE:-0}" = 1 ] && apt_update
resolve_kernel || { apt_update; resolve_kernel; } || die "no linux-image-6.12.*+deb12-amd64-unsigned found"
want=(gnuplot-nox "linux-image-$kver-unsigned" "linux-headers-$kver")
missing=()
for p in "${want[@]}"; do have_pkg "$p" || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
	# Kernel packages run /etc/kernel/postinst.d: initramfs-tools is skipped
	# with INITRD=No; a bootloader hook would make this kernel the default.
	hooks=
	for h in /etc/kernel/postinst.d/*; do
		case "${h##*/}" in
		'*' | initramfs-tools | dkms) ;;
		*) hooks+=" ${h##*/}" ;;
		esac
	done
	if [ -n "$hooks" ] && [ "${BENCH_ALLOW_BOOTLOADER:-0}" != 1 ]; then
		die "installing a kernel would run /etc/kernel/postinst.d/:$hooks" \
		    "(bootloader?): set BENCH_ALLOW_BOOTLOADER=1 to allow it"
	fi
	apt_update
	log "installing: ${missing[*]}"
	DEBIAN_FRONTEND=noninteractive INITRD=No apt-get install -y -q -o DPkg::Lock::Timeout=600 \
		--no-install-recommends "${missing[@]}" >"$out/apt.log" 2>&1 ||
		{ tail -n 30 "$out/apt.log" >&2; die "apt-get install failed (log: $out/apt.log)"; }
fi
kimage=/boot/vmlinuz-$kver
kdir=/lib/modules/$kver/build
if [ ! -f "$kimage" ] || [ ! -d "$kdir" ]; then
	die "$kver: no $kimage or $kdir"
fi
log "kernel $kver"

# 2. The modules, built in a copy of the sources (tracked and new files).
tree=$out/tree
rm -rf "$tree"
mkdir -p "$tree"
git ls-files -z --cached --others --exclude-standard |
	rsync -a --from0 --files-from=- --ignore-missing-args ./ "$tree/"
grep -q 'tests/bench/' "$tree/Kbuild" || die "Kbuild does not build tests/bench/"
log "building against $kdir"
if ! make -C "$kdir" M="$tree" -j"$jobs" modules >"$out/build.log" 2>&1; then
	tail -n 40 "$out/build.log" >&2
	die "module build failed (log: $out/build.log)"
fi
grep -E 'warning:|error:' "$out/build.log" >&2 || true
for m in spanalloc.ko tests/bench/spanalloc_bench.ko; do
	[ -f "$tree/$m" ] || die "$m was not built"
done
objdump -dr --no-show-raw-insn "$tree/spanalloc.ko" >"$out/spanalloc.dis"

# 3. The traces, converted once per content.
sabts=()
for name in fs boot; do
	src=$traces_dir/$name.trace.gz
	if [ ! -f "$src" ]; then
		log "no $src: scenario 6 skips it"
		continue
	fi
	key=$(cat "$src" "$here/scripts/mktrace.py" | sha256sum | cut -c1-12)
	dst=$out/traces/$name-$key.sabt
	if [ ! -f "$dst" ]; then
		mkdir -p "$out/traces"
		rm -f "$out/traces/$name"-*.sabt
		python3 "$here/scripts/mktrace.py" "$src" "$dst.tmp"
		mv "$dst.tmp" "$dst"
	fi
	sabts+=("$dst")
done

# scripts/fastpath-trace.sh and scripts/profile.sh need the modules, the
# kernel and (profile) the traces, nothing more.
if [ "${BENCH_BUILD_ONLY:-0}" = 1 ]; then
	echo "$kver"
	exit 0
fi

# 4. The VMs, one at a time. The initramfs comes from scripts/vm-lib.sh.
[ -f "$here/scripts/vm-lib.sh" ] || die "scripts/vm-lib.sh is missing"
# shellcheck source=scripts/vm-lib.sh
. "$here/scripts/vm-lib.sh"

follow() {	# DIR QEMU_PID: the module's lines, as they come
	tail -n +1 -F --pid="$2" "$1/console.log" 2>/dev/null |
		grep -a --line-buffered -oE 'sabench(-init)?: (start|row|note|checks|verify|trace|FAIL).*' |
		cut -c1-150 >&2
}

facts=()
run_mode() {	# MODE
	local m=$1 dir=$out/$1 stage qemu=() rc=0 t0 qpid args runs n t others
	stage=$dir/initramfs
	rm -rf "$dir"
	mkdir -p "$dir"
	# vm_stage takes the modules from $here and the arrays of vm-lib.sh.
	# shellcheck disable=SC2030,SC2034
	(
		here=$tree
		kunit_kos=()
		harness_kos=()
		other_kos=(tests/bench/spanalloc_bench.ko)
		vm_stage "$stage" "$here/tests/bench/init"
	)
	runs=${BENCH_RUNS:-60}
	args="mode=$m runs=$runs wall_runs=${BENCH_WALL_RUNS:-7}${BENCH_ONLY:+ only=$BENCH_ONLY}"
	echo "$args" >"$stage/etc/sabench-args"
	if [ "$m" = icount ] && [ ${#sabts[@]} -gt 0 ]; then
		mkdir -p "$stage/lib/sabench"
		for t in "${sabts[@]}"; do
			n=${t##*/}
			cp "$t" "$stage/lib/sabench/${n%%-*}.sabt"
		done
	fi
	vm_pack "$stage" "$dir/initramfs.cpio.gz"
	case "$m" in
	icount) qemu=(-accel tcg -icount shift=0 -smp 1) ;;
	wall) qemu=(-accel "tcg,thread=multi" -smp "$wall_cpus") ;;
	*) die "unknown mode $m (icount, wall)" ;;
	esac
	others=$(pgrep -c qemu-system || true)
	facts+=(--fact "$m: host at boot: $others other QEMU processes, load average $(cut -d' ' -f1-3 /proc/loadavg)")
	log "booting $kver: $m (${qemu[*]}), timeout $timeout_s s; $others other QEMU processes"
	t0=$(date +%s)
	timeout -k 10 "$timeout_s" qemu-system-x86_64 "${qemu[@]}" -m 1G \
		-nodefaults -nographic -no-reboot -monitor none \
		-serial "file:$dir/console.log" -kernel "$kimage" \
		-initrd "$dir/initramfs.cpio.gz" -append "console=ttyS0 panic=-1" \
		</dev/null >"$dir/qemu.log" 2>&1 &
	qpid=$!
	: >"$dir/console.log"
	follow "$dir" "$qpid" &
	wait "$qpid" || rc=$?
	wait
	log "$m: VM ran $(( $(date +%s) - t0 )) s (qemu exit $rc)"
	[ "$rc" = 0 ] || { sed 's/^/    /' "$dir/qemu.log" >&2; return 1; }
	grep -aq 'sabench: done' "$dir/console.log" || return 1
	return 0
}

consoles=()
failed=0
for m in $modes; do
	if run_mode "$m"; then
		consoles+=("$m=$out/$m/console.log")
	else
		log "$m: the VM did not finish (console: $out/$m/console.log)"
		failed=1
	fi
done

# 5. The report.
# shellcheck disable=SC2031 # $here was only changed in vm_stage's subshell
update=(--markdown "$here/BENCHMARKS.md" --chart "$here/benchmarks.png")
# A partial run (BENCH_ONLY, BENCH_MODES) never replaces the published table.
if [ "${BENCH_NO_UPDATE:-0}" = 1 ] || [ -n "${BENCH_ONLY:-}" ] ||
   [ "$modes" != "icount wall" ]; then
	update=(--chart "$out/benchmarks.png")
fi
if [ ${#consoles[@]} -gt 0 ]; then
	# shellcheck disable=SC2031
	python3 "$here/scripts/bench-report.py" --kernel "$kver" \
		--qemu "$(qemu-system-x86_64 --version | head -n 1)" --wall-cpus "$wall_cpus" \
		--runs "${BENCH_RUNS:-60}" --wall-runs "${BENCH_WALL_RUNS:-7}" \
		--disassembly "$out/spanalloc.dis" --table "$out/table.md" "${update[@]}" \
		"${facts[@]}" \
		"${consoles[@]}" || failed=1
fi
log "table: $out/table.md; total $(( $(date +%s) - start )) s"
exit "$failed"
