// Types for bench/baselines.mjs.
type Style = 'half' | 'interleaved';
type Tensor = Float32Array | Uint16Array;
export interface Table { cos: Float32Array; sin: Float32Array; half: number; rotaryDim: number; maxPositions: number }
export function bf16ToF32(bits: number): number;
export function f32ToBf16(value: number): number;
export function invFreqs(rotaryDim: number, base: number): Float64Array;
export function makeTable(maxPositions: number, rotaryDim: number, base: number): Table;
export function tableApplyQK(o: { style: Style; dtype: 'f32' | 'bf16'; headDim: number; qHeads: number; kHeads: number; table: Table }): (q: Tensor, k: Tensor, start: number) => void;
export function naiveApplyQK(o: { style: Style; dtype: 'f32' | 'bf16'; headDim: number; qHeads: number; kHeads: number; base: number }): (q: Tensor, k: Tensor, start: number) => void;
