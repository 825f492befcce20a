#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# `make test`: build spanalloc and its test modules against the cached test
# kernel, boot it in QEMU (2 CPUs, 2 NUMA nodes), run every KUnit suite and
# kselftest, scan the console for splats, and print one closing line
# "N passed, N failed[, N skipped]". Exit status 0 only when all is well.
#
# `scripts/test.sh --harness` (`make test-harness`) plants a fault in the VM
# three times (a failing case, a WARN, a hang) and checks each is caught.
#
# Environment: TEST_TIMEOUT (s, default 900), HARNESS_HANG_TIMEOUT (s,
# default 120), SPANALLOC_ACCEL (kvm|tcg, default: probe KVM, else tcg),
# KVM_PROBE_TIMEOUT (s, default 20), JOBS (default 2), SPANALLOC_CACHE.
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"
mode=test
case "${1:-}" in
--harness) mode=harness ;;
"") ;;
*) echo "usage: $0 [--harness]" >&2; exit 2 ;;
esac

out=$here/.test-out
cache=${SPANALLOC_CACHE:-$HOME/.cache/spanalloc}
timeout_s=${TEST_TIMEOUT:-900}
hang_timeout_s=${HARNESS_HANG_TIMEOUT:-120}
jobs=${JOBS:-2}
start=$(date +%s)

log() { echo "test: $*" >&2; }
die() { log "$*"; exit 1; }

# a. packages, b. kernel.
"$here/scripts/deps.sh"
KBUILD=$("$here/scripts/kernel.sh")
SRC=$(readlink -f "$KBUILD/source")
bzimage=$KBUILD/arch/x86/boot/bzImage
[ -f "$bzimage" ] || die "no $bzimage"
mkdir -p "$out"

# c. the modules.
log "building modules against $KBUILD"
if ! make -C "$KBUILD" M="$here" -j"$jobs" modules >"$out/build.log" 2>&1; then
	tail -n 60 "$out/build.log" >&2
	die "module build failed (log: $out/build.log)"
fi
grep -E 'warning:|error:' "$out/build.log" >&2 || true

# Exactly the modules this build produced (no stale .ko from old sources).
mods=()
while IFS= read -r m; do
	m=${m#"$here"/}
	m=${m%.o}
	m=${m%.ko}
	mods+=("$m.ko")
done <"$here/modules.order"
kunit_kos=()
harness_kos=()
have_spanalloc=0
for m in "${mods[@]}"; do
	[ -f "$here/$m" ] || die "modules.order names $m, which was not built"
	case "$m" in
	spanalloc.ko) have_spanalloc=1 ;;
	tests/kunit/*) kunit_kos+=("$m") ;;
	tests/harness/*) harness_kos+=("$m") ;;
	esac
done
[ "$have_spanalloc" = 1 ] || die "spanalloc.ko was not built"
modname() { local n=${1##*/}; n=${n%.ko}; echo "${n//-/_}"; }
expect_kunit=$(for m in "${kunit_kos[@]}" "${harness_kos[@]}"; do
	modname "$m"; done | paste -sd, -)

# d. the initramfs: busybox, /init, modules, kselftests.
stage=$out/initramfs
rm -rf "$stage"
mkdir -p "$stage"/{bin,sbin,dev,proc,sys,tmp,etc,lib/spanalloc/kunit,lib/spanalloc/harness}
cp /bin/busybox "$stage/bin/busybox"
for a in $(/bin/busybox --list); do
	[ "$a" = busybox ] || ln -sf busybox "$stage/bin/$a"
done
mknod -m 600 "$stage/dev/console" c 5 1 2>/dev/null || true
install -m 755 "$here/tests/guest/init" "$stage/init"
cp spanalloc.ko "$stage/lib/spanalloc/"
for m in "${kunit_kos[@]}"; do cp "$m" "$stage/lib/spanalloc/kunit/"; done
for m in "${harness_kos[@]}"; do cp "$m" "$stage/lib/spanalloc/harness/"; done

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

pack() {	# pack PLANT OUTPUT
	echo "$1" >"$stage/etc/spanalloc-plant"
	(cd "$stage" && find . -print0 | cpio --null -o -H newc --quiet) |
		gzip -1 >"$2"
}

# e. QEMU: KVM when it boots a kernel, else TCG. Nested KVM can hang in the
# guest kernel, so the probe boots the real kernel with a trivial /init.
probe_kvm() {
	local p=$out/kvm-probe key
	[ -w /dev/kvm ] || return 1
	key=$(printf '%s %s' "$(uname -r)" "$(qemu-system-x86_64 --version | head -1)" |
		sha256sum | cut -c1-12)
	if [ -f "$cache/kvm-broken-$key" ]; then
		log "KVM known not to boot a guest here ($cache/kvm-broken-$key)"
		return 1
	fi
	rm -rf "$p"
	mkdir -p "$p/root/bin" "$p/root/dev"
	cp /bin/busybox "$p/root/bin/"
	printf '#!/bin/busybox sh\n/bin/busybox echo spanalloc-kvm-probe-ok\n/bin/busybox poweroff -f\n' \
		>"$p/root/init"
	chmod +x "$p/root/init"
	(cd "$p/root" && find . | cpio -o -H newc --quiet) | gzip -1 >"$p/initrd"
	timeout -k 5 "${KVM_PROBE_TIMEOUT:-20}" qemu-system-x86_64 -accel kvm \
		-m 512 -nodefaults -nographic -no-reboot -monitor none \
		-serial "file:$p/console.log" -kernel "$bzimage" -initrd "$p/initrd" \
		-append "console=ttyS0 panic=-1" </dev/null >"$p/qemu.log" 2>&1 || true
	if grep -q spanalloc-kvm-probe-ok "$p/console.log" 2>/dev/null; then
		return 0
	fi
	log "KVM did not boot a guest within ${KVM_PROBE_TIMEOUT:-20} s: using TCG"
	touch "$cache/kvm-broken-$key"
	return 1
}

accel=${SPANALLOC_ACCEL:-}
if [ -z "$accel" ]; then
	if probe_kvm; then accel=kvm; else accel=tcg; fi
fi
log "accelerator: $accel"

cmdline="console=ttyS0 panic=-1 oops=panic kasan_multi_shot init_on_alloc=1"
cmdline+=" no_hash_pointers printk.devkmsg=on loglevel=7"

# run_vm DIR PLANT TIMEOUT: boot once; results.py judges. Returns its status.
run_vm() {
	local dir=$1 plant=$2 limit=$3 rc=0 timed_out=0 t0 qpid
	rm -rf "$dir"
	mkdir -p "$dir"
	pack "$plant" "$dir/initramfs.cpio.gz"
	: >"$dir/console.log"
	: >"$dir/results.log"
	log "booting the VM ($accel, plant=$plant, timeout ${limit} s)"
	log "console: $dir/console.log"
	t0=$(date +%s)
	timeout -k 10 "$limit" qemu-system-x86_64 -accel "$accel" \
		-m 2G -smp 2,sockets=2,cores=1,threads=1 \
		-object memory-backend-ram,id=m0,size=1G \
		-numa node,nodeid=0,cpus=0,memdev=m0 \
		-object memory-backend-ram,id=m1,size=1G \
		-numa node,nodeid=1,cpus=1,memdev=m1 \
		-nodefaults -nographic -no-reboot -monitor none \
		-serial "file:$dir/console.log" -serial "file:$dir/results.log" \
		-kernel "$bzimage" -initrd "$dir/initramfs.cpio.gz" \
		-append "$cmdline" </dev/null >"$dir/qemu.log" 2>&1 &
	qpid=$!
	# Progress: the guest /init's own messages, as they come.
	tail -n +1 -F --pid="$qpid" "$dir/console.log" 2>/dev/null |
		grep --line-buffered -o 'spanalloc-init: .*' >&2 &
	wait "$qpid" || rc=$?
	wait
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
	# results.py prints the closing line last.
	run_vm "$out/run" none "$timeout_s"
	exit
fi

# --harness: each planted fault must fail the run, for the right reason.
[ ${#harness_kos[@]} -gt 0 ] && printf '%s\n' "${harness_kos[@]}" |
	grep -q 'sa_plant.ko$' || die "sa_plant.ko was not built (no KUnit?)"
caught=0
missed=0
for plant in fail warn hang; do
	dir=$out/harness-$plant
	limit=$timeout_s
	[ "$plant" = hang ] && limit=$hang_timeout_s
	rc=0
	run_vm "$dir" "$plant" "$limit" >"$out/harness-$plant.txt" 2>&1 || rc=$?
	why=
	case "$plant" in
	fail) grep -Eq '^[[:space:]]*not ok [0-9]+ sa_plant_fail' "$dir/kunit.ktap" 2>/dev/null ||
		why="sa_plant_fail did not fail" ;;
	warn) grep -q 'WARNING:.*sa_plant' "$dir/console.log" ||
		why="no WARNING from sa_plant on the console" ;;
	hang) grep -q 'FAIL: hung' "$out/harness-$plant.txt" ||
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
		echo "caught: $plant ($(grep -m1 '^FAIL: ' "$out/harness-$plant.txt" | cut -c7-))"
		caught=$((caught + 1))
	fi
done
log "total $(( $(date +%s) - start )) s"
echo "$caught passed, $missed failed"
[ "$missed" = 0 ]
