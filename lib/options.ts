// The option keys each call form understands, stated once. Every path that reads a caller's
// options object (the constructor, scaling objects, apply/applyQK in their sync, async and
// prepared forms) refuses a key that is not here by name: a misspelled option must never turn
// into a silent default ({ rope_theta: 500000 } rotating with base 10000, { invers: true }
// rotating forward). A new call option is one line here plus where it is read.

const COMMON_CALL = ['positions', 'layout', 'batch', 'tokens', 'inverse', 'seqLen', 'threads', 'dtype', 'tokenStride'];

/** rope.apply / applyAsync. */
export const APPLY_KEYS: ReadonlySet<string> = new Set([...COMMON_CALL, 'heads']);
/** rope.applyQK / applyQKAsync. */
export const APPLY_QK_KEYS: ReadonlySet<string> = new Set([...COMMON_CALL, 'qHeads', 'kHeads', 'qTokenStride', 'kTokenStride', 'v', 'cache']);
/** applyQK's cache object (lib/cache.ts). */
export const CACHE_KEYS: ReadonlySet<string> = new Set(['k', 'v', 'slots', 'dtype', 'layout']);
/** The async forms also take an AbortSignal. */
export const APPLY_ASYNC_KEYS: ReadonlySet<string> = new Set([...APPLY_KEYS, 'signal']);
export const APPLY_QK_ASYNC_KEYS: ReadonlySet<string> = new Set([...APPLY_QK_KEYS, 'signal']);
/** A prepared step's applyQKAsync(q, k, positions, options). */
export const STEP_ASYNC_KEYS: ReadonlySet<string> = new Set(['signal', 'v', 'cache']);
/** A prepared step's applyQK(q, k, positions, { v, cache }). */
export const STEP_KV_KEYS: ReadonlySet<string> = new Set(['v', 'cache']);
/** rope.prepare. */
export const PREPARE_KEYS: ReadonlySet<string> = new Set(['qHeads', 'kHeads', 'dtype', 'threads', 'inverse']);
/** new Rope(options). */
export const ROPE_KEYS: ReadonlySet<string> = new Set([
  'headDim', 'rotaryDim', 'base', 'style', 'scaling', 'maxPositions', 'mropeSection', 'mropeInterleaved', 'rotarySlice',
]);
/** scaling objects, per scaling.type. */
export const SCALING_KEYS: Readonly<Record<string, ReadonlySet<string>>> = {
  default: new Set(['type']),
  linear: new Set(['type', 'factor']),
  dynamic: new Set(['type', 'factor', 'originalMaxPositions']),
  yarn: new Set(['type', 'factor', 'originalMaxPositions', 'betaFast', 'betaSlow', 'mscale', 'mscaleAllDim', 'attentionFactor', 'truncate']),
  llama3: new Set(['type', 'factor', 'lowFreqFactor', 'highFreqFactor', 'originalMaxPositions']),
  longrope: new Set(['type', 'shortFactor', 'longFactor', 'originalMaxPositions', 'factor', 'maxPositions', 'attentionFactor', 'shortMscale', 'longMscale']),
  proportional: new Set(['type', 'factor', 'rotaryFraction']),
  freqFactors: new Set(['type', 'factors']),
};

/**
 * Throws a TypeError naming the first key of opts (own or inherited, enumerable: what a property
 * read would see) that `known` does not hold, with the nearest known key when one is close.
 * `what` names the call ("apply", "new Rope", "scaling 'yarn'").
 */
export function checkKnownKeys(opts: object, known: ReadonlySet<string>, what: string): void {
  // for-in walks V8's enum cache: a few ns per key on the decode path.
  for (const key in opts) {
    if (!known.has(key)) throw unknownKey(key, known, what);
  }
}

/**
 * checkKnownKeys(opts, APPLY_QK_KEYS, 'applyQK') for the decode path: a switch on the key compares
 * interned strings (~12 ns a call where the Set costs ~30, on a ~450 ns step). A test holds the
 * two lists equal.
 */
export function checkApplyQKKeys(opts: object): void {
  for (const key in opts) {
    switch (key) {
      // (the keys of a decode call first: the cases are tested in order)
      case 'qHeads': case 'kHeads': case 'positions': case 'v': case 'cache': case 'threads': case 'dtype':
      case 'layout': case 'batch': case 'tokens': case 'inverse': case 'seqLen': case 'tokenStride':
      case 'qTokenStride': case 'kTokenStride':
        break;
      default:
        throw unknownKey(key, APPLY_QK_KEYS, 'applyQK');
    }
  }
}

/** Whether every key of a cache option is one CACHE_KEYS holds (the decode path; false leaves
 * the message to the plain call's checkKnownKeys). A test holds the two lists equal. */
export function knownCacheKeys(cache: object): boolean {
  for (const key in cache) {
    switch (key) {
      case 'k': case 'v': case 'slots': case 'dtype': case 'layout':
        break;
      default:
        return false;
    }
  }
  return true;
}

// Keys that belong to the sibling call: the message says which call takes them.
const WRONG_CALL: Record<string, string> = {
  heads: "applyQK takes qHeads and kHeads (heads per token in q and in k), not heads (that is apply's option)",
  qHeads: 'apply takes heads (heads per token in x), not qHeads/kHeads: to rotate q and k in one call use applyQK',
  kHeads: 'apply takes heads (heads per token in x), not qHeads/kHeads: to rotate q and k in one call use applyQK',
  qTokenStride: 'apply takes tokenStride, not qTokenStride/kTokenStride (those are applyQK\'s)',
  kTokenStride: 'apply takes tokenStride, not qTokenStride/kTokenStride (those are applyQK\'s)',
};

function unknownKey(key: string, known: ReadonlySet<string>, what: string): TypeError {
  const sibling = what.startsWith('apply') && Object.hasOwn(WRONG_CALL, key) ? WRONG_CALL[key] : undefined;
  if (sibling !== undefined && (key === 'heads') === what.startsWith('applyQK')) return new TypeError(sibling);
  const near = nearest(key, known);
  const hint = near === null ? '' : `: did you mean '${near}'?`;
  return new TypeError(`${what} does not take the option '${key}'${hint} (it takes ${[...known].join(', ')})`);
}

/** The known key closest to `key` (case-insensitive, snake_case read as camelCase), if close. */
export function nearest(key: string, known: Iterable<string>): string | null {
  const norm = (s: string): string => s.toLowerCase().replace(/[_-]/g, '');
  const k = norm(key);
  let best: string | null = null;
  let bestD = Infinity;
  for (const cand of known) {
    const c = norm(cand);
    let d = editDistance(k, c);
    // A config.json spelling often holds the option's name (rope_theta -> base is the exception:
    // an alias table names it).
    if (ALIASES[k] === cand) d = 0;
    else if (c.length >= 4 && (k.includes(c) || c.includes(k))) d = Math.min(d, 1);
    if (d < bestD) {
      bestD = d;
      best = cand;
    }
  }
  return bestD <= Math.max(2, Math.floor(k.length / 3)) ? best : null;
}

// config.json / transformers spellings of the constructor's options.
const ALIASES: Record<string, string> = {
  ropetheta: 'base',
  theta: 'base',
  freqbase: 'base',
  headdim: 'headDim',
  ropescaling: 'scaling',
  ropeparameters: 'scaling',
  partialrotaryfactor: 'rotaryDim',
  maxpositionembeddings: 'maxPositions',
  originalmaxpositionembeddings: 'originalMaxPositions',
  ropetype: 'type',
  nheads: 'heads',
  numheads: 'heads',
  numattentionheads: 'qHeads',
  numkeyvalueheads: 'kHeads',
};

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0];
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const cur = row[j];
      row[j] = Math.min(row[j] + 1, row[j - 1] + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = cur;
    }
  }
  return row[b.length];
}
