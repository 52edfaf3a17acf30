// Reading untrusted model metadata (config.json, GGUF key/values): typed getters whose errors
// name the key, what was expected and what came. Shared by hf-config.ts and gguf.ts.
import { show } from '../scaling.js';

export type Obj = Record<string, unknown>;

export function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !ArrayBuffer.isView(v);
}

export function toNum(name: string, v: unknown): number {
  if (typeof v === 'bigint') return Number(v);
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new TypeError(`${name} must be a finite number, got ${show(v)}`);
  return v;
}

export function optNum(name: string, v: unknown): number | undefined {
  return v === undefined || v === null ? undefined : toNum(name, v);
}

export function toList(name: string, v: unknown): number[] {
  if (!Array.isArray(v) && !ArrayBuffer.isView(v)) throw new TypeError(`${name} must be an array of numbers, got ${show(v)}`);
  return Array.from(v as ArrayLike<unknown>, (x, i) => toNum(`${name}[${i}]`, x));
}
