#!/usr/bin/env bash
# End-to-end: the package a user installs. `npm pack`, then in empty projects with no network and no
# compiler on PATH:
#   1. install the tarball: the prebuild is used, ESM and CJS imports say native, and a rotation
#      agrees with the JS engine (scripts/test/smoke-rotate.cjs);
#   2. install it again with prebuilds/ removed from the tarball: the install still succeeds, the
#      backend is wasm, and backendInfo.reason says there was no prebuild and no compiler;
#   3. --ignore-scripts: nothing runs at install, and the prebuild still loads (node-gyp-build);
#   4. with a compiler on PATH (g++, make, python3) and a native source changed after the prebuild
#      (a stale manifest): the install builds the addon with node-gyp and loads it;
#   5. the same with a compiler that hangs and ROPE_SIMD_BUILD_TIMEOUT=3: the install gives up
#      within the limit, says so, and the package still runs.
# Parts 4-5 need g++, make and python3: without them they are reported as not run (and fail under
# `npm run test:all`, which sets ROPE_SIMD_TEST_ALL=1).
# No network: npm --offline (cache only: node-gyp-build and node-addon-api, the dependencies, come from the npm cache
# that the repo's own npm install filled) and every proxy pointed at a closed port.
# Usage: scripts/test/test-package.sh [--keep]   (about 40 s, most of it npm pack running tsup)
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/rope-simd-package-test.XXXXXX")
[ "${1:-}" = --keep ] && echo "test-package: keeping $work" || trap 'rm -rf "$work"' EXIT
say() { echo "test-package: $*"; }
die() { echo "test-package: FAILED: $*" >&2; exit 1; }

# Stale prebuilds would be rejected by the install script: say so first, plainly.
node "$repo/scripts/prebuild/check-prebuilds.mjs" >/dev/null || die 'the prebuilds do not match the sources (scripts/prebuild/check-prebuilds.mjs says why): run npm run prebuild'

# --- the tarball (npm pack runs "prepack" = tsup, so dist/ is fresh) --------------------------------
(cd "$repo" && npm pack --silent --pack-destination "$work" >/dev/null)
tarball=$(ls "$work"/rope-simd-*.tgz)
listing=$(tar -tzf "$tarball")
for must in package/dist/index.js package/dist/index.cjs package/dist/index.d.ts package/dist/index.d.cts \
  package/prebuilds/manifest.json package/prebuilds/linux-x64/rope-simd.glibc.node \
  package/prebuilds/linux-arm64/rope-simd.glibc.node package/prebuilds/win32-x64/rope-simd.node \
  package/LICENSE package/scripts/install.cjs package/binding.gyp \
  package/CMakeLists.txt package/native/binding/addon.cc; do
  grep -qx "$must" <<<"$listing" || die "$must is not in the tarball"
done
if grep -E '^package/(test|build[^/]*|node_modules|bench)/' <<<"$listing"; then die 'the tarball contains tests, build output or node_modules'; fi
say "$(basename "$tarball"): $(wc -l <<<"$listing") files, $(du -k "$tarball" | cut -f1) kB"

# --- the same tarball without prebuilds/ ----------------------------------------------------------
mkdir "$work/unpacked"
tar -xzf "$tarball" -C "$work/unpacked"
rm -rf "$work/unpacked/package/prebuilds"
tar -czf "$work/rope-simd-noprebuilds.tgz" -C "$work/unpacked" package

# --- a PATH with node, npm and basic tools only: no cc, c++, g++, clang, make, python --------------
bin="$work/bin"
mkdir "$bin"
ln -s "$(command -v node)" "$bin/node"
ln -s "$(command -v npm)" "$bin/npm"
for t in sh env cat ls mkdir rm cp mv ln dirname basename uname grep sed true false; do
  p=$(command -v "$t") && ln -s "$p" "$bin/$t"
done
for t in cc c++ gcc g++ clang clang++ make python3 python; do
  [ -e "$bin/$t" ] && die "$t is on the test PATH"
done
cache=$(npm config get cache 2>/dev/null)
# The installs below run offline: the package's dependencies (their registry metadata too, which
# `npm ci` does not fetch) go into npm's cache first, at the versions the lock file names.
deps=$(cd "$repo" && node -e 'const l = require("./package-lock.json"); const d = require("./package.json").dependencies; console.log(Object.keys(d).map((n) => `${n}@${l.packages["node_modules/" + n].version}`).join(" "))')
npm cache add $deps >/dev/null 2>&1 || say "npm cache add $deps failed (no registry?): the offline installs use what the cache has"

# Runs a command in project $1 with the sandbox environment (nothing else inherited).
sandbox() {
  local dir=$1; shift
  (cd "$dir" && env -i HOME="$HOME" PATH="$bin" npm_config_cache="$cache" npm_config_offline=true \
    npm_config_proxy=http://127.0.0.1:9/ npm_config_https_proxy=http://127.0.0.1:9/ \
    npm_config_audit=false npm_config_fund=false npm_config_update_notifier=false "$@")
}

# ESM import check: dynamic import from an .mjs resolves the "import" export, a plain require the
# "require" one; each prints backendInfo as JSON.
esm_info() { sandbox "$1" "${@:2}" node --input-type=module -e \
  "import { backendInfo, Rope } from 'rope-simd'; if (typeof Rope !== 'function') throw new Error('no Rope'); console.log(JSON.stringify(backendInfo))"; }
cjs_info() { sandbox "$1" "${@:2}" node -e \
  "const { backendInfo, Rope } = require('rope-simd'); if (typeof Rope !== 'function') throw new Error('no Rope'); console.log(JSON.stringify(backendInfo))"; }
field() { node -e 'const o = JSON.parse(process.argv[1]); console.log(o[process.argv[2]] ?? "")' "$1" "$2"; }

install_into() { # project dir, tarball -> npm's output in $dir/install.log
  mkdir -p "$1"
  echo '{ "name": "consumer", "version": "1.0.0", "private": true }' > "$1/package.json"
  cp "$repo/scripts/test/smoke-rotate.cjs" "$1/"
  if ! sandbox "$1" npm install --foreground-scripts "$2" > "$1/install.log" 2>&1; then
    cat "$1/install.log"
    grep -q ENOTCACHED "$1/install.log" && die "a dependency is not in the npm cache ($cache): run 'npm cache add node-gyp-build@4 node-addon-api@8' once, with network"
    die "npm install $2 failed"
  fi
}

# --- 1. with prebuilds ----------------------------------------------------------------------------
p1="$work/with-prebuilds"
install_into "$p1" "$tarball"
grep -q 'rope-simd: using prebuild prebuilds/linux-x64/rope-simd.glibc.node' "$p1/install.log" \
  || { cat "$p1/install.log"; die 'the install script did not report using the prebuild'; }
[ -e "$p1/node_modules/rope-simd/build/Release" ] && die 'something was compiled (build/Release exists)'
for how in esm cjs; do
  info=$(${how}_info "$p1")
  [ "$(field "$info" backend)" = native ] || die "$how import: backendInfo $info, expected native"
  say "with prebuilds, $how import: backendInfo $info"
done
sandbox "$p1" node smoke-rotate.cjs run > "$work/native.json"
sandbox "$p1" env ROPE_SIMD_BACKEND=js node smoke-rotate.cjs run > "$work/js.json"
sandbox "$p1" node -e 'import("rope-simd").then((m) => console.log(m.backendInfo.backend))' | grep -qx native \
  || die 'import() from CJS did not load the native backend'
node "$work/with-prebuilds/smoke-rotate.cjs" compare "$work/native.json" "$work/js.json" || die 'native and JS results differ'

# --- 2. without prebuilds -------------------------------------------------------------------------
p2="$work/without-prebuilds"
install_into "$p2" "$work/rope-simd-noprebuilds.tgz"
notice=$(grep 'rope-simd:' "$p2/install.log" || true)
say "without prebuilds, install notice: ${notice:-<none>}"
[ -n "$notice" ] || { cat "$p2/install.log"; die 'the install printed no notice'; }
for how in esm cjs; do
  info=$(${how}_info "$p2")
  # No addon: the wasm engine (inline in dist/, so it survives prebuilds/ being absent).
  [ "$(field "$info" backend)" = wasm ] || die "$how import: backendInfo $info, expected wasm"
  reason=$(field "$info" reason)
  grep -qi 'no prebuild' <<<"$reason" || die "$how import: reason '$reason' does not say there is no prebuild"
  grep -qi 'compiler' <<<"$reason" || die "$how import: reason '$reason' does not say there is no compiler"
  say "without prebuilds, $how import: backendInfo $info"
done
sandbox "$p2" node smoke-rotate.cjs run > "$work/fallback.json"
node "$p1/smoke-rotate.cjs" compare "$work/native.json" "$work/fallback.json" || die 'the fallback wasm engine disagrees with native'

# --- 3. --ignore-scripts ----------------------------------------------------------------------------
p3="$work/ignore-scripts"
mkdir -p "$p3"
echo '{ "name": "consumer", "version": "1.0.0", "private": true }' > "$p3/package.json"
sandbox "$p3" npm install --ignore-scripts "$tarball" > "$p3/install.log" 2>&1 || { cat "$p3/install.log"; die 'npm install --ignore-scripts failed'; }
grep -q 'rope-simd:' "$p3/install.log" && die 'the install script ran under --ignore-scripts'
[ -e "$p3/node_modules/rope-simd/build" ] && die 'build/ exists after --ignore-scripts'
info=$(cjs_info "$p3")
[ "$(field "$info" backend)" = native ] || die "--ignore-scripts: backendInfo $info, expected native (the prebuild)"
say "--ignore-scripts: backendInfo $info"

# --- 4. and 5. a compiler on PATH ---------------------------------------------------------------------
missing=""
for t in g++ make python3; do command -v "$t" >/dev/null || missing="$missing $t"; done
if [ -n "$missing" ]; then
  [ "${ROPE_SIMD_TEST_ALL:-}" = 1 ] && die "parts 4-5 need$missing"
  say "parts 4-5 (node-gyp build at install) not run: missing$missing"
  say ok; exit 0
fi
# A tarball whose native sources no longer match prebuilds/manifest.json.
mkdir "$work/stale"
tar -xzf "$tarball" -C "$work/stale"
echo '// changed after the prebuild' >> "$work/stale/package/native/walk.cc"
tar -czf "$work/rope-simd-stale.tgz" -C "$work/stale" package
install_compiling() { # dir, tarball, extra env...
  mkdir -p "$1"
  echo '{ "name": "consumer", "version": "1.0.0", "private": true }' > "$1/package.json"
  cp "$repo/scripts/test/smoke-rotate.cjs" "$1/"
  # This machine's own environment (its compiler, make, python), npm offline as above.
  (cd "$1" && env npm_config_cache="$cache" npm_config_offline=true \
    npm_config_proxy=http://127.0.0.1:9/ npm_config_https_proxy=http://127.0.0.1:9/ \
    npm_config_audit=false npm_config_fund=false npm_config_update_notifier=false "${@:3}" \
    npm install --foreground-scripts "$2" > "$1/install.log" 2>&1) || { cat "$1/install.log"; die "npm install $2 failed"; }
}
p4="$work/stale-build"
s=$(date +%s)
install_compiling "$p4" "$work/rope-simd-stale.tgz"
grep -q 'rope-simd: built build/Release/rope_simd.node' "$p4/install.log" \
  || { cat "$p4/install.log"; die 'a stale manifest with a compiler present did not build the addon'; }
info=$(cjs_info "$p4")
[ "$(field "$info" backend)" = native ] || die "stale manifest, built: backendInfo $info, expected native"
node -e 'const s = require(process.argv[1]); if (s.source !== "build" || !s.ok) process.exit(1)' "$p4/node_modules/rope-simd/build/install-status.json" \
  || die "install-status.json does not say the addon was built: $(cat "$p4/node_modules/rope-simd/build/install-status.json")"
sandbox "$p4" node -e 'const {createRequire}=require("module"); const r=createRequire(process.cwd()+"/"); const p=r.resolve("rope-simd/package.json").replace("package.json","build/Release/rope_simd.node"); console.log(require("fs").existsSync(p))' | grep -qx true \
  || die 'build/Release/rope_simd.node is missing'
sandbox "$p4" node smoke-rotate.cjs run > "$work/built.json"
node "$p1/smoke-rotate.cjs" compare "$work/native.json" "$work/built.json" || die 'the addon built at install disagrees with the prebuild'
say "stale manifest + compiler: built and loaded at install ($(( $(date +%s) - s ))s)"

# A C++ compiler that never finishes: the install must give up after ROPE_SIMD_BUILD_TIMEOUT.
printf '#!/bin/sh\nexec sleep 600\n' > "$work/hang-cxx"; chmod +x "$work/hang-cxx"
p5="$work/stuck-build"
s=$(date +%s)
install_compiling "$p5" "$work/rope-simd-stale.tgz" ROPE_SIMD_BUILD_TIMEOUT=3 CXX="$work/hang-cxx" CC="$work/hang-cxx"
took=$(( $(date +%s) - s ))
grep -q 'node-gyp did not finish within 3 s' "$p5/install.log" || { cat "$p5/install.log"; die 'the stuck build did not report its time limit'; }
[ "$took" -lt 60 ] || die "the stuck build held npm install for ${took}s (limit 3 s)"
info=$(cjs_info "$p5")
[ -n "$(field "$info" backend)" ] || die "stuck build: no backend ($info)"
pkill -f "$work/hang-cxx" 2>/dev/null || true
say "stuck compiler: install gave up after its 3 s limit (npm install ${took}s), backend $(field "$info" backend)"
say ok
