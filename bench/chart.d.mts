// Types for bench/chart.mjs.
export interface ChartSystem { id: string; kind: string; label?: string }
export interface ChartCell {
  id: string;
  shape: string;
  style: string;
  dtype: string;
  shapeNote?: string;
  results: Record<string, { gbps: number; median: number } | undefined>;
}
export interface ChartInput {
  meta: { cpu: string; cores: number; date: string; quick?: boolean; node?: string; platform?: string; command?: string; loadavgBefore?: number[] };
  systems: ChartSystem[];
  cells: ChartCell[];
}
export function escapeXml(s: unknown): string;
export function renderChart(results: ChartInput): string;
