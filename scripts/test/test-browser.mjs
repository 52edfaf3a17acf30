#!/usr/bin/env node
// The page test: a page bundled for the browser from `import { Rope } from 'rope-simd'` (esbuild,
// platform browser: the package's "browser" export, dist/browser.js), served on 127.0.0.1, loaded
// by headless Chromium (Debian's `chromium`), must run the wasm engine and print the same hash of
// scripts/test/smoke-wasm.mjs's results as Node does with ROPE_SIMD_BACKEND=wasm. Needs `npm run build:ts`.
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = resolve(fileURLToPath(import.meta.url), '../../..');
const chromium = process.env.CHROMIUM ?? '/usr/bin/chromium';
if (!existsSync(chromium)) {
  console.error(`test-browser: ${chromium} not found (apt-get install -y chromium)`);
  process.exit(1);
}
if (!existsSync(join(root, 'dist', 'browser.js'))) {
  console.error('test-browser: dist/browser.js is missing (npm run build:ts)');
  process.exit(1);
}

const work = mkdtempSync(join(tmpdir(), 'rope-page-'));
const profile = mkdtempSync(join(tmpdir(), 'rope-chromium-'));
let server;
try {
  mkdirSync(join(work, 'node_modules'));
  symlinkSync(root, join(work, 'node_modules', 'rope-simd'), 'dir');
  writeFileSync(
    join(work, 'page.js'),
    `import { Rope, backendInfo } from 'rope-simd';
import { smoke } from ${JSON.stringify(join(root, 'scripts', 'test', 'smoke-wasm.mjs'))};
let out;
try { out = { backendInfo, ...smoke(Rope) }; } catch (e) { out = { error: String(e && e.stack || e) }; }
document.getElementById('out').textContent = JSON.stringify(out);
`,
  );
  const bundle = await build({
    entryPoints: [join(work, 'page.js')],
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    write: false,
    absWorkingDir: work,
    logLevel: 'error',
  });
  const js = bundle.outputFiles[0].text;
  if (/\bnode:/.test(js)) throw new Error('the browser bundle mentions a node: module');
  const html = '<!doctype html><html><body><pre id="out">not run</pre><script type="module" src="/page.js"></script></body></html>';

  server = createServer((req, res) => {
    if (req.url === '/page.js') res.writeHead(200, { 'content-type': 'text/javascript' }).end(js);
    else if (req.url === '/') res.writeHead(200, { 'content-type': 'text/html' }).end(html);
    else res.writeHead(404).end();
  });
  await new Promise((ok) => server.listen(0, '127.0.0.1', ok));
  const url = `http://127.0.0.1:${server.address().port}/`;

  const args = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
    '--no-first-run', `--user-data-dir=${profile}`, '--virtual-time-budget=20000', '--dump-dom', url];
  const dom = await new Promise((ok, fail) => {
    const p = spawn(chromium, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '', err = '';
    p.stdout.on('data', (d) => (out += d));
    p.stderr.on('data', (d) => (err += d));
    const timer = setTimeout(() => p.kill('SIGKILL'), 120_000);
    p.on('close', (code) => {
      clearTimeout(timer);
      code === 0 ? ok(out) : fail(new Error(`chromium exited ${code}: ${err.slice(-2000)}`));
    });
  });
  const m = /<pre id="out">([^<]*)<\/pre>/.exec(dom);
  if (!m) throw new Error(`no result in the page: ${dom.slice(0, 500)}`);
  const page = JSON.parse(m[1].replace(/&quot;/g, '"').replace(/&amp;/g, '&'));
  const node = JSON.parse(
    execFileSync(process.execPath, [join(root, 'scripts', 'test', 'smoke-wasm.mjs')], { env: { ...process.env, ROPE_SIMD_BACKEND: 'wasm' }, encoding: 'utf8' }),
  );
  console.log(`chromium: ${JSON.stringify(page)}\nnode:     ${JSON.stringify(node)}`);
  const problems = [];
  if (page.error) problems.push(`the page threw: ${page.error}`);
  if (page.backendInfo?.backend !== 'wasm' || page.backendInfo?.isa !== 'wasm-simd128') problems.push('the page did not run the wasm engine');
  if (page.hash !== node.hash || page.cases !== node.cases) problems.push("the page's results differ from Node's");
  if (problems.length) throw new Error(problems.join('; '));
  console.log('test-browser: ok (headless Chromium ran the wasm engine with the same results as Node)');
} finally {
  server?.close();
  rmSync(work, { recursive: true, force: true });
  rmSync(profile, { recursive: true, force: true });
}
