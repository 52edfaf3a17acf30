#!/usr/bin/env bash
# Builds a sysroot with Debian's arm64 Node.js (18.x) for running the linux-arm64 prebuild under
# qemu-aarch64, without installing anything arm64 over the machine's own node:
# the .debs are downloaded and unpacked with dpkg -x. Usage: scripts/prebuild/arm64-sysroot.sh [DIR]
# Prints DIR; run node as: qemu-aarch64 -L DIR DIR/usr/bin/node ...
set -euo pipefail
root=${1:-/tmp/rope-simd-arm64-sysroot}
if [ -x "$root/usr/bin/node" ] && qemu-aarch64 -L "$root" "$root/usr/bin/node" -e 0 2>/dev/null; then
  echo "$root"; exit 0
fi
if ! dpkg --print-foreign-architectures | grep -qx arm64; then
  dpkg --add-architecture arm64
  apt-get update -qq >&2
fi
dl=$(mktemp -d)
pkgs="nodejs:arm64 libnode108:arm64 libbrotli1:arm64 libc-ares2:arm64 libc6:arm64 libicu72:arm64
  libnghttp2-14:arm64 libssl3:arm64 libstdc++6:arm64 libuv1:arm64 zlib1g:arm64 libgcc-s1:arm64
  node-cjs-module-lexer node-acorn node-undici"
# shellcheck disable=SC2086
(cd "$dl" && chmod 777 . && apt-get download $pkgs >&2)
mkdir -p "$root"
for f in "$dl"/*.deb; do dpkg -x "$f" "$root"; done
rm -rf "$dl"
qemu-aarch64 -L "$root" "$root/usr/bin/node" -e 'if (process.arch !== "arm64") process.exit(1)'
echo "$root"
