#!/usr/bin/env node
// rope-simd's install script. It never fails the install: a usable prebuild -> done; else build the
// addon with node-gyp; if that cannot work, say why in one line and let the package run on a slower
// engine (WebAssembly, else JS). The outcome is also written to build/install-status.json for
// backendInfo.reason and the run-time warning.
// npm 7+ hides an install script's output unless it fails or --foreground-scripts is set: the
// run-time warning is what most people see, and it carries the same reason.
//   ROPE_SIMD_SKIP_BUILD=1         never compile (use a prebuild or the JS engine)
//   ROPE_SIMD_BUILD_TIMEOUT=S      give up on node-gyp after S seconds (default 300): a stuck
//                                  build or header download must not hang `npm install`
//   npm_config_build_from_source   compile even when a prebuild fits
'use strict';
const fs = require('fs');
const path = require('path');
const crypto = require('crypto');
const { spawnSync } = require('child_process');

const root = path.resolve(__dirname, '..');
const tag = 'rope-simd:';

// Files whose content decides the binary; prebuilds/manifest.json records sourceHash over them.
function sourceFiles(dir = root) {
  const out = [];
  const walk = (rel) => {
    for (const e of fs.readdirSync(path.join(dir, rel), { withFileTypes: true })) {
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) walk(r);
      // (sources.json, sources.cjs, sources.cmake and kernels/isas.def decide what is built)
      else if (/\.(cc|cpp|c|h|hpp|def|json|cjs|cmake)$/.test(e.name)) out.push(r);
    }
  };
  walk('native');
  for (const f of ['binding.gyp', 'CMakeLists.txt']) if (fs.existsSync(path.join(dir, f))) out.push(f);
  return out.sort();
}

/** sha256 over "path\0content\0" of every source file, CRLF read as LF (git checkouts on Windows). */
function sourceHash(dir = root) {
  const h = crypto.createHash('sha256');
  for (const f of sourceFiles(dir)) {
    h.update(f + '\0');
    h.update(fs.readFileSync(path.join(dir, f), 'utf8').replace(/\r\n/g, '\n'));
    h.update('\0');
  }
  return h.digest('hex');
}

/** The engine that runs when no addon loads: the package embeds the wasm engine when it was built with one. */
function fallbackEngine() {
  try {
    const dist = path.join(root, 'dist');
    const wasm = fs.existsSync(path.join(root, 'prebuilds', 'wasm', 'rope-simd.wasm')) ||
      fs.readdirSync(dist).some((f) => /\.c?js$/.test(f) && fs.readFileSync(path.join(dist, f), 'latin1').includes('wasm-simd128'));
    if (wasm) return 'the WebAssembly engine (wasm-simd128)';
  } catch {}
  return 'the JS engine';
}

/** The fallback line, on stderr: npm shows it with --foreground-scripts or when the install fails;
 * otherwise the run-time warning (ROPE_SIMD_FALLBACK) carries the same reason. */
function notice(line) {
  console.error(line);
}

function writeStatus(status) {
  try {
    fs.mkdirSync(path.join(root, 'build'), { recursive: true });
    fs.writeFileSync(path.join(root, 'build', 'install-status.json'), JSON.stringify(status, null, 2) + '\n');
  } catch {
    // a read-only install location: the notice on stdout is all we can leave
  }
}

// The prebuild node-gyp-build would load for this platform (its own tag matching), or null.
function findPrebuild() {
  const saved = process.env.PREBUILDS_ONLY;
  process.env.PREBUILDS_ONLY = '1'; // read by node-gyp-build when it is first required
  try {
    const ngb = require('node-gyp-build');
    return ngb.path(root);
  } catch {
    return null;
  } finally {
    if (saved === undefined) delete process.env.PREBUILDS_ONLY;
    else process.env.PREBUILDS_ONLY = saved;
  }
}

/** null when the prebuild fits the sources (or there is no manifest to say otherwise), else why not. */
function prebuildStale() {
  const file = path.join(root, 'prebuilds', 'manifest.json');
  if (!fs.existsSync(file)) return null;
  try {
    const manifest = JSON.parse(fs.readFileSync(file, 'utf8'));
    if (manifest.sourceHash === sourceHash()) return null;
    return 'prebuilds/manifest.json does not match the native sources';
  } catch (e) {
    return `prebuilds/manifest.json is unreadable (${e.message})`;
  }
}

function tryLoad(file) {
  try {
    const addon = require(file);
    return { isa: addon.isa() };
  } catch (e) {
    return { error: String(e.message).split('\n')[0] };
  }
}

// node-gyp: this package's devDependency, else the copy npm bundles (npm tells lifecycle scripts
// where through npm_config_node_gyp), else next to npm or node.
function findNodeGyp() {
  const candidates = [];
  try {
    candidates.push(require.resolve('node-gyp/bin/node-gyp.js', { paths: [root] }));
  } catch {}
  if (process.env.npm_config_node_gyp) candidates.push(process.env.npm_config_node_gyp);
  if (process.env.npm_execpath) {
    candidates.push(path.join(path.dirname(process.env.npm_execpath), '..', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'));
  }
  const prefix = path.dirname(path.dirname(process.execPath));
  candidates.push(path.join(prefix, 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'));
  candidates.push(path.join(prefix, 'share', 'nodejs', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'));
  candidates.push(path.join(path.dirname(process.execPath), 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'));
  return candidates.find((c) => fs.existsSync(c)) || null;
}

function onPath(names) {
  const dirs = (process.env.PATH || '').split(path.delimiter).filter(Boolean);
  const exts = process.platform === 'win32' ? (process.env.PATHEXT || '.EXE').split(';') : [''];
  return names.some((n) => dirs.some((d) => exts.some((x) => fs.existsSync(path.join(d, n + x)))));
}

function hasCompiler() {
  if (process.platform === 'win32') return true; // node-gyp finds Visual Studio itself
  if (process.env.CXX) return onPath([process.env.CXX.split(' ')[0]]) || fs.existsSync(process.env.CXX.split(' ')[0]);
  return onPath(['c++', 'g++', 'clang++']);
}

function build() {
  if (!hasCompiler()) return { error: 'no C++ compiler found' };
  const nodeGyp = findNodeGyp();
  if (!nodeGyp) return { error: 'node-gyp not found' };
  const args = [nodeGyp, 'rebuild'];
  // Headers: npm passes its nodedir config; otherwise use the ones installed with node (distro
  // packages, official tarballs) rather than letting node-gyp download them.
  const prefix = path.dirname(path.dirname(process.execPath));
  if (!process.env.npm_config_nodedir && fs.existsSync(path.join(prefix, 'include', 'node', 'common.gypi'))) {
    args.push(`--nodedir=${prefix}`);
  }
  const limit = Number(process.env.ROPE_SIMD_BUILD_TIMEOUT) > 0 ? Number(process.env.ROPE_SIMD_BUILD_TIMEOUT) : 300;
  console.log(`${tag} building the native addon (node-gyp rebuild, at most ${limit} s)...`);
  // Output to a file, not a pipe: a compiler left running after the time limit would hold a pipe
  // open and keep this script waiting.
  // (in the temp dir while node-gyp runs: `rebuild` empties build/ first)
  const tmpLog = path.join(require('os').tmpdir(), `rope-simd-install-${process.pid}.log`);
  const fd = fs.openSync(tmpLog, 'w');
  let r;
  try {
    r = spawnSync(process.execPath, args, { cwd: root, stdio: ['ignore', fd, fd], timeout: limit * 1000, killSignal: 'SIGKILL' });
  } finally {
    fs.closeSync(fd);
  }
  let out = '';
  try {
    out = fs.readFileSync(tmpLog, 'utf8');
    fs.mkdirSync(path.join(root, 'build'), { recursive: true });
    fs.writeFileSync(path.join(root, 'build', 'install-build.log'), out);
    fs.rmSync(tmpLog, { force: true });
  } catch {
    // a read-only install location: the error line below is what is left
  }
  if (r.error && r.error.code === 'ETIMEDOUT') {
    return { error: `node-gyp did not finish within ${limit} s (ROPE_SIMD_BUILD_TIMEOUT; its output: build/install-build.log)` };
  }
  if (r.error) return { error: `node-gyp did not start: ${r.error.message}` };
  if (r.status !== 0) {
    const tail = out.trim().split('\n').filter((l) => /error/i.test(l)).slice(0, 3);
    if (process.env.ROPE_SIMD_VERBOSE) process.stderr.write(`${out}\n`);
    return { error: `node-gyp exited with ${r.status === null ? `signal ${r.signal}` : `code ${r.status}`}${tail.length ? ': ' + tail.join(' | ') : ''} (build/install-build.log)` };
  }
  const built = path.join(root, 'build', 'Release', 'rope_simd.node');
  const loaded = tryLoad(built);
  if (loaded.error) return { error: `the built addon does not load: ${loaded.error}` };
  return { file: built, isa: loaded.isa };
}

/**
 * In a source checkout (`npm ci` in the repository: lib/ and tsup present, dist/ missing), build
 * dist/ first, so the package runs right after set-up. A published package has dist/ and no lib/.
 */
function buildDistInCheckout() {
  const tsup = path.join(root, 'node_modules', '.bin', process.platform === 'win32' ? 'tsup.cmd' : 'tsup');
  if (fs.existsSync(path.join(root, 'dist', 'index.js')) || !fs.existsSync(path.join(root, 'lib', 'index.ts')) || !fs.existsSync(tsup)) return;
  console.log(`${tag} source checkout: building dist/ (npm run build:ts)`);
  const npm = process.env.npm_execpath;
  const r = npm
    ? spawnSync(process.execPath, [npm, 'run', '--silent', 'build:ts'], { cwd: root, stdio: 'inherit', timeout: 300e3 })
    : spawnSync('npm', ['run', '--silent', 'build:ts'], { cwd: root, stdio: 'inherit', shell: process.platform === 'win32', timeout: 300e3 });
  if (r.status !== 0) console.error(`${tag} building dist/ failed (npm run build:ts says why)`);
}

function main() {
  buildDistInCheckout();
  const force = ['true', '1'].includes(String(process.env.npm_config_build_from_source));
  // musl (Alpine): no glibc in the process report; node-gyp-build tags those prebuilds "musl".
  const musl = process.platform === 'linux' && !(process.report && process.report.getReport().header.glibcVersionRuntime);
  let why = `no prebuild for ${process.platform}-${process.arch}${musl ? ' (musl)' : ''}`;
  // node-gyp-build loads a prebuild whatever its manifest says: if no build replaces a stale one,
  // that stale one runs, and the notice must say so rather than promise the JS engine.
  let fallback = `rope-simd will run ${fallbackEngine()}, slower than native (see backendInfo; ROPE_SIMD_BACKEND silences the run-time warning)`;
  const prebuild = findPrebuild();
  if (prebuild && !tryLoad(prebuild).error) fallback = `falling back to ${path.relative(root, prebuild)}`;
  if (force) why = 'build from source requested';
  else {
    if (prebuild) {
      const stale = prebuildStale();
      const loaded = stale ? null : tryLoad(prebuild);
      if (loaded && !loaded.error) {
        console.log(`${tag} using prebuild ${path.relative(root, prebuild)} (isa ${loaded.isa})`);
        writeStatus({ ok: true, source: 'prebuild', file: prebuild, isa: loaded.isa });
        return;
      }
      why = stale || `prebuild ${path.relative(root, prebuild)} does not load (${loaded.error})`;
    }
  }
  if (process.env.ROPE_SIMD_SKIP_BUILD) {
    const reason = `${why}; build skipped (ROPE_SIMD_SKIP_BUILD)`;
    notice(`${tag} ${reason}; ${fallback}`);
    writeStatus({ ok: false, reason });
    return;
  }
  const r = build();
  if (r.error) {
    const reason = `${why}; native build failed (${r.error})`;
    notice(`${tag} ${reason}; ${fallback}`);
    writeStatus({ ok: false, reason });
    return;
  }
  console.log(`${tag} built ${path.relative(root, r.file)} (isa ${r.isa})`);
  writeStatus({ ok: true, source: 'build', file: r.file, isa: r.isa });
}

module.exports = { sourceFiles, sourceHash, findNodeGyp };

if (require.main === module) {
  try {
    main();
  } catch (e) {
    // Whatever happened, the JS engine still works: never fail the install.
    notice(`${tag} install step skipped (${e && e.message}); rope-simd will run ${fallbackEngine()}`);
  }
  process.exitCode = 0;
}
