#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# `make test-compat`: spanalloc on the kernels people run, Debian 12's stock
# 6.1, 6.12 and 6.12-rt, on a kernel without debugfs, and its packaging
# (DKMS, `make install`).
#
# For each kernel (the newest installable version of its Debian package; for
# 6.12-nodebugfs, our test kernel with tests/config/nodebugfs.config over
# tests/config/test-kernel.config, built and cached by scripts/kernel.sh,
# and no step 1; 6.12-initfree, the same kernel booted with init_on_free=1,
# where the KUnit case api_init_on_free must pass, not skip; 6.12-debug, the
# same kernel with spanalloc loaded debug=1, debug mode for every object,
# where the cases about the plain geometry skip):
#  1. install its image and headers with apt-get (--no-install-recommends,
#     INITRD=No: no initramfs is generated; refuses to run if a bootloader
#     hook would run, unless COMPAT_ALLOW_BOOTLOADER=1);
#  2. build spanalloc.ko and the example client (tests/example/) against the
#     headers with W=1: no warning allowed;
#  3. boot the image in QEMU (2 vCPUs on 2 NUMA nodes, TCG unless KVM boots)
#     with a busybox initramfs whose /init loads spanalloc and the example
#     client, runs an example workload (through debugfs, or without it
#     through the client's module parameters), has drop_caches call
#     spanalloc's shrinker (seen in debugfs "stats": skipped without it),
#     unloads the client, runs the KUnit modules if the kernel has KUnit
#     (their KTAP from the kernel log), runs the kselftests of
#     tests/selftests/spanalloc/ (those that need debugfs skip without it),
#     unloads spanalloc;
#  4. scan the console for kernel reports (scripts/results.py's patterns).
# Then, once: modinfo of spanalloc.ko (version, description, author, license,
# a description for every parameter); `dkms add`/`dkms install` for one kernel,
# found by `modinfo -k`, and a client module built against the DKMS tree;
# `make install` into a staging root, and a client built against that.
#
# Test cases, each counted once in the closing "N passed, N failed[, N
# skipped]" line: per kernel build, load, example-load, example-run,
# shrinker, every KUnit case, every kselftest case (TAP, counted as `make
# test` counts them), unload, console;
# then modinfo, dkms, dkms-client, install, install-client. A step that could
# not run because an earlier one failed counts as failed.
#
# Environment: COMPAT_KERNELS (labels, default "6.1 6.12 6.12-rt
# 6.12-nodebugfs 6.12-initfree 6.12-debug"),
# COMPAT_DKMS_KERNEL (label, default 6.12), COMPAT_TIMEOUT (s per VM, default
# 600), COMPAT_APT_UPDATE=1 (apt-get update even if nothing is missing),
# COMPAT_ALLOW_BOOTLOADER=1, SPANALLOC_ACCEL (kvm|tcg), KVM_PROBE_TIMEOUT,
# JOBS (default 2), SPANALLOC_CACHE. Logs: .test-out/compat/.
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"
out=$here/.test-out/compat
cache=${SPANALLOC_CACHE:-$HOME/.cache/spanalloc}
jobs=${JOBS:-2}
vm_timeout=${COMPAT_TIMEOUT:-600}
labels=${COMPAT_KERNELS:-6.1 6.12 6.12-rt 6.12-nodebugfs 6.12-initfree 6.12-debug}
dkms_label=${COMPAT_DKMS_KERNEL:-6.12}
start=$(date +%s)

log() { echo "compat: $*" >&2; }
die() { log "$*"; exit 1; }
[ "$(id -u)" = 0 ] || die "run as root (installs packages, DKMS, boots QEMU)"

# --- results ---------------------------------------------------------------
passed=0
failed=0
skipped=0
declare -A cell	# cell[label,column] for the table
result() {	# result ok|FAIL|skip NAME [DETAIL]
	case "$1" in
	ok) passed=$((passed + 1)) ;;
	FAIL) failed=$((failed + 1)) ;;
	skip) skipped=$((skipped + 1)) ;;
	esac
	printf '%-4s %s%s\n' "$1" "$2" "${3:+: $3}"
}

# --- host packages and kernels ---------------------------------------------
tools=(build-essential kmod cpio gzip xz-utils rsync python3 git
	qemu-system-x86 busybox-static dkms)

apt_updated=0
apt_update() {
	[ "$apt_updated" = 1 ] && return
	log "apt-get update"
	apt-get update -qq >&2
	apt_updated=1
}
have_pkg() {
	[ "$(dpkg-query -W -f='${db:Status-Abbrev}' "$1" 2>/dev/null)" = "ii " ]
}
available() { apt-cache show --no-all-versions "$1" >/dev/null 2>&1; }

# The kernel without debugfs: our own build (cold: 6 minutes measured).
nodbg=
nodbg_build() {
	[ -z "$nodbg" ] || return 0
	"$here/scripts/deps.sh" || die "scripts/deps.sh failed"
	nodbg=$("$here/scripts/kernel.sh" "$here/tests/config/test-kernel.config" \
		"$here/tests/config/nodebugfs.config") ||
		die "scripts/kernel.sh could not build the kernel without debugfs"
}

# resolve LABEL: sets kver (kernel release), pkgs (packages to install), hdr
# (the tree to build against) and image (the kernel to boot).
resolve() {
	local flavour n k
	kver=
	pkgs=()
	case "$1" in
	6.12-nodebugfs|6.12-initfree|6.12-debug)
		nodbg_build
		kver=$(cat "$nodbg/include/config/kernel.release")
		hdr=$nodbg
		image=$nodbg/arch/x86/boot/bzImage
		return 0 ;;
	6.1)
		n=$(apt-cache show --no-all-versions linux-headers-amd64 2>/dev/null |
			sed -n 's/^Depends:.*\(linux-headers-6\.1\.[^ ,]*-amd64\).*/\1/p' |
			head -n 1)
		[ -n "$n" ] || return 1
		kver=${n#linux-headers-}
		pkgs=(linux-image-amd64 linux-headers-amd64)
		hdr=/usr/src/linux-headers-$kver
		image=/boot/vmlinuz-$kver
		return 0 ;;
	6.12) flavour=amd64 ;;
	6.12-rt) flavour=rt-amd64 ;;
	*) die "unknown kernel label $1 (known: 6.1 6.12 6.12-rt 6.12-nodebugfs 6.12-initfree 6.12-debug)" ;;
	esac
	for n in $(apt-cache pkgnames linux-image-6.12. 2>/dev/null |
		   grep -E "^linux-image-6\.12\.[0-9]+\+deb12-$flavour-unsigned\$" |
		   sort -rV); do
		k=${n#linux-image-}
		k=${k%-unsigned}
		if available "$n" && available "linux-headers-$k"; then
			kver=$k
			pkgs=("$n" "linux-headers-$k")
			hdr=/usr/src/linux-headers-$k
			image=/boot/vmlinuz-$k
			return 0
		fi
	done
	return 1
}

declare -A kvers khdr kimage
resolve_all() {
	local l
	want=()
	for l in $labels; do
		resolve "$l" || return 1
		kvers[$l]=$kver
		khdr[$l]=$hdr
		kimage[$l]=$image
		want+=("${pkgs[@]}")
	done
}

[ "${COMPAT_APT_UPDATE:-0}" = 1 ] && apt_update
if ! resolve_all; then
	apt_update
	resolve_all || die "cannot find the kernel packages for: $labels"
fi
missing=()
for p in "${tools[@]}" "${want[@]}"; do
	have_pkg "$p" || missing+=("$p")
done
for l in $labels; do
	[ -f "${kimage[$l]}" ] || log "${kvers[$l]}: image not installed"
done
if [ ${#missing[@]} -gt 0 ]; then
	# Kernel packages run /etc/kernel/postinst.d: initramfs-tools is skipped
	# with INITRD=No, dkms builds registered modules; a bootloader hook would
	# make the new kernel the default boot entry.
	hooks=$(ls /etc/kernel/postinst.d 2>/dev/null | grep -vxE 'initramfs-tools|dkms' || true)
	if [ -n "$hooks" ] && [ "${COMPAT_ALLOW_BOOTLOADER:-0}" != 1 ]; then
		die "installing kernels would run /etc/kernel/postinst.d/{$(echo $hooks | tr ' ' ,)}" \
		    "(bootloader?): set COMPAT_ALLOW_BOOTLOADER=1 to allow it"
	fi
	t0=$(date +%s)
	[ "$apt_updated" = 1 ] || apt_update
	resolve_all || die "cannot find the kernel packages for: $labels"
	missing=()
	for p in "${tools[@]}" "${want[@]}"; do
		have_pkg "$p" || missing+=("$p")
	done
	log "installing: ${missing[*]}"
	mkdir -p "$out"
	DEBIAN_FRONTEND=noninteractive INITRD=No apt-get install -y -q \
		--no-install-recommends "${missing[@]}" >"$out/apt.log" 2>&1 ||
		{ tail -n 30 "$out/apt.log" >&2; die "apt-get install failed (log: $out/apt.log)"; }
	log "packages installed in $(( $(date +%s) - t0 )) s"
fi
for l in $labels; do
	log "$l: ${kvers[$l]}"
done

# --- sources ----------------------------------------------------------------
rm -rf "$out"/src "$out"/k-* "$out"/dkms "$out"/install
mkdir -p "$out/src"
# The working tree's sources (tracked and new, not ignored): never its
# build products, which may belong to another kernel.
if git -C "$here" rev-parse --git-dir >/dev/null 2>&1; then
	git -C "$here" ls-files -z --cached --others --exclude-standard |
		(cd "$here" && rsync -a --from0 --files-from=- --ignore-missing-args ./ "$out/src/")
else
	rsync -a --exclude=.test-out --exclude='*.o' --exclude='*.ko' --exclude='.*.cmd' \
		--exclude='*.mod' --exclude='*.mod.c' --exclude=Module.symvers \
		--exclude=modules.order "$here/" "$out/src/"
fi
have_example=0
[ -f "$out/src/tests/example/Kbuild" ] && grep -q 'tests/example' "$out/src/Kbuild" &&
	have_example=1
st=$out/src/tests/selftests/spanalloc
progs=
if [ -d "$st" ]; then
	if [ -f "$st/Makefile" ]; then
		progs=$(sed -e ':a' -e '/\\$/N; s/\\\n/ /; ta' "$st/Makefile" |
			sed -n 's/^[[:space:]]*TEST_PROGS[[:space:]]*[:+?]*=//p' |
			tr -s ' \t' '\n' | sed '/^$/d')
	else
		progs=$(cd "$st" && ls -1 -- *.sh 2>/dev/null | sort)
	fi
fi
expect_ksft=$(printf '%s\n' $progs | paste -sd, -)

# --- QEMU accelerator (as scripts/test.sh, sharing its verdict) --------------
probe_kvm() {	# probe_kvm BZIMAGE
	local p=$out/kvm-probe key
	[ -w /dev/kvm ] || return 1
	key=$(printf '%s %s' "$(uname -r)" "$(qemu-system-x86_64 --version | head -1)" |
		sha256sum | cut -c1-12)
	[ -f "$cache/kvm-broken-$key" ] && return 1
	rm -rf "$p"
	mkdir -p "$p/root/bin" "$p/root/dev"
	cp /bin/busybox "$p/root/bin/"
	printf '#!/bin/busybox sh\n/bin/busybox echo spanalloc-kvm-probe-ok\n/bin/busybox poweroff -f\n' \
		>"$p/root/init"
	chmod +x "$p/root/init"
	(cd "$p/root" && find . | cpio -o -H newc --quiet) | gzip -1 >"$p/initrd"
	timeout -k 5 "${KVM_PROBE_TIMEOUT:-20}" qemu-system-x86_64 -accel kvm \
		-m 512 -nodefaults -nographic -no-reboot -monitor none \
		-serial "file:$p/console.log" -kernel "$1" -initrd "$p/initrd" \
		-append "console=ttyS0 panic=-1" </dev/null >"$p/qemu.log" 2>&1 || true
	grep -q spanalloc-kvm-probe-ok "$p/console.log" 2>/dev/null && return 0
	log "KVM did not boot a guest within ${KVM_PROBE_TIMEOUT:-20} s: using TCG"
	mkdir -p "$cache"
	touch "$cache/kvm-broken-$key"
	return 1
}
accel=${SPANALLOC_ACCEL:-}

# --- the guest's /init --------------------------------------------------------
# Results go to ttyS1 between "SA-" markers, as tests/guest/init writes them
# (scripts/results.py parses both); progress to the kernel log, prefixed
# "spanalloc-init:", never with a word the console scan looks for.
write_init() {
	cat >"$1" <<'EOF'
#!/bin/busybox sh
export PATH=/bin:/sbin
/bin/busybox mount -t proc proc /proc
/bin/busybox mount -t sysfs sysfs /sys
/bin/busybox mount -t devtmpfs devtmpfs /dev
exec </dev/console >/dev/console 2>&1
mount -t debugfs debugfs /sys/kernel/debug
[ -d /sys/kernel/tracing ] && mount -t tracefs tracefs /sys/kernel/tracing 2>/dev/null
say() { echo "spanalloc-init: $*" >/dev/kmsg; }
stty -F /dev/ttyS1 raw -echo 2>/dev/null
exec 3>/dev/ttyS1
res() { echo "$*" >&3; }
lib=/lib/spanalloc
say "start (compat)"
res "SA-START $(uname -r) compat"
for ko in $(ls $lib/deps/*.ko 2>/dev/null); do
	insmod "$ko" || res "SA-ERROR dependency ${ko##*/} did not load"
done
say "insmod spanalloc $(cat $lib/spanalloc.args 2>/dev/null)"
# shellcheck disable=SC2046 # the file holds module parameters, split on purpose
if insmod $lib/spanalloc.ko $(cat $lib/spanalloc.args 2>/dev/null); then
	res "SA-LOADED spanalloc"
else
	res "SA-INSMOD-FAIL spanalloc"
fi
ex=/sys/kernel/debug/spanalloc_example
if [ -f $lib/tests/example/spanalloc_example.ko ]; then
	say "insmod spanalloc_example"
	if insmod $lib/tests/example/spanalloc_example.ko; then
		res "SA-COMPAT-EXAMPLE-LOADED"
		# Without debugfs, the same files are module parameters.
		[ -d $ex ] || ex=/sys/module/spanalloc_example/parameters
		if [ -w $ex/run ]; then
			say "example run 2000 ($ex)"
			res "SA-COMPAT-EXAMPLE-BEGIN"
			res "via: $ex"
			res "cpus: $(nproc)"
			res "per-cpu: 2000"
			echo 2000 >$ex/run
			res "run-status: $?"
			sed 's/^/held./' $ex/held >&3
			echo 1 >$ex/free
			res "free-status: $?"
			sed 's/^/after./' $ex/held >&3
			sed 's/^/error./' $ex/errors >&3
			res "SA-COMPAT-EXAMPLE-END"
		fi
		# The shrinker (the API that differs most between kernels):
		# reclaiming slab objects must reach it while pages are free.
		sa=/sys/kernel/debug/spanalloc/stats
		if [ -r $sa ]; then
			pf=$(sed -n 's/^pages_free: //p' $sa)
			s0=$(sed -n 's/^shrinker_pages: //p' $sa)
			say "drop_caches"
			echo 2 >/proc/sys/vm/drop_caches
			s1=$(sed -n 's/^shrinker_pages: //p' $sa)
			res "SA-COMPAT-SHRINK pages_free=$pf before=$s0 after=$s1"
		fi
		say "rmmod spanalloc_example"
		rmmod spanalloc_example || res "SA-RMMOD-FAIL spanalloc_example"
	else
		res "SA-INSMOD-FAIL spanalloc_example"
	fi
fi
# KUnit modules (on a kernel with KUnit): their KTAP from the kernel log,
# which has it with or without debugfs. Every suite but spanalloc_stress,
# whose quota of cross-CPU frees a kernel without KASAN misses (see
# docs/compat.md); make test runs it.
kf=/sys/module/kunit/parameters/filter_glob
[ -w $kf ] && printf %s 'spanalloc_[!s]*' >$kf	# no newline: it would be matched
for ko in $(ls $lib/kunit/*.ko 2>/dev/null); do
	name=$(basename "$ko" .ko | tr - _)
	say "insmod $name"
	res "SA-KUNIT-MODULE $name"
	dmesg -c >/dev/null
	if insmod "$ko"; then
		res "SA-KTAP-BEGIN $name dmesg"
		dmesg >&3
		res "SA-KTAP-END $name dmesg"
		rmmod "$name" || res "SA-RMMOD-FAIL $name"
	else
		res "SA-INSMOD-FAIL $name"
	fi
done
st=$lib/selftests
if [ -f $st/.sa-progs ]; then
	while read -r prog; do
		[ -n "$prog" ] || continue
		say "kselftest $prog"
		res "SA-KSFT-BEGIN $prog"
		if head -c 2 "$st/$prog" | grep -q '^#!'; then
			(cd $st && timeout 300 sh "./$prog") >&3 2>&1 </dev/null
		else
			(cd $st && timeout 300 "./$prog") >&3 2>&1 </dev/null
		fi
		rc=$?
		res ""
		res "SA-KSFT-END $prog rc=$rc"
	done <$st/.sa-progs
fi
if grep -q '^spanalloc ' /proc/modules; then
	say "rmmod spanalloc"
	if rmmod spanalloc; then
		res "SA-COMPAT-UNLOADED"
	else
		res "SA-RMMOD-FAIL spanalloc"
	fi
fi
res "SA-DONE"
exec 3>&-
sleep 1
say "all done"
poweroff -f
EOF
	chmod 755 "$1"
}

# --- the judge (reuses scripts/results.py) ------------------------------------
# Prints "ok|FAIL|skip NAME[: DETAIL]" lines, one per test case, for a kernel.
# MUST_PASS: KUnit case names that must pass, not skip; CONSOLE_NEEDS: a
# string the console must hold (both may be empty).
judge() {	# judge DIR EXPECT_KSFT HAVE_EXAMPLE TIMED_OUT EXPECT_KUNIT KERNEL_TREE MUST_PASS CONSOLE_NEEDS
	python3 - "$@" "$here/scripts" <<'EOF'
import contextlib, io, os, re, sys
(d, expect_ksft, have_example, timed_out, expect_kunit, ktree, must_pass,
 console_needs, scripts) = sys.argv[1:10]
sys.path.insert(0, scripts)
import results as R

console = R.read_lines(d + '/console.log')
chan = R.read_lines(d + '/results.log')
ch = R.parse_channel(chan)
cases = []
def case(ok, name, detail=''):
    cases.append(('ok' if ok is True else 'skip' if ok is None else 'FAIL',
                  name, detail))

hung = ' (VM hung)' if timed_out != '0' else ''
if ch['start'] is None:
    why = 'not run: the guest /init never started' + hung
    names = ['load'] + (['example-load', 'example-run', 'shrinker']
                        if have_example == '1' else [])
    names += ['kunit ' + m for m in expect_kunit.split(',') if m]
    names += ['kselftest ' + p for p in expect_ksft.split(',') if p]
    for n in names + ['unload']:
        print('FAIL\t%s\t%s' % (n, why))
    r2 = R.Run()
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        R.scan_console(r2, console, d + '/console.log')
    for l in buf.getvalue().splitlines():
        print('    ' + l, file=sys.stderr)
    print('%s\tconsole\t%s' % ('FAIL' if r2.problems else 'ok',
                               '; '.join(r2.problems)))
    print('KSFT\tnot run\t')
    sys.exit(0)
else:
    case(ch['loaded'] and 'spanalloc' not in ch['insmod_fail'], 'load',
         'insmod spanalloc failed' if not ch['loaded'] else '')
if have_example == '1':
    loaded = 'SA-COMPAT-EXAMPLE-LOADED' in chan
    case(loaded, 'example-load', '' if loaded else 'insmod spanalloc_example failed')
    body, inside = [], False
    for l in chan:
        if l == 'SA-COMPAT-EXAMPLE-BEGIN':
            inside = True
        elif l == 'SA-COMPAT-EXAMPLE-END':
            inside = False
        elif inside:
            body.append(l)
    bad = []
    for l in body:
        k, _, v = l.partition(':')
        v = v.strip()
        # Exit status of the writes, every error counter, and what is
        # still held after "free" must be 0.
        if (k.endswith('-status') or k.startswith('error.') or
                k == 'after.objects') and v != '0':
            bad.append(l)
    if not any(l.startswith('error.') for l in body):
        bad.append('no error counters')
    # The counts: every object allocated, a third freed from another CPU,
    # the rest held until "free".
    kv = dict((k, v.strip()) for k, _, v in (l.partition(':') for l in body))
    try:
        n = int(kv['cpus']) * int(kv['per-cpu'])
        got = {k: int(kv[k]) for k in ('held.runs', 'held.allocated',
               'held.freed', 'held.objects', 'after.allocated',
               'after.freed')}
    except (KeyError, ValueError) as e:
        bad.append('counts missing: %s' % e)
    else:
        if got['held.runs'] != 1 or got['held.allocated'] != n:
            bad.append('held: %d runs, %d allocated; want 1 run, %d'
                       % (got['held.runs'], got['held.allocated'], n))
        if got['held.freed'] != int(kv['cpus']) * (int(kv['per-cpu']) // 3):
            bad.append('held: %d freed from another CPU, want a third: %d'
                       % (got['held.freed'],
                          int(kv['cpus']) * (int(kv['per-cpu']) // 3)))
        if got['held.objects'] != got['held.allocated'] - got['held.freed']:
            bad.append('held: %d objects, not allocated - freed = %d'
                       % (got['held.objects'],
                          got['held.allocated'] - got['held.freed']))
        if got['after.freed'] != got['after.allocated']:
            bad.append('after free: %d freed of %d allocated'
                       % (got['after.freed'], got['after.allocated']))
    if not loaded:
        case(False, 'example-run', 'not run')
    elif not body:
        case(False, 'example-run', 'no output (no run file?)')
    else:
        case(not bad, 'example-run', '; '.join(bad) or
             'through %s: %s allocated, %s freed on another CPU, %s held, '
             'then all freed' % (kv.get('via'), kv.get('held.allocated'),
                                 kv.get('held.freed'), kv.get('held.objects')))
        if 'SA-COMPAT-EXAMPLE-END' not in chan:
            cases[-1] = ('FAIL', 'example-run', 'did not finish' + hung)

if have_example == '1' and loaded:
    sh = [l for l in chan if l.startswith('SA-COMPAT-SHRINK ')]
    if not sh:
        case(None, 'shrinker', 'no debugfs stats')
    else:
        kv = dict(w.split('=', 1) for w in sh[0].split()[1:] if '=' in w)
        if not kv.get('before') or not kv.get('after'):
            case(None, 'shrinker', 'no shrinker_pages in debugfs stats')
        elif kv.get('pages_free', '0') in ('', '0'):
            case(None, 'shrinker', 'no free pages to give back')
        else:
            ok = int(kv['after']) > int(kv['before'])
            case(ok, 'shrinker', 'drop_caches: %s free pages, shrinker gave back %d'
                 % (kv['pages_free'], int(kv['after']) - int(kv['before'])))

# KUnit: each module's kernel log parsed by kunit.py (results.py's
# kunit_parse), a case per test case where kunit.py's output names them all.
KUNIT_LEAF = re.compile(r'^\[[0-9:]+\] \[(PASSED|FAILED|SKIPPED|CRASHED)\] (.*)$')
for mod in [m for m in expect_kunit.split(',') if m]:
    logs = [l for m, _s, l in ch['suites'] if m == mod]
    if mod in ch['insmod_fail']:
        case(False, 'kunit ' + mod, 'insmod failed')
        continue
    if not logs:
        case(False, 'kunit ' + mod, 'never ran' + hung)
        continue
    with open('%s/kunit-%s.log' % (d, mod), 'w') as f:
        f.write('\n'.join(logs[0]) + '\n')
    run = R.Run()
    out = R.kunit_parse(run, '%s/kunit-%s.log' % (d, mod),
                        os.path.realpath(ktree + '/source'),
                        '%s/kunit-%s.txt' % (d, mod))
    if run.failed or run.problems:
        for l in out:
            print('    ' + l, file=sys.stderr)
    leaves = [m.groups() for m in map(KUNIT_LEAF.match, out) if m]
    st = {'PASSED': 'ok', 'SKIPPED': 'skip'}
    counts = tuple(sum(1 for r, _n in leaves if st.get(r, 'FAIL') == want)
                   for want in ('ok', 'FAIL', 'skip'))
    if leaves and counts == (run.passed, run.failed, run.skipped):
        for r, n in leaves:
            cases.append((st.get(r, 'FAIL'), 'kunit %s: %s' % (mod, n), ''))
    else:
        for stt, k in (('ok', run.passed), ('FAIL', run.failed),
                       ('skip', run.skipped)):
            cases.extend([(stt, 'kunit ' + mod, '')] * k)
    if run.problems and not run.failed:
        cases.append(('FAIL', 'kunit ' + mod, '; '.join(run.problems)))

# A boot made for certain cases: they must have passed, not skipped.
for n in [n for n in must_pass.split(',') if n]:
    got = [st for st, name, _d in cases
           if name.startswith('kunit ') and name.endswith(': ' + n)]
    case(got == ['ok'], 'kunit case %s passed' % n,
         '' if got == ['ok'] else 'got %s' % (', '.join(got) or 'nothing'))
if console_needs:
    case(any(console_needs in l for l in console), 'console: %s' % console_needs,
         '' if any(console_needs in l for l in console) else 'not in the console')

# kselftests: counted by results.py's judge_ksft, one case per TAP result,
# program by program, each case named after its TAP line where they agree.
totals = [0, 0, 0]
seen = {prog for prog, _l, _rc in ch['ksft']}
for prog in [p for p in expect_ksft.split(',') if p]:
    if prog not in seen:
        case(False, 'kselftest ' + prog, 'never ran' + hung)
        totals[1] += 1
for prog, lines, rc in ch['ksft']:
    run = R.Run()
    buf = io.StringIO()
    one = dict(ch, ksft=[(prog, lines, rc)])
    with contextlib.redirect_stdout(buf):
        R.judge_ksft(run, one, type('A', (), {'expect_ksft': prog})())
    for l in buf.getvalue().splitlines():
        if not l.startswith('---'):
            print('    ' + l, file=sys.stderr)
    totals[0] += run.passed
    totals[1] += run.failed
    totals[2] += run.skipped
    tap = []
    for l in lines:
        m = R.TAP_RESULT.match(l)
        if not m:
            continue
        desc, _, directive = m.group(2).partition('#')
        directive = directive.strip().upper()
        st = ('skip' if directive.startswith('SKIP') else
              'ok' if m.group(1) == 'ok' or directive.startswith('TODO')
              else 'FAIL')
        tap.append((st, desc.strip(' -')))
    counts = (sum(1 for t in tap if t[0] == 'ok'),
              sum(1 for t in tap if t[0] == 'FAIL'),
              sum(1 for t in tap if t[0] == 'skip'))
    if counts == (run.passed, run.failed, run.skipped) and tap:
        for st, desc in tap:
            cases.append((st, 'kselftest %s: %s' % (prog, desc), ''))
    else:
        # No TAP (exit status only), or the program was cut short.
        why = {'FAIL': '; '.join(run.problems), 'ok': '', 'skip': ''}
        for l in lines:
            m = re.match(r'^1\.\.0\s*#\s*SKIP\s*(.*)', l)
            if m:
                why['skip'] = m.group(1)
        for st, n in (('ok', run.passed), ('FAIL', run.failed),
                      ('skip', run.skipped)):
            for i in range(n):
                cases.append((st, 'kselftest %s' % prog, why[st]))
if sum(totals):
    summary = '%d passed, %d failed, %d skipped' % tuple(totals)
else:
    summary = 'none'

unl = 'SA-COMPAT-UNLOADED' in chan and ch['done'] and not ch['rmmod_fail']
why = ''
if ch['rmmod_fail']:
    why = 'rmmod failed: ' + ' '.join(ch['rmmod_fail'])
elif not ch['done']:
    why = 'the guest stopped before the end' + hung
case(unl, 'unload', why)
for e in ch['errors']:
    cases.append(('FAIL', 'guest', e))

r2 = R.Run()
buf = io.StringIO()
with contextlib.redirect_stdout(buf):
    R.scan_console(r2, console, d + '/console.log')
for l in buf.getvalue().splitlines():
    print('    ' + l, file=sys.stderr)
case(not r2.problems, 'console', '; '.join(r2.problems))

for st, name, detail in cases:
    print('%s\t%s\t%s' % (st, name, detail))
print('KSFT\t%s\t' % summary)
EOF
}

# --- per kernel -----------------------------------------------------------------
col() {	# col LABEL COLUMN VALUE
	cell[$1,$2]=$3
}
rows=()
for l in $labels; do
	kver=${kvers[$l]}
	kd=$out/k-$l
	name="$l ($kver)"
	rows+=("$l")
	mkdir -p "$kd"
	hdr=${khdr[$l]}
	col "$l" kernel "$kver"

	# Build, W=1, from a clean copy of the sources.
	t0=$(date +%s)
	rsync -a "$out/src/" "$kd/src/"
	log "$name: building (W=1)"
	brc=0
	make -C "$hdr" M="$kd/src" W=1 -j"$jobs" modules >"$kd/build.log" 2>&1 || brc=$?
	warns=$(grep -E 'warning:|error:|WARNING:|ERROR:' "$kd/build.log" || true)
	built=1
	# The KUnit modules, where the kernel has KUnit (Kbuild builds them).
	kunit_kos=()
	if grep -q '^CONFIG_KUNIT=[ym]' "$hdr/.config" 2>/dev/null; then
		mapfile -t kunit_kos < <(sed -n 's|^\(.*/\)\{0,1\}\(tests/kunit/[^/]*\)\.o$|\2.ko|p' "$kd/src/modules.order" 2>/dev/null)
		[ ${#kunit_kos[@]} -gt 0 ] || built=0
	fi
	for ko in spanalloc.ko $( [ "$have_example" = 1 ] && echo tests/example/spanalloc_example.ko) "${kunit_kos[@]}"; do
		[ -f "$kd/src/$ko" ] || built=0
	done
	expect_kunit=$(for ko in "${kunit_kos[@]}"; do basename "$ko" .ko; done | tr - _ | paste -sd, -)
	if [ "$brc" = 0 ] && [ "$built" = 1 ] && [ -z "$warns" ]; then
		result ok "$name: build" "$(( $(date +%s) - t0 )) s"
		col "$l" build ok
	else
		result FAIL "$name: build" "make exit $brc, $(echo "$warns" | grep -c . || true) warnings/errors (log: $kd/build.log)"
		echo "$warns" | head -n 20 | sed 's/^/    /' >&2
		col "$l" build FAIL
	fi
	if [ "$built" != 1 ]; then
		for c in load $( [ "$have_example" = 1 ] && echo example-load example-run shrinker) unload console; do
			result FAIL "$name: $c" "not run: no module"
		done
		col "$l" load "not run"; col "$l" ksft "not run"; col "$l" unload "not run"
		continue
	fi

	# The initramfs.
	stage=$kd/initramfs
	mkdir -p "$stage"/{bin,sbin,dev,proc,sys,tmp,etc,lib/spanalloc/deps,lib/spanalloc/tests/example,lib/spanalloc/kunit}
	cp /bin/busybox "$stage/bin/busybox"
	for a in $(/bin/busybox --list); do
		[ "$a" = busybox ] || ln -sf busybox "$stage/bin/$a"
	done
	write_init "$stage/init"
	# Module parameters of spanalloc for this boot.
	if [ "$l" = 6.12-debug ]; then echo debug=1 >"$stage/lib/spanalloc/spanalloc.args"; fi
	cp "$kd/src/spanalloc.ko" "$stage/lib/spanalloc/"
	[ "$have_example" = 1 ] && cp "$kd/src/tests/example/spanalloc_example.ko" "$stage/lib/spanalloc/tests/example/"
	for ko in "${kunit_kos[@]}"; do
		cp "$kd/src/$ko" "$stage/lib/spanalloc/kunit/"
	done
	# Modules of the kernel that spanalloc needs (none so far), decompressed.
	i=0
	for dep in $(modinfo -F depends "$kd/src/spanalloc.ko" | tr , ' '); do
		for f in $(modprobe -S "$kver" --show-depends "$dep" | awk '$1 == "insmod" {print $2}'); do
			i=$((i + 1))
			case "$f" in
			*.xz) xz -dc "$f" ;; *.zst) zstd -dc "$f" ;; *.gz) gzip -dc "$f" ;; *) cat "$f" ;;
			esac >"$stage/lib/spanalloc/deps/$(printf %02d $i)-$(basename "${f%.ko*}").ko"
		done
	done
	if [ -n "$progs" ]; then
		cp -a "$st" "$stage/lib/spanalloc/selftests"
		printf '%s\n' $progs >"$stage/lib/spanalloc/selftests/.sa-progs"
	fi
	(cd "$stage" && find . -print0 | cpio --null -o -H newc --quiet) | gzip -1 >"$kd/initramfs.cpio.gz"

	# Boot.
	vmlinuz=${kimage[$l]}
	kargs= must_pass= console_needs=
	if [ "$l" = 6.12-initfree ]; then
		kargs=" init_on_free=1"
		must_pass=api_init_on_free
		console_needs="heap free:on"
	fi
	if [ "$l" = 6.12-debug ]; then
		must_pass=debug_largest_objects
		console_needs="debug mode for every object (debug=1)"
	fi
	if [ -z "$accel" ]; then
		if probe_kvm "$vmlinuz"; then accel=kvm; else accel=tcg; fi
		log "accelerator: $accel"
	fi
	# A kernel that dies before /init ran never met spanalloc (seen once in
	# a few dozen boots: an int3 Oops in the RT kernel's timer softirq under
	# TCG); boot once more, keeping the first logs as *.try1.
	for try in 1 2; do
		log "$name: booting ($accel, timeout $vm_timeout s); console: $kd/console.log"
		: >"$kd/console.log"
		: >"$kd/results.log"
		t0=$(date +%s)
		rc=0
		timeout -k 10 "$vm_timeout" qemu-system-x86_64 -accel "$accel" \
			-m 2G -smp 2,sockets=2,cores=1,threads=1 \
			-object memory-backend-ram,id=m0,size=1G \
			-numa node,nodeid=0,cpus=0,memdev=m0 \
			-object memory-backend-ram,id=m1,size=1G \
			-numa node,nodeid=1,cpus=1,memdev=m1 \
			-nodefaults -nographic -no-reboot -monitor none \
			-serial "file:$kd/console.log" -serial "file:$kd/results.log" \
			-kernel "$vmlinuz" -initrd "$kd/initramfs.cpio.gz" \
			-append "console=ttyS0 panic=-1 oops=panic loglevel=7 printk.devkmsg=on no_hash_pointers$kargs" \
			</dev/null >"$kd/qemu.log" 2>&1 || rc=$?
		timed_out=0
		if [ "$rc" = 124 ] || [ "$rc" = 137 ]; then
			timed_out=$vm_timeout
			log "$name: VM hung, killed after $vm_timeout s; console tail:"
			tail -n 30 "$kd/console.log" | sed 's/^/    /' >&2
		elif [ "$rc" != 0 ]; then
			log "$name: qemu exited $rc:"
			sed 's/^/    /' "$kd/qemu.log" >&2
		fi
		log "$name: VM ran $(( $(date +%s) - t0 )) s"
		grep -q '^SA-START' "$kd/results.log" && break
		[ "$try" = 2 ] && break
		for f in console.log results.log qemu.log; do
			mv "$kd/$f" "$kd/$f.try1"
		done
		log "$name: the kernel stopped before /init ran (spanalloc not loaded yet): booting again; first console: $kd/console.log.try1"
		grep -m 3 -E 'Oops|BUG|Kernel panic|WARNING' "$kd/console.log.try1" | sed 's/^/    /' >&2 || true
	done
	ksft=none
	while IFS=$'\t' read -r st_ case_ detail; do
		if [ "$st_" = KSFT ]; then
			ksft=$case_
			continue
		fi
		result "$st_" "$name: $case_" "$detail"
		case "$case_" in
		load|unload) col "$l" "$case_" "$st_" ;;
		esac
	done < <(judge "$kd" "$expect_ksft" "$have_example" "$timed_out" "$expect_kunit" "$hdr" \
			"$must_pass" "$console_needs")
	col "$l" ksft "$ksft"
done

# --- modinfo ------------------------------------------------------------------------
pkgver=$(sed -n 's/^MODULE_VERSION("\([^"]*\)");$/\1/p' "$out/src/spanmod.c" | head -n 1)
first=$(echo $labels | cut -d' ' -f1)
ko=$out/k-$first/src/spanalloc.ko
if [ -f "$ko" ]; then
	problems=()
	for f in version description author license; do
		[ -n "$(modinfo -F "$f" "$ko")" ] || problems+=("no $f")
	done
	[ "$(modinfo -F version "$ko")" = "$pkgver" ] || problems+=("version is not $pkgver")
	# Raw .modinfo: every parmtype=NAME:TYPE needs a parm=NAME:DESCRIPTION.
	mi=$(objcopy -O binary --only-section=.modinfo "$ko" /dev/stdout | tr '\0' '\n')
	nparm=0
	for p in $(echo "$mi" | sed -n 's/^parmtype=\([^:]*\):.*/\1/p'); do
		nparm=$((nparm + 1))
		echo "$mi" | grep -q "^parm=$p:." || problems+=("parameter $p has no MODULE_PARM_DESC")
	done
	if [ ${#problems[@]} = 0 ]; then
		result ok "modinfo" "version $pkgver, $nparm parameters described"
	else
		result FAIL "modinfo" "$(IFS=';'; echo "${problems[*]}")"
	fi
else
	result FAIL "modinfo" "not run: no module"
fi

# --- DKMS ---------------------------------------------------------------------------
# Client module: the example, built alone against an installed spanalloc.
client_build() {	# client_build DIR HEADERS INCLUDE_DIR SYMVERS
	rm -rf "$1"
	mkdir -p "$1"
	cp "$out/src/tests/example/spanalloc_example.c" "$1/"
	printf 'obj-m := spanalloc_example.o\nccflags-y := -I%s\n' "$3" >"$1/Kbuild"
	make -C "$2" M="$1" W=1 KBUILD_EXTRA_SYMBOLS="$4" modules >"$1/build.log" 2>&1 &&
		[ -f "$1/spanalloc_example.ko" ] &&
		! grep -qE 'warning:|error:|WARNING:|ERROR:' "$1/build.log"
}

dkms_kver=${kvers[$dkms_label]:-}
dd=$out/dkms
mkdir -p "$dd"
dkms_cleanup() {
	dkms remove "spanalloc/$pkgver" --all >>"$dd/dkms.log" 2>&1 || true
	rm -rf "/usr/src/spanalloc-$pkgver"
}
if [ -z "$dkms_kver" ]; then
	result skip "dkms" "kernel $dkms_label not in the matrix"
elif [ -n "$(dkms status spanalloc 2>/dev/null)" ]; then
	result skip "dkms" "spanalloc is already registered with DKMS ($(dkms status spanalloc | head -1)): remove it to run this test"
else
	t0=$(date +%s)
	trap dkms_cleanup EXIT
	rsync -a "$out/src/" "$dd/src/"
	why=
	if ! dkms add "$dd/src" >"$dd/dkms.log" 2>&1; then
		why="dkms add failed"
	elif ! dkms install -k "$dkms_kver" "spanalloc/$pkgver" >>"$dd/dkms.log" 2>&1; then
		why="dkms install failed"
	else
		f=$(modinfo -k "$dkms_kver" -F filename spanalloc 2>/dev/null || true)
		v=$(modinfo -k "$dkms_kver" -F version spanalloc 2>/dev/null || true)
		case "$f" in
		/lib/modules/"$dkms_kver"/updates/dkms/spanalloc.ko*) ;;
		*) why="modinfo -k $dkms_kver spanalloc finds '${f:-nothing}'" ;;
		esac
		[ -n "$why" ] || [ "$v" = "$pkgver" ] || why="installed version '$v', not $pkgver"
	fi
	if [ -z "$why" ]; then
		result ok "dkms" "dkms install -k $dkms_kver: $f ($(( $(date +%s) - t0 )) s)"
		symvers=/var/lib/dkms/spanalloc/$pkgver/$dkms_kver/$(uname -m)/Module.symvers
		if [ "$have_example" != 1 ]; then
			result skip "dkms-client" "no tests/example"
		elif client_build "$dd/client" "/usr/src/linux-headers-$dkms_kver" \
			"/usr/src/spanalloc-$pkgver/include" "$symvers"; then
			result ok "dkms-client" "example built against /usr/src/spanalloc-$pkgver/include and $symvers"
		else
			result FAIL "dkms-client" "log: $dd/client/build.log"
		fi
	else
		result FAIL "dkms" "$why (log: $dd/dkms.log)"
		tail -n 20 "$dd/dkms.log" | sed 's/^/    /' >&2
		result FAIL "dkms-client" "not run"
	fi
	dkms_cleanup
	trap - EXIT
	if modinfo -k "$dkms_kver" spanalloc >/dev/null 2>&1; then
		log "warning: spanalloc still installed for $dkms_kver after dkms remove"
	fi
fi

# --- make install (into a staging root) ----------------------------------------------
ik=$dkms_kver
ihdr=${khdr[$dkms_label]:-}
[ -n "$ik" ] || { ik=${kvers[$first]}; ihdr=${khdr[$first]}; }
idir=$out/install
root=$idir/root
mkdir -p "$idir"
rsync -a "$out/src/" "$idir/src/"
why=
if ! make -C "$idir/src" install KDIR="$ihdr" \
	INSTALL_MOD_PATH="$root" DESTDIR="$root" >"$idir/install.log" 2>&1; then
	why="make install failed (log: $idir/install.log)"
	tail -n 20 "$idir/install.log" | sed 's/^/    /' >&2
else
	f=$(modinfo -b "$root" -k "$ik" -F filename spanalloc 2>/dev/null || true)
	[ -n "$f" ] || why="modinfo -b $root -k $ik finds no spanalloc"
	for x in usr/local/include/spanalloc/spanalloc.h "usr/local/share/spanalloc/$ik/Module.symvers"; do
		[ -f "$root/$x" ] || why="${why:+$why; }no /$x"
	done
fi
if [ -z "$why" ]; then
	result ok "install" "${f#"$root"}, /usr/local/include/spanalloc/spanalloc.h, /usr/local/share/spanalloc/$ik/Module.symvers"
	if [ "$have_example" != 1 ]; then
		result skip "install-client" "no tests/example"
	elif client_build "$idir/client" "$ihdr" \
		"$root/usr/local/include/spanalloc" "$root/usr/local/share/spanalloc/$ik/Module.symvers"; then
		result ok "install-client" "example built against the installed header and Module.symvers"
	else
		result FAIL "install-client" "log: $idir/client/build.log"
	fi
else
	result FAIL "install" "$why"
	result FAIL "install-client" "not run"
fi

# --- table -------------------------------------------------------------------------
echo
echo "| kernel | build | load | kselftests | unload |"
echo "|---|---|---|---|---|"
for l in "${rows[@]}"; do
	echo "| $l (${cell[$l,kernel]}) | ${cell[$l,build]:-} | ${cell[$l,load]:-} | ${cell[$l,ksft]:-} | ${cell[$l,unload]:-} |"
done
echo
log "total $(( $(date +%s) - start )) s"
line="$passed passed, $failed failed"
[ "$skipped" = 0 ] || line+=", $skipped skipped"
echo "$line"
[ "$failed" = 0 ]
