// Plain arithmetic for the benchmark: summaries of timing samples, throughput, ratios, formatting.
// Kept free of I/O so test/unit/bench-stats.test.ts can check it on known inputs.

/** Median of a non-empty list (mean of the two middle values for an even count). */
export function median(values) {
  if (values.length === 0) throw new RangeError('median: values is empty');
  const s = Float64Array.from(values).sort();
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

/** { median, min, max, n } of timing samples (ns per call). */
export function summarize(values) {
  if (values.length === 0) throw new RangeError('summarize: values is empty');
  let min = Infinity;
  let max = -Infinity;
  for (const v of values) {
    if (v < min) min = v;
    if (v > max) max = v;
  }
  return { median: median(values), min, max, n: values.length };
}

/** Effective throughput of an in-place pass: every byte is read once and written once, so the
 * traffic is 2 * bytes. bytes / ns is bytes per nanosecond = GB/s (1 GB = 1e9 bytes). */
export function gbps(bytes, ns) {
  if (!(ns > 0)) throw new RangeError(`gbps: ns ${ns} is not a positive time`);
  return (2 * bytes) / ns;
}

/** How many times faster `ns` is than `baselineNs` (both ns per call); null when either is missing. */
export function speedup(ns, baselineNs) {
  if (ns == null || baselineNs == null) return null;
  return baselineNs / ns;
}

/** Calls per timed sample so one sample lasts about targetNs (timer resolution and the loop's
 * own cost then vanish in the division), at least 1 and at most maxCalls. */
export function callsPerSample(estimateNs, targetNs, maxCalls = 100_000) {
  if (!(estimateNs > 0)) return maxCalls;
  return Math.max(1, Math.min(maxCalls, Math.ceil(targetNs / estimateNs)));
}

/** "1.23 µs" style, three significant digits. */
export function formatNs(ns) {
  if (ns == null) return '-';
  const units = [
    [1e9, 's'],
    [1e6, 'ms'],
    [1e3, 'µs'],
  ];
  for (const [scale, unit] of units) if (ns >= scale) return `${sig3(ns / scale)} ${unit}`;
  return `${sig3(ns)} ns`;
}

/** Three significant digits without exponent notation. */
export function sig3(x) {
  if (x == null || !Number.isFinite(x)) return '-';
  if (x === 0) return '0';
  const digits = Math.max(0, 2 - Math.floor(Math.log10(Math.abs(x))));
  return x.toFixed(Math.min(digits, 6));
}

/** "12.3x" or "-" */
export function formatRatio(r) {
  return r == null ? '-' : `${sig3(r)}x`;
}

/**
 * The speedup of x over a baseline measured in the same interleaved rounds: the median of the
 * per-round ratios baseline[r] / x[r]. Each pair was measured side by side, so a slow stretch of a
 * shared machine (which moves both) cancels, where median over median can be a few percent off
 * for two identical code paths. null if either has no samples.
 */
export function pairedSpeedup(baselineSamples, xSamples) {
  const n = Math.min(baselineSamples?.length ?? 0, xSamples?.length ?? 0);
  if (n === 0) return null;
  const ratios = [];
  for (let i = 0; i < n; i++) ratios.push(baselineSamples[i] / xSamples[i]);
  return median(ratios);
}
