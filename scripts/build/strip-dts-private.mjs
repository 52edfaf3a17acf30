// After tsup: drop the `#private;` member that TypeScript writes into a class's declaration when
// the class has ES private fields. TypeScript below target ES2015 (e.g. `tsc file.ts` with no
// tsconfig on TS 5.x) refuses that line in a .d.ts; it only makes the class nominal, which users
// of an API class never rely on. test/package/types-dts.test.ts compiles the result with default options.
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const dir = new URL('../../dist/', import.meta.url).pathname;
for (const f of readdirSync(dir)) {
  if (!/\.d\.c?ts$/.test(f)) continue;
  const p = join(dir, f);
  const s = readFileSync(p, 'utf8');
  const t = s.replace(/^[ \t]*#private;\r?\n/gm, '');
  if (t !== s) writeFileSync(p, t);
}
