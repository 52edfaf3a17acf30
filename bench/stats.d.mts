// Types for bench/stats.mjs (the bench is plain JS run by node; the test imports it from TS).
export function median(values: ArrayLike<number> & Iterable<number>): number;
export function summarize(values: ArrayLike<number> & Iterable<number>): { median: number; min: number; max: number; n: number };
export function gbps(bytes: number, ns: number): number;
export function speedup(ns: number | null | undefined, baselineNs: number | null | undefined): number | null;
export function pairedSpeedup(baselineSamples: ArrayLike<number> | null | undefined, xSamples: ArrayLike<number> | null | undefined): number | null;
export function callsPerSample(estimateNs: number, targetNs: number, maxCalls?: number): number;
export function formatNs(ns: number | null | undefined): string;
export function sig3(x: number | null | undefined): string;
export function formatRatio(r: number | null | undefined): string;
