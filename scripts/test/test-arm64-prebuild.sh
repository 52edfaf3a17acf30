#!/usr/bin/env bash
# The committed linux-arm64 prebuild, proven: Debian's arm64 Node (under qemu-aarch64) loads it
# through node-gyp-build from a package with no build/ directory, backendInfo says native/neon, and
# a smoke rotation (scripts/test/smoke-rotate.cjs) agrees with the JS engine run by the same arm64 Node.
# Needs qemu-user and the sysroot from scripts/prebuild/arm64-sysroot.sh (downloaded once into /tmp).
# Usage: scripts/test/test-arm64-prebuild.sh [SYSROOT]     (about 30 s: two node start-ups under qemu)
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
prebuild="$repo/prebuilds/linux-arm64/rope-simd.glibc.node"
[ -f "$prebuild" ] || { echo "test-arm64-prebuild: $prebuild is missing: run npm run prebuild" >&2; exit 1; }
[ -f "$repo/dist/index.cjs" ] || (cd "$repo" && npx tsup >/dev/null)
command -v qemu-aarch64 >/dev/null || { echo "test-arm64-prebuild: qemu-aarch64 not found (apt-get install qemu-user)" >&2; exit 1; }
sysroot=$("$repo/scripts/prebuild/arm64-sysroot.sh" "$@" | tail -n 1)

work=$(mktemp -d "${TMPDIR:-/tmp}/rope-simd-arm64-test.XXXXXX")
trap 'rm -rf "$work"' EXIT
# A consumer project holding the package as installed: dist, the arm64 prebuild, no build/.
pkg="$work/node_modules/rope-simd"
mkdir -p "$pkg/prebuilds/linux-arm64"
cp -r "$repo/package.json" "$repo/dist" "$pkg/"
cp "$prebuild" "$pkg/prebuilds/linux-arm64/"
cp -r "$repo/node_modules/node-gyp-build" "$work/node_modules/"
cp "$repo/scripts/test/smoke-rotate.cjs" "$work/"

arm64node() { # MODE VAR=VALUE...
  local mode=$1; shift
  (cd "$work" && env -u ROPE_SIMD_ISA -u ROPE_SIMD_ADDON PREBUILDS_ONLY=1 "$@" \
    qemu-aarch64 -L "$sysroot" "$sysroot/usr/bin/node" smoke-rotate.cjs "$mode")
}
arm64node run ROPE_SIMD_BACKEND=native > "$work/native.json"
arm64node run ROPE_SIMD_BACKEND=js > "$work/js.json"
exit_out=$(arm64node worker-exit) || { echo "test-arm64-prebuild: workers that loaded the addon took the process down at exit"; exit 1; }
echo "test-arm64-prebuild: worker-exit $exit_out"

node -e '
  const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
  const i = r.backendInfo;
  console.log(`test-arm64-prebuild: ${r.node} arch ${r.arch}: backend ${i.backend}, isa ${i.isa}`);
  if (r.arch !== "arm64" || i.backend !== "native" || i.isa !== "neon") {
    console.error("test-arm64-prebuild: expected arch arm64 with backend native/neon"); process.exit(1);
  }' "$work/native.json"
node "$work/smoke-rotate.cjs" compare "$work/native.json" "$work/js.json"
echo "test-arm64-prebuild: ok"
