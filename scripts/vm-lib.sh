# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash disable=SC2034  # sets variables for the sourcing script
# The test VM, shared by scripts/test.sh (`make test`) and scripts/demo.sh
# (`make demo`); sourced by them, never run. Bash.
#
# The sourcing script sets `here` (the repository) and defines log() and
# die(); then, in order:
#   vm_prepare          packages (scripts/deps.sh) and the cached test kernel
#                       (scripts/kernel.sh): sets KBUILD, SRC, bzimage
#   vm_build_modules    builds every module against it: sets the arrays
#                       kunit_kos, harness_kos, late_kos, other_kos (paths
#                       relative to the repository, from modules.order)
#   vm_stage DIR INIT   a busybox initramfs tree in DIR with INIT as /init and
#                       the modules under /lib/spanalloc (spanalloc.ko,
#                       kunit/, harness/, late/, and the others, such as
#                       spanalloc_example.ko, beside spanalloc.ko)
#   vm_pack DIR OUT     packs it
#   vm_bench_build, vm_bench_stage, vm_init_head
#                       the same for the benchmark kernel's tools (below)
#   vm_accel            chooses KVM or TCG: sets accel
#   vm_boot DIR INITRD LIMIT
#                       boots it, the console (ttyS0) into DIR/console.log,
#                       ttyS1 into DIR/results.log; returns QEMU's status
#                       (124 or 137: killed after LIMIT seconds). While it
#                       runs, the function named by $vm_follow (if set) is
#                       called with DIR and QEMU's pid to show progress.
#
# Environment: SPANALLOC_ACCEL (kvm|tcg, default: probe KVM, else tcg),
# KVM_PROBE_TIMEOUT (s, default 20), JOBS (default 2), SPANALLOC_CACHE.

out=${out:-$here/.test-out}
cache=${SPANALLOC_CACHE:-$HOME/.cache/spanalloc}
jobs=${JOBS:-2}

vm_prepare() {
	# a. packages, b. kernel.
	"$here/scripts/deps.sh"
	KBUILD=$("$here/scripts/kernel.sh")
	SRC=$(readlink -f "$KBUILD/source")
	bzimage=$KBUILD/arch/x86/boot/bzImage
	[ -f "$bzimage" ] || die "no $bzimage"
	mkdir -p "$out"
}

vm_build_modules() {
	local m mods=() have_spanalloc=0

	# c. the modules.
	log "building modules against $KBUILD"
	if ! make -C "$KBUILD" M="$here" -j"$jobs" modules >"$out/build.log" 2>&1; then
		tail -n 60 "$out/build.log" >&2
		die "module build failed (log: $out/build.log)"
	fi
	grep -E 'warning:|error:' "$out/build.log" >&2 || true

	# Exactly the modules this build produced (no stale .ko from old sources).
	while IFS= read -r m; do
		m=${m#"$here"/}
		m=${m%.o}
		m=${m%.ko}
		mods+=("$m.ko")
	done <"$here/modules.order"
	kunit_kos=()
	harness_kos=()
	late_kos=()
	other_kos=()
	for m in "${mods[@]}"; do
		[ -f "$here/$m" ] || die "modules.order names $m, which was not built"
		case "$m" in
		spanalloc.ko) have_spanalloc=1 ;;
		tests/kunit/*) kunit_kos+=("$m") ;;
		tests/harness/*) harness_kos+=("$m") ;;
		tests/sanitizers/*_test.ko) late_kos+=("$m") ;;
		*) other_kos+=("$m") ;;
		esac
	done
	[ "$have_spanalloc" = 1 ] || die "spanalloc.ko was not built"
}

vm_stage() {	# DIR INIT
	local stage=$1 a m

	# d. the initramfs: busybox, /init, modules.
	rm -rf "$stage"
	mkdir -p "$stage"/{bin,sbin,dev,proc,sys,tmp,etc,lib/spanalloc/kunit,lib/spanalloc/harness,lib/spanalloc/late}
	cp /bin/busybox "$stage/bin/busybox"
	for a in $(/bin/busybox --list); do
		[ "$a" = busybox ] || ln -sf busybox "$stage/bin/$a"
	done
	mknod -m 600 "$stage/dev/console" c 5 1 2>/dev/null || true
	install -m 755 "$2" "$stage/init"
	cp "$here/spanalloc.ko" "$stage/lib/spanalloc/"
	for m in "${kunit_kos[@]}"; do cp "$here/$m" "$stage/lib/spanalloc/kunit/"; done
	for m in "${harness_kos[@]}"; do cp "$here/$m" "$stage/lib/spanalloc/harness/"; done
	for m in "${late_kos[@]}"; do cp "$here/$m" "$stage/lib/spanalloc/late/"; done
	for m in "${other_kos[@]}"; do cp "$here/$m" "$stage/lib/spanalloc/"; done
}

vm_pack() {	# DIR OUTPUT
	(cd "$1" && find . -print0 | cpio --null -o -H newc --quiet) | gzip -1 >"$2"
}

# The benchmark's kernel (Debian's stock 6.12) and modules, built by
# scripts/bench.sh: sets kver, tree (the built copy of the sources), kimage;
# and an empty work directory DIR. For scripts/fastpath-trace.sh and
# scripts/profile.sh.
vm_bench_build() {	# DIR
	kver=$(BENCH_BUILD_ONLY=1 "$here/scripts/bench.sh")
	tree=$here/.test-out/bench/tree
	kimage=/boot/vmlinuz-$kver
	rm -rf "$1"
	mkdir -p "$1"
}

# vm_stage for the benchmark module alone, from vm_bench_build's tree.
vm_bench_stage() {	# DIR INIT
	# shellcheck disable=SC2030,SC2034 # vm_stage reads these
	(
		here=$tree
		kunit_kos=()
		harness_kos=()
		late_kos=()
		other_kos=(tests/bench/spanalloc_bench.ko)
		vm_stage "$1" "$2"
	)
}

# The first lines of a benchmark guest's /init: file systems, the console,
# readable kernel addresses.
vm_init_head() {
	cat <<'EOT'
#!/bin/busybox sh
export PATH=/bin:/sbin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mount -t tmpfs tmpfs /tmp
mount -t debugfs debugfs /sys/kernel/debug
exec </dev/console >/dev/console 2>&1
echo 0 >/proc/sys/kernel/kptr_restrict
EOT
}

# e. QEMU: KVM when it boots a kernel, else TCG. Nested KVM can hang in the
# guest kernel, so the probe boots the real kernel with a trivial /init.
vm_probe_kvm() {
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

vm_accel() {
	accel=${SPANALLOC_ACCEL:-}
	if [ -z "$accel" ]; then
		if vm_probe_kvm; then accel=kvm; else accel=tcg; fi
	fi
	log "accelerator: $accel"
}

vm_cmdline="console=ttyS0 panic=-1 oops=panic kasan_multi_shot init_on_alloc=1"
vm_cmdline+=" no_hash_pointers printk.devkmsg=on loglevel=7"

# The machine: 2 NUMA nodes of 256 MiB each (kmemleak's scans take time in
# proportion), half of the $VM_CPUS vCPUs (default 4, even) on each.
vm_cpus=${VM_CPUS:-4}
vm_boot() {	# DIR INITRD LIMIT
	local dir=$1 rc=0 qpid half=$((vm_cpus / 2))

	: >"$dir/console.log"
	: >"$dir/results.log"
	# TCG: one host thread per vCPU (multi-threaded TCG).
	timeout -k 10 "$3" qemu-system-x86_64 -accel "$accel$([ "$accel" = tcg ] && echo ,thread=multi)" \
		-m 512M -smp "$vm_cpus,sockets=2,cores=$half,threads=1" \
		-object memory-backend-ram,id=m0,size=256M \
		-numa "node,nodeid=0,cpus=0-$((half - 1)),memdev=m0" \
		-object memory-backend-ram,id=m1,size=256M \
		-numa "node,nodeid=1,cpus=$half-$((vm_cpus - 1)),memdev=m1" \
		-nodefaults -nographic -no-reboot -monitor none \
		-serial "file:$dir/console.log" -serial "file:$dir/results.log" \
		-kernel "$bzimage" -initrd "$2" \
		-append "$vm_cmdline" </dev/null >"$dir/qemu.log" 2>&1 &
	qpid=$!
	if [ -n "${vm_follow:-}" ]; then
		"$vm_follow" "$dir" "$qpid" &
	fi
	wait "$qpid" || rc=$?
	wait
	return "$rc"
}
