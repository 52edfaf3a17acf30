// Which engine runs: the native addon (node-gyp-build: prebuilds/ first, then build/) or the JS
// engine, decided once at import. Environment:
//   ROPE_SIMD_BACKEND=js      never load the addon
//   ROPE_SIMD_BACKEND=native  a load failure throws here instead of falling back
//   ROPE_SIMD_ADDON=file.node load exactly that file (CI runs the suite on the cmake-js and the
//                             node-gyp build this way); a failure throws
//   ROPE_SIMD_ISA=scalar|avx2|avx512|neon  force those kernels; throws if this CPU/build lacks them
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { NativeAddon } from './abi.js';
import type { BackendInfo } from './types.js';

const ISAS = ['scalar', 'avx2', 'avx512', 'neon'];
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
  const mode = process.env.ROPE_SIMD_BACKEND ?? '';
  if (mode !== '' && mode !== 'auto' && mode !== 'js' && mode !== 'native') {
    throw new Error(`ROPE_SIMD_BACKEND must be 'js', 'native' or unset, got '${mode}'`);
  }
  if (mode === 'js') return { addon: null, reason: 'ROPE_SIMD_BACKEND=js' };
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

const forcedIsa = process.env.ROPE_SIMD_ISA || undefined;
const loaded = load();

/** The loaded addon, or null (internal: parity tests, the benchmark). */
export const nativeAddon: NativeAddon | null = loaded.addon;

/** Which backend runs, live: `isa` follows selectIsa(). */
export const backendInfo: BackendInfo = nativeAddon
  ? { backend: 'native', isa: nativeAddon.isa() as BackendInfo['isa'] }
  : { backend: 'js', isa: 'js', reason: loaded.reason };

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

if (forcedIsa !== undefined && process.env.ROPE_SIMD_BACKEND !== 'js') {
  if (!nativeAddon) throw new Error(`ROPE_SIMD_ISA=${forcedIsa} needs the native addon, which did not load: ${backendInfo.reason}`);
  try {
    selectIsa(forcedIsa);
  } catch (err) {
    throw new Error(`ROPE_SIMD_ISA=${forcedIsa}: ${(err as Error).message}`, { cause: err });
  }
}
