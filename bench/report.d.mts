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
export interface ThreadsRow {
  id: string;
  cell: string;
  shape: string;
  threads: number | 'auto';
  bytes: number;
  ns: number;
  min: number;
  max: number;
  gbps: number;
  speedup: number;
  limitNs: number | null;
  fracLimit: number | null;
}
type BenchCell = { id: string; shape: string; style: string; dtype: string; bytes?: number; results: Record<string, SystemResult> };
type BenchMeta = { nativeOk: boolean; backendInfo: { isa: string }; cores?: number };
export function threadsRows(cells: BenchCell[], meta: BenchMeta): ThreadsRow[];
export function checkTargets(cells: BenchCell[], meta: BenchMeta, threads?: ThreadsRow[]): Target[];
export function formatThreads(rows: ThreadsRow[]): string;
export function formatTable(results: unknown): string;
export function formatTargets(targets: Target[]): string;
export function formatMarkdown(results: unknown): string;
