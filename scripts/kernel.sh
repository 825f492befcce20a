#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Build (or reuse) the spanalloc test kernel from Debian's linux-source-6.12.
#
# The build is cached under $SPANALLOC_CACHE (default ~/.cache/spanalloc),
# keyed by the source package version and the hash of the config fragment and
# this script, so a warm run reuses it. Prints the build directory on stdout.
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
cache=${SPANALLOC_CACHE:-$HOME/.cache/spanalloc}
frag=${1:-$here/tests/config/test-kernel.config}
tarball=/usr/src/linux-source-6.12.tar.xz

log() { echo "kernel: $*" >&2; }

[ -f "$tarball" ] || { log "missing $tarball (run scripts/deps.sh)"; exit 1; }
srcver=$(dpkg-query -W -f='${Version}' linux-source-6.12)
src=$cache/linux-source-$srcver
key=$(cat "$frag" "$0" | sha256sum | cut -c1-12)
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
log "configuring $out (tinyconfig + $(basename "$frag"))"
make -s -C "$src" O="$out" ARCH=x86_64 tinyconfig >&2
"$src/scripts/kconfig/merge_config.sh" -m -O "$out" "$out/.config" "$frag" >/dev/null
make -s -C "$src" O="$out" ARCH=x86_64 olddefconfig >&2

# Every option of the fragment must have survived olddefconfig.
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
done < "$frag"
[ "$bad" = 0 ] || { rm -rf "$out"; exit 1; }

log "building bzImage and module support with $(nproc) jobs (cold: ~11 min)"
start=$(date +%s)
make -s -C "$src" O="$out" ARCH=x86_64 -j"$(nproc)" bzImage modules >&2
make -s -C "$src" O="$out" ARCH=x86_64 modules_prepare >&2
log "built in $(( $(date +%s) - start )) s"
touch "$out/.spanalloc-done"
echo "$out"
