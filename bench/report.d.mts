// Types for bench/report.mjs.
export interface SystemResult {
  median: number;
  min: number;
  max: number;
  n: number;
  callsPerSample: number;
  gbps: number;
  fracLimit: number | null;
  vsJs: number | null;
  vsTable: number | null;
  vsNaive: number | null;
  samples: number[];
}
export interface Target {
  id: string;
  text: string;
  threshold: number;
  checks: { cell: string; value: number; pass: boolean }[];
  status: 'PASS' | 'MISS' | 'n/a';
}
export function cellMetrics(
  cell: { bytes: number },
  systems: { id: string }[],
  samples: Record<string, number[]>,
  callsPerSample: Record<string, number>,
): Record<string, SystemResult>;
export function checkTargets(
  cells: { id: string; shape: string; style: string; dtype: string; results: Record<string, SystemResult> }[],
  meta: { nativeOk: boolean; backendInfo: { isa: string } },
): Target[];
export function formatTable(results: unknown): string;
export function formatTargets(targets: Target[]): string;
export function formatMarkdown(results: unknown): string;
