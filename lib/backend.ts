// Which engine runs, decided once at import: the native addon (node-gyp-build: prebuilds/ first,
// then build/), else the WebAssembly engine (engine-wasm.ts), else the JS engine. When a slower
// engine runs than this platform could have, a warning says so once (ROPE_SIMD_FALLBACK), naming
// the engine and why the faster one did not load. Environment:
//   ROPE_SIMD_BACKEND=js      never load the addon or the wasm module
//   ROPE_SIMD_BACKEND=wasm    the wasm engine; a failure to instantiate it throws here
//   ROPE_SIMD_BACKEND=native  a load failure throws here instead of falling back
//   (any of these, or =auto, is a choice: it silences the fallback warning)
//   ROPE_SIMD_ADDON=file.node load exactly that file (CI runs the suite on the cmake-js and the
//                             node-gyp build this way); a failure throws
//   ROPE_SIMD_ISA=name        force that ISA's kernels (a name in native/kernels/isas.def); throws
//                             if this CPU/build lacks them
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { availableParallelism, cpus } from 'node:os';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { NativeAddon } from './abi.js';
import { wasmExports } from './engine-wasm.js';
import { NATIVE_ISAS } from './generated/isas.js';
import type { BackendInfo } from './types.js';

const ISAS: readonly string[] = NATIVE_ISAS;
// lib/*.ts (vitest) and dist/*.js|.cjs (tsup shims import.meta.url in CJS) sit one level below the root.
const packageRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const requireHere = createRequire(import.meta.url);

// Why scripts/install.cjs could not provide an addon (e.g. "native build failed (no C++ compiler found)").
function installNote(): string {
  try {
    const s = JSON.parse(readFileSync(resolve(packageRoot, 'build', 'install-status.json'), 'utf8'));
    return s.ok === false && typeof s.reason === 'string' ? `; at install: ${s.reason}` : '';
  } catch {
    return '';
  }
}

function shortReason(err: unknown): string {
  const msg = err instanceof Error ? err.message : String(err);
  if (msg.startsWith('No native build was found')) {
    return `no native build for ${process.platform}-${process.arch} (no prebuild, no build/Release)${installNote()}`;
  }
  return msg.split('\n')[0];
}

function isAddon(a: unknown): a is NativeAddon {
  if (typeof a !== 'object' || a === null) return false;
  const o = a as Record<string, unknown>;
  return (
    typeof o.NativeRope === 'function' &&
    typeof o.isa === 'function' &&
    typeof o.selectIsa === 'function' &&
    typeof o.supportedIsas === 'function'
  );
}

function load(): { addon: NativeAddon | null; reason?: string } {
  if (mode !== '' && mode !== 'auto' && mode !== 'js' && mode !== 'native' && mode !== 'wasm') {
    throw new Error(`ROPE_SIMD_BACKEND must be 'native', 'wasm', 'js', 'auto' or unset, got '${mode}'`);
  }
  if (mode === 'js') return { addon: null, reason: 'ROPE_SIMD_BACKEND=js' };
  if (mode === 'wasm') return { addon: null, reason: 'ROPE_SIMD_BACKEND=wasm' };
  if (forcedIsa !== undefined && !ISAS.includes(forcedIsa)) {
    throw new Error(`ROPE_SIMD_ISA must be one of ${ISAS.join(', ')}, got '${forcedIsa}'`);
  }
  const file = process.env.ROPE_SIMD_ADDON || undefined;
  try {
    const addon: unknown = file !== undefined ? requireHere(resolve(file)) : requireHere('node-gyp-build')(packageRoot);
    if (!isAddon(addon)) throw new Error('the addon does not export NativeRope, isa, selectIsa and supportedIsas (a stale build?)');
    return { addon };
  } catch (err) {
    const msg = shortReason(err);
    // The addon applies ROPE_SIMD_ISA itself when it loads (also for a direct require): its refusal
    // is the user's forced choice failing, never a reason to fall back.
    if (msg.startsWith('ROPE_SIMD_ISA=')) throw new Error(msg, { cause: err });
    const reason = file !== undefined ? `ROPE_SIMD_ADDON=${file}: ${msg}` : msg;
    if (mode === 'native' || file !== undefined) {
      const why = mode === 'native' ? 'ROPE_SIMD_BACKEND=native' : 'ROPE_SIMD_ADDON is set';
      throw new Error(`${why} but the native addon did not load: ${reason}`, { cause: err });
    }
    return { addon: null, reason };
  }
}

// Without the addon: the wasm engine unless ROPE_SIMD_BACKEND=js; null if it cannot run here (the
// reason, e.g. no WebAssembly SIMD, in wasmReason). ROPE_SIMD_BACKEND=wasm makes a failure throw.
function loadWasm(mode: string): { ok: boolean; reason?: string } {
  if (mode === 'js') return { ok: false }; // (the reason is load()'s)
  try {
    wasmExports();
    return { ok: true };
  } catch (err) {
    const msg = (err as Error).message;
    if (mode === 'wasm') throw new Error(`ROPE_SIMD_BACKEND=wasm but the wasm engine did not load: ${msg}`, { cause: err });
    return { ok: false, reason: msg };
  }
}

const forcedIsa = process.env.ROPE_SIMD_ISA || undefined;
const mode = process.env.ROPE_SIMD_BACKEND ?? '';
const loaded = load();
const wasmLoaded = loaded.addon ? { ok: false } : loadWasm(mode);

/** The loaded addon, or null (internal: parity tests, the benchmark). */
export const nativeAddon: NativeAddon | null = loaded.addon;
/** Whether the engine that runs by default is the wasm one. */
export const wasmDefault: boolean = wasmLoaded.ok;

/** Cores this process may run on (an async call off the JS thread leaves one to the event loop). */
export const hardwareThreads: number = typeof availableParallelism === 'function' ? availableParallelism() : cpus().length;

/** Which backend runs, live: `isa` follows selectIsa(). */
export const backendInfo: BackendInfo = nativeAddon
  ? { backend: 'native', isa: nativeAddon.isa() as BackendInfo['isa'] }
  : wasmLoaded.ok
    ? { backend: 'wasm', isa: 'wasm-simd128', reason: loaded.reason }
    : { backend: 'js', isa: 'js', reason: wasmLoaded.reason === undefined ? loaded.reason : `${loaded.reason}; wasm: ${wasmLoaded.reason}` };

/** The fallback warning's text, or null when none is due (exported for tests). */
export function fallbackWarning(info: BackendInfo, backendEnv: string | undefined): string | null {
  if (info.backend === 'native' || (backendEnv !== undefined && backendEnv !== '')) return null;
  const engine = info.backend === 'wasm' ? 'the WebAssembly engine (wasm-simd128, 3-10x slower than native)' : 'the JavaScript engine (4-40x slower than native)';
  return (
    `rope-simd is running ${engine} because the native addon did not load: ${info.reason}. ` +
    'Install a C++ toolchain and run `npm rebuild rope-simd` to build it, or set ROPE_SIMD_BACKEND=' +
    `${info.backend} to choose this engine and silence this warning.`
  );
}

const warning = fallbackWarning(backendInfo, process.env.ROPE_SIMD_BACKEND);
if (warning !== null && typeof process.emitWarning === 'function') {
  process.emitWarning(warning, { code: 'ROPE_SIMD_FALLBACK' });
}

/** ISAs this CPU and build can run, best first ([] without the addon). */
export function supportedIsas(): string[] {
  return nativeAddon ? nativeAddon.supportedIsas() : [];
}

/** Switches the native kernels of every Rope in the process; throws if unsupported. */
export function selectIsa(name: string): void {
  if (!nativeAddon) throw new Error(`selectIsa('${name}') needs the native addon, which is not loaded: ${backendInfo.reason}`);
  if (!ISAS.includes(name)) throw new TypeError(`ISA must be one of ${ISAS.join(', ')}, got '${name}'`);
  const supported = nativeAddon.supportedIsas();
  if (!supported.includes(name)) {
    throw new Error(`ISA '${name}' is not supported by this CPU/build (supported: ${supported.join(', ')})`);
  }
  nativeAddon.selectIsa(name);
  backendInfo.isa = nativeAddon.isa() as BackendInfo['isa'];
}

if (forcedIsa !== undefined && mode !== 'js' && mode !== 'wasm') {
  if (!nativeAddon) throw new Error(`ROPE_SIMD_ISA=${forcedIsa} needs the native addon, which did not load: ${backendInfo.reason}`);
  try {
    selectIsa(forcedIsa);
  } catch (err) {
    throw new Error(`ROPE_SIMD_ISA=${forcedIsa}: ${(err as Error).message}`, { cause: err });
  }
}
