#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Build (or reuse) a spanalloc test kernel from Debian's linux-source-6.12.
#
#   scripts/kernel.sh [FRAGMENT [OVERLAY...]]
#
# tinyconfig merged with FRAGMENT (default tests/config/test-kernel.config),
# then with each OVERLAY in turn: a later assignment of an option wins (for
# example tests/config/nodebugfs.config, the variant without debugfs). Every
# option of the result must survive olddefconfig.
#
# The build is cached under $SPANALLOC_CACHE (default ~/.cache/spanalloc),
# keyed by the source package version and the hash of what makes the kernel:
# the merged options (not the fragments' comments) and the text of
# sa_configure and sa_compile below (as bash prints them: without comments).
# A warm run reuses it; editing the rest of this script does not rebuild.
# Prints the build directory on stdout.
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
cache=${SPANALLOC_CACHE:-$HOME/.cache/spanalloc}
[ $# -gt 0 ] || set -- "$here/tests/config/test-kernel.config"
tarball=/usr/src/linux-source-6.12.tar.xz

log() { echo "kernel: $*" >&2; }

for f in "$@"; do
	[ -f "$f" ] || { log "no fragment $f"; exit 1; }
done
[ -f "$tarball" ] || { log "missing $tarball (run scripts/deps.sh)"; exit 1; }

# The merged fragment: each option once, where it first appears, with its
# last value.
merged=$(awk '
	/^CONFIG_[A-Za-z0-9_]+=/ {
		opt = $0
		sub(/=.*/, "", opt)
		if (!(opt in val))
			order[n++] = opt
		val[opt] = $0
	}
	END { for (i = 0; i < n; i++) print val[order[i]] }' "$@")

# Configure and build $out from $src with $out/spanalloc.config.
sa_configure() {
	make -s -C "$src" O="$out" ARCH=x86_64 tinyconfig >&2
	"$src/scripts/kconfig/merge_config.sh" -m -O "$out" "$out/.config" \
		"$out/spanalloc.config" >/dev/null
	make -s -C "$src" O="$out" ARCH=x86_64 olddefconfig >&2
}
sa_compile() {
	make -s -C "$src" O="$out" ARCH=x86_64 -j"$(nproc)" bzImage modules >&2
	make -s -C "$src" O="$out" ARCH=x86_64 modules_prepare >&2
}

srcver=$(dpkg-query -W -f='${Version}' linux-source-6.12)
src=$cache/linux-source-$srcver
key=$({ echo "$merged"; declare -f sa_configure sa_compile; } | sha256sum | cut -c1-12)
out=$cache/build-$srcver-$key

if [ -f "$out/.spanalloc-done" ]; then
	log "cached build $out"
	echo "$out"
	exit 0
fi

mkdir -p "$cache"
if [ ! -f "$src/.spanalloc-extracted" ]; then
	log "extracting $tarball"
	rm -rf "$src" "$cache/linux-source-6.12"
	tar -C "$cache" -xf "$tarball"
	mv "$cache/linux-source-6.12" "$src"
	touch "$src/.spanalloc-extracted"
fi

rm -rf "$out"
mkdir -p "$out"
echo "$merged" >"$out/spanalloc.config"
log "configuring $out (tinyconfig + $(for f in "$@"; do basename "$f"; done | paste -sd+ -))"
sa_configure

# Every option of the merged fragment must have survived olddefconfig.
bad=0
while IFS= read -r line; do
	case "$line" in
	CONFIG_*=n)
		opt=${line%%=*}
		if grep -q "^$opt=" "$out/.config"; then
			log "config: $opt should be off"; bad=1
		fi ;;
	CONFIG_*=*)
		grep -qx "$line" "$out/.config" || { log "config: $line missing"; bad=1; } ;;
	esac
done <<<"$merged"
[ "$bad" = 0 ] || { rm -rf "$out"; exit 1; }

log "building bzImage and module support with $(nproc) jobs (cold: 4 to 11 min)"
start=$(date +%s)
sa_compile
log "built in $(( $(date +%s) - start )) s"
echo "$(( $(date +%s) - start ))" >"$out/.spanalloc-build-seconds"
touch "$out/.spanalloc-done"
echo "$out"
