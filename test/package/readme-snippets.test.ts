// Every ```js block of README.md runs as written: the "Use" block is examples/readme.mjs (see
// readme-example.test.ts); every other one runs here as its own ES module, importing the built
// package as a user would, in a folder that holds what the snippets open (model/config.json,
// model.gguf), on every engine.
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../..', import.meta.url));
const readme = readFileSync(join(root, 'README.md'), 'utf8');

function blocks(): { line: number; code: string }[] {
  const out: { line: number; code: string }[] = [];
  const re = /```js\n([\s\S]*?)```/g;
  for (let m = re.exec(readme); m !== null; m = re.exec(readme)) {
    out.push({ line: readme.slice(0, m.index).split('\n').length, code: m[1] });
  }
  return out;
}

const all = blocks();
const useBlock = readFileSync(join(root, 'examples/readme.mjs'), 'utf8');
const snippets = all.filter((b) => b.code !== useBlock);

// A consumer's folder: rope-simd and @huggingface/gguf resolvable, and the files snippets open.
const dir = mkdtempSync(join(tmpdir(), 'rope-simd-readme-'));
mkdirSync(join(dir, 'node_modules', '@huggingface'), { recursive: true });
symlinkSync(root, join(dir, 'node_modules', 'rope-simd'), 'dir');
symlinkSync(join(root, 'node_modules', '@huggingface', 'gguf'), join(dir, 'node_modules', '@huggingface', 'gguf'), 'dir');
mkdirSync(join(dir, 'model'));
copyFileSync(join(root, 'test/fixtures/configs/llama-3.1-8b.json'), join(dir, 'model', 'config.json'));
copyFileSync(join(root, 'test/fixtures/gguf/llama.gguf'), join(dir, 'model.gguf'));
writeFileSync(join(dir, 'package.json'), '{ "private": true, "type": "module" }\n');
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('README snippets', () => {
  it('stays a guide a user reads: at most 300 lines', () => {
    expect(readme.split('\n').length - 1).toBeLessThanOrEqual(300);
  });

  it('has the blocks this test runs (the Use block is examples/readme.mjs)', () => {
    expect(all.length - snippets.length).toBe(1);
    expect(snippets.length).toBeGreaterThanOrEqual(3);
  });

  describe.each(['native', 'wasm', 'js'])('on the %s engine', (engine) => {
    it.each(snippets.map((s) => [s.line, s.code]))('the block at README.md:%i runs', (line, code) => {
      const file = join(dir, `snippet-${line}.mjs`);
      writeFileSync(file, code as string);
      const env: Record<string, string | undefined> = { ...process.env, ROPE_SIMD_BACKEND: engine };
      delete env.NODE_OPTIONS; // vitest's loader hooks are not what a user has
      const r = spawnSync(process.execPath, [file], { cwd: dir, env, encoding: 'utf8', timeout: 60_000 });
      expect(r.stderr).not.toMatch(/Error/);
      expect(r.status).toBe(0);
    });
  });
});
