// A call refused as promised: it throws errorType with a message matching re, and every view it
// was given holds the same bytes as before.
import { expect } from 'vitest';

export const bytes = (a: ArrayBufferView): Uint8Array => new Uint8Array(a.buffer, a.byteOffset, a.byteLength).slice();

export function refused(fn: () => void, views: ArrayBufferView[], errorType: ErrorConstructor, re: RegExp): void {
  const before = views.map(bytes);
  let thrown: unknown = null;
  try {
    fn();
  } catch (e) {
    thrown = e;
  }
  expect(thrown, 'expected a throw').toBeInstanceOf(errorType);
  expect((thrown as Error).message).toMatch(re);
  views.forEach((v, i) => expect(bytes(v)).toEqual(before[i]));
}
