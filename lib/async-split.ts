// An async call on SharedArrayBuffer memory when the walk cannot leave a core to the event loop
// (lib/async.ts offThreadThreads: 2 cores), from both ends at once: the pool rotates tokens from
// the end on the other cores while this thread rotates them from the start in slices of ~1 ms,
// one thread each, yielding to the event loop between its slices. Every core works all the time
// (the total stays near the sync call's) and no walk competes with this thread for a core (the
// loop's pauses stay one slice long). Memory no JS can free, move or shrink is what lets a pool
// thread write it while JS runs.
//
// The pool takes chunks of the tokens still unclaimed: half of them at a time (sized by the two
// sides' measured speeds), at most OFF_THREAD_SLICE_MS of work with a signal, so that an abort
// waits for at most one chunk. An abort or an error waits for the chunk in flight, then says
// which tokens were rotated: a first run and a last run, the middle unchanged.
import { abortError, asyncCores, fixedSliceUnits, nextRate, ownPlan, yieldToLoop, type SignalLike, type SliceEngine } from './async.js';
import { DTYPE_F32, type CallPlan, type TensorPlan } from './types.js';

/** This thread's slices, in ms; the pool's chunks with a signal, in ms. */
const SLICE_MS = 1;
const BG_SLICE_MS = 4;

// Tokens (of q + k rows) per ms, per engine and element size, for this thread and for the pool.
const rates = new Map<string, number>();
const START_RATE = 300; // a new engine starts low and learns (~150 MB/s at Llama-3-8B heads, f32)

export interface SplitCall {
  call: string;
  engineName: string;
  signal: SignalLike | undefined;
}

/** Threads the pool uses for its end when a call runs from both ends (the other cores). */
export function splitPoolThreads(cores: number): number {
  return Math.max(1, asyncCores(cores) - 1);
}

const range = (a: number, b: number): string => (a === b ? `token ${a}` : `tokens ${a}-${b}`);

/** Which tokens were rotated: [0, lo) and [hi, tokens); the others are unchanged. */
export function splitProgressText(lo: number, hi: number, tokens: number): string {
  if (lo === 0 && hi === tokens) return `before any token was rotated: all ${tokens} token${tokens === 1 ? '' : 's'} are unchanged`;
  const rotated = [lo > 0 ? range(0, lo - 1) : '', hi < tokens ? range(hi, tokens - 1) : ''].filter((s) => s !== '');
  const unchanged = lo < hi ? `; ${range(lo, hi - 1)} ${hi - lo === 1 ? 'is' : 'are'} unchanged` : '';
  return `after ${rotated.join(' and ')} of ${tokens} were rotated${unchanged}`;
}

/** sub: plan's tokens [t0, t0 + n) (batch 1). */
function aim(sub: CallPlan, plan: CallPlan, t0: number, n: number): void {
  sub.tokens = n;
  for (const [s, t] of [[sub.q, plan.q], [sub.k, plan.k]] as [TensorPlan | null, TensorPlan | null][]) {
    if (s === null || t === null) continue;
    s.data = t.data;
    s.offset = t.offset + t0 * t.tokenStride;
  }
  if (plan.positions === null) sub.positionOffset = plan.positionOffset + t0;
  else sub.positions = new Int32Array(plan.positions.buffer, t0 * 4, plan.positions.length - t0);
}

/**
 * Runs plan (batch 1, every tensor in SharedArrayBuffer memory, no cache write) from both ends:
 * engine.applyAsync on the pool from the end with poolThreads threads, engine.apply on this thread
 * from the start with one. The first slice runs before this returns.
 */
export function runSplit(engine: SliceEngine, callPlan: CallPlan, poolThreads: number, c: SplitCall): Promise<void> {
  const plan = ownPlan(callPlan);
  const tokens = plan.tokens;
  const here: CallPlan = ownPlan({ ...plan, positions: null });
  here.threads = 1;
  const pool: CallPlan = ownPlan({ ...plan, positions: null });
  pool.threads = poolThreads;
  const elem = plan.q.dtype === DTYPE_F32 ? 4 : 2;
  const hereKey = `${c.engineName}/${elem}/here`;
  const poolKey = `${c.engineName}/${elem}/pool`;
  const rate = (key: string): number => rates.get(key) ?? START_RATE;
  const learn = (key: string, n: number, ms: number): void => {
    rates.set(key, nextRate(rate(key), n, ms));
  };
  const signal = c.signal;

  // [0, lo): rotated here; [hi, tokens): claimed by the pool, of which [poolDone, tokens) are done.
  let lo = 0;
  let hi = tokens;
  let poolDone = tokens;
  let inFlight: Promise<void> | null = null;
  let poolError: unknown = null;
  let stopping = false;

  const startPool = (): void => {
    const left = hi - lo;
    if (stopping || left <= 1) return;
    const fixed = fixedSliceUnits();
    const share = rate(poolKey) / (rate(poolKey) + rate(hereKey));
    let n = fixed > 0 ? fixed : Math.max(1, Math.ceil(left * share));
    if (signal !== undefined && fixed === 0) n = Math.min(n, Math.max(1, Math.floor(rate(poolKey) * BG_SLICE_MS)));
    n = Math.min(n, left - 1); // (this thread is at lo: the pool never takes it all)
    const t0 = hi - n;
    aim(pool, plan, t0, n);
    hi = t0;
    const started = performance.now();
    let p: Promise<void>;
    try {
      p = engine.applyAsync!(pool);
    } catch (e) {
      p = Promise.reject(e);
    }
    pool.positions = null;
    inFlight = p.then(
      () => {
        learn(poolKey, n, performance.now() - started);
        poolDone = t0;
        inFlight = null;
        startPool();
      },
      (e: unknown) => {
        // (the binding writes nothing when a walk is refused)
        poolError ??= e;
        hi = poolDone;
        inFlight = null;
      },
    );
  };

  const progress = (): string => splitProgressText(lo, poolDone, tokens);
  // Ends the call: no new chunk; the one in flight finishes (or fails) before the message is made.
  const stop = async (make: () => unknown): Promise<never> => {
    stopping = true;
    while (inFlight !== null) await inFlight;
    throw make();
  };
  const withProgress = (e: unknown): unknown => {
    if (e instanceof Error) e.message += ` (${c.call} stopped ${progress()})`;
    return e;
  };

  // One slice here; an error, or null.
  const slice = (): unknown => {
    const fixed = fixedSliceUnits();
    const n = Math.min(hi - lo, fixed > 0 ? fixed : Math.max(1, Math.floor(rate(hereKey) * SLICE_MS)));
    aim(here, plan, lo, n);
    const t0 = performance.now();
    try {
      engine.apply(here);
    } catch (e) {
      return e; // (the engines check before writing: this slice wrote nothing)
    } finally {
      here.positions = null;
    }
    learn(hereKey, n, performance.now() - t0);
    lo += n;
    return null;
  };

  startPool();
  const first = slice();
  return (async () => {
    if (first !== null) return stop(() => withProgress(first));
    for (;;) {
      if (poolError !== null) return stop(() => withProgress(poolError));
      if (lo < hi) {
        await yieldToLoop();
        if (signal?.aborted) return stop(() => abortError(`${c.call} was aborted ${progress()}`, signal));
        if (poolError !== null || lo >= hi) continue;
        const e = slice();
        if (e !== null) return stop(() => withProgress(e));
        continue;
      }
      if (inFlight === null) break;
      await inFlight; // this end is done: the pool's chunk finishes the call
    }
  })();
}
