// Shared by prebuild.mjs and check-prebuilds.mjs: the manifest format, file hashes, ELF checks.
// The source hash itself is install.cjs's (one definition: the install script checks the same one).
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);
export const { sourceFiles, sourceHash } = require('./install.cjs');

export const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const prebuildsDir = join(root, 'prebuilds');
export const manifestPath = join(prebuildsDir, 'manifest.json');
/** The prebuilds this repo commits (built on a linux-x64 machine); CI checks they are all there. */
export const REQUIRED = ['linux-x64/rope-simd.glibc.node', 'linux-arm64/rope-simd.glibc.node'];

export const sha256 = (file) => createHash('sha256').update(readFileSync(file)).digest('hex');

/** Per-file hashes of the sources (CRLF read as LF, as sourceHash does): only to name what changed. */
export function sourceDigests(dir = root) {
  const out = {};
  for (const f of sourceFiles(dir)) {
    const text = readFileSync(join(dir, f), 'utf8').replace(/\r\n/g, '\n');
    out[f] = createHash('sha256').update(text).digest('hex');
  }
  return out;
}

/** Every *.node under prebuilds/, as "platform-arch/file" (the manifest's keys). */
export function listPrebuilds(dir = prebuildsDir) {
  if (!existsSync(dir)) return [];
  const out = [];
  for (const tuple of readdirSync(dir)) {
    const sub = join(dir, tuple);
    if (!statSync(sub).isDirectory()) continue;
    for (const f of readdirSync(sub)) if (f.endsWith('.node')) out.push(`${tuple}/${f}`);
  }
  return out.sort();
}

export function readManifest(file = manifestPath) {
  if (!existsSync(file)) return null;
  return JSON.parse(readFileSync(file, 'utf8'));
}

// ELF e_machine values of the two Linux targets built here.
const ELF_MACHINE = { x64: 62, arm64: 183 };

/**
 * For a Linux prebuild: the problems with its ELF header (wrong machine, symbols not stripped), or [].
 * 64-bit little-endian ELF only, which is what both targets are.
 */
export function elfProblems(file, arch) {
  const b = readFileSync(file);
  if (b.readUInt32BE(0) !== 0x7f454c46) return [`${file} is not an ELF file`];
  if (b[4] !== 2 || b[5] !== 1) return [`${file} is not a 64-bit little-endian ELF file`];
  const problems = [];
  const machine = b.readUInt16LE(18);
  if (ELF_MACHINE[arch] !== undefined && machine !== ELF_MACHINE[arch]) {
    problems.push(`${file} has ELF machine ${machine}, expected ${ELF_MACHINE[arch]} (${arch})`);
  }
  const shoff = Number(b.readBigUInt64LE(0x28));
  const shentsize = b.readUInt16LE(0x3a);
  const shnum = b.readUInt16LE(0x3c);
  for (let i = 0; i < shnum; i++) {
    const type = b.readUInt32LE(shoff + i * shentsize + 4);
    if (type === 2) problems.push(`${file} is not stripped (it has a .symtab section)`); // SHT_SYMTAB
  }
  return problems;
}

/** The newest glibc/libstdc++ symbol versions a Linux prebuild needs (from its version names). */
export function glibcRequires(file) {
  const text = readFileSync(file).toString('latin1');
  const newest = (re) => {
    const v = [...text.matchAll(re)].map((m) => m[1].split('.').map(Number));
    v.sort((a, b) => a.reduce((r, x, i) => r || x - (b[i] ?? 0), 0));
    return v.length ? v[v.length - 1].join('.') : null;
  };
  return { glibc: newest(/GLIBC_(\d+\.\d+(?:\.\d+)?)/g), glibcxx: newest(/GLIBCXX_(\d+\.\d+\.\d+)/g) };
}
