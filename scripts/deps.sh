#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Install the Debian 12 packages that building and testing spanalloc need.
#
# Idempotent: when everything is present it only asks dpkg and returns.
# Runs `apt-get update` once, and only when something is missing.
# Prints exactly what it installs.
set -euo pipefail

pkgs=(
	build-essential flex bison bc libelf-dev libssl-dev dwarves
	kmod cpio xz-utils rsync perl python3 git
	linux-source-6.12
	qemu-system-x86 busybox-static
	sparse
)

missing=()
for p in "${pkgs[@]}"; do
	st=$(dpkg-query -W -f='${db:Status-Abbrev}' "$p" 2>/dev/null || true)
	[ "$st" = "ii " ] || missing+=("$p")
done

if [ ${#missing[@]} -eq 0 ]; then
	exit 0
fi

echo "deps: installing: ${missing[*]}" >&2
sudo=
if [ "$(id -u)" != 0 ]; then
	command -v sudo >/dev/null || { echo "deps: not root and no sudo" >&2; exit 1; }
	sudo=sudo
fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq >&2
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
echo "deps: installed: ${missing[*]}" >&2
