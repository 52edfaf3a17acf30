// The memory limit's pass (limitPass, limitPassQK) comes from the testing addon: the published
// addon exports no bench hooks. Built from source on first use (scripts/build/build-testing-addon.mjs,
// the same sources and flags as the addon; needs a C++ compiler as a source install does), with
// its kernels set to the ISA the package's own addon runs, so the limit rows measure the same
// vectors. Without it the bench runs and says why there is no limit row.
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const cache = new Map();

/** @returns {Promise<{ addon: any, reason?: undefined } | { addon: null, reason: string }>} */
export async function loadLimitAddon(internal) {
  const info = internal.backendInfo;
  if (info?.backend !== 'native') return { addon: null, reason: `native engine unavailable: ${info?.reason ?? 'not loaded'}` };
  if (cache.has(info.isa)) return cache.get(info.isa);
  const { buildTestingAddon } = await import(pathToFileURL(path.join(root, 'scripts', 'build', 'build-testing-addon.mjs')).href);
  let out;
  const built = buildTestingAddon({ quiet: true });
  if (built.error) out = { addon: null, reason: `no testing addon for the limit pass: ${built.error}` };
  else {
    try {
      const addon = createRequire(import.meta.url)(built.path);
      addon.selectIsa(info.isa);
      out = { addon };
    } catch (e) {
      out = { addon: null, reason: `the testing addon did not load: ${e.message}` };
    }
  }
  cache.set(info.isa, out);
  return out;
}
