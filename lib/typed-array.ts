// Reading typed arrays the way the engines will see them: through the intrinsic
// %TypedArray%.prototype getters, never through properties user code can shadow.
// %TypedArray%.prototype[Symbol.toStringTag] names the element type of any typed array (also one
// from another realm) and gives undefined for everything else, DataView and Buffer-likes included.
const typedArrayTagGetter = Object.getOwnPropertyDescriptor(
  Object.getPrototypeOf(Uint8Array.prototype),
  Symbol.toStringTag,
)!.get as (this: unknown) => string | undefined;

export function typedArrayTag(x: unknown): string | undefined {
  return typedArrayTagGetter.call(x);
}

// A typed array's real length, buffer, byteOffset and byteLength, read through the intrinsic
// %TypedArray%.prototype getters (captured once): an own `length`/`buffer` property or a subclass
// getter cannot make the checks measure an array the engines then do not see.
const intrinsicGetter = (key: string) =>
  Object.getOwnPropertyDescriptor(Object.getPrototypeOf(Uint8Array.prototype), key)!.get as (this: unknown) => never;
const lengthGetter = intrinsicGetter('length');
const bufferGetter = intrinsicGetter('buffer');
const byteOffsetGetter = intrinsicGetter('byteOffset');
const byteLengthGetter = intrinsicGetter('byteLength');
export const lengthOf = (v: ArrayBufferView): number => lengthGetter.call(v);
export const bufferOf = (v: ArrayBufferView): ArrayBufferLike => bufferGetter.call(v);
export const byteOffsetOf = (v: ArrayBufferView): number => byteOffsetGetter.call(v);
export const byteLengthOf = (v: ArrayBufferView): number => byteLengthGetter.call(v);

/** A short description of a value for error messages. */
export function describe(v: unknown): string {
  if (v === null) return 'null';
  switch (typeof v) {
    case 'undefined':
      return 'undefined';
    case 'number':
      return Object.is(v, -0) ? '-0' : String(v);
    case 'string':
      return `'${v.length > 40 ? v.slice(0, 40) + '...' : v}'`;
    case 'bigint':
      return `${v}n`;
    case 'boolean':
    case 'symbol':
      return String(v);
    case 'function':
      return 'a function';
  }
  const tag = typedArrayTag(v);
  if (tag !== undefined) return `a ${tag}`;
  if (Array.isArray(v)) return `an array of length ${v.length}`;
  if (v instanceof ArrayBuffer) return 'an ArrayBuffer';
  if (ArrayBuffer.isView(v)) return 'a DataView';
  return 'an object';
}

// ArrayBuffer.prototype.slice throws a TypeError on a detached buffer, and only then (spec:
// ArrayBuffer.prototype.slice step 5), on every runtime; slice(0, 0) copies nothing. The
// `detached` getter exists only from Node 22, so it is not used: one answer everywhere.
const arrayBufferSlice = ArrayBuffer.prototype.slice;
const arrayBufferByteLength = Object.getOwnPropertyDescriptor(ArrayBuffer.prototype, 'byteLength')!.get!;

/** Whether buf is a detached ArrayBuffer (a SharedArrayBuffer never is). byteLength: of the view. */
export function isDetached(buf: ArrayBufferLike, byteLength: number): boolean {
  if (byteLength !== 0) return false;
  try {
    arrayBufferByteLength.call(buf); // throws for a SharedArrayBuffer
  } catch {
    return false;
  }
  try {
    arrayBufferSlice.call(buf, 0, 0);
    return false;
  } catch {
    return true;
  }
}
