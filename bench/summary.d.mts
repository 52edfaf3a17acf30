// Types for bench/summary.mjs (the bench is plain JS run by node; the test imports it from TS).
export const LEGEND: string;
export function formatSummary(results: {
  meta: { nativeOk: boolean; backendInfo: { isa: string } };
  cells: { dtype: string; shape: string; results?: Record<string, { vsJs?: number }> }[];
}): string;
