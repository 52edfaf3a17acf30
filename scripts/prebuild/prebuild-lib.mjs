// Shared by prebuild.mjs and check-prebuilds.mjs: the manifest format, file hashes, ELF checks.
// The source hash itself is install.cjs's (one definition: the install script checks the same one).
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);
export const { sourceFiles, sourceHash } = require('../install.cjs');

export const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const prebuildsDir = join(root, 'prebuilds');
export const manifestPath = join(prebuildsDir, 'manifest.json');
/** The prebuilds this repo commits (built on a linux-x64 machine); CI checks they are all there. */
export const REQUIRED = ['linux-x64/rope-simd.glibc.node', 'linux-arm64/rope-simd.glibc.node', 'win32-x64/rope-simd.node'];

/** Node's own floor on Linux (Node 18-24's official binaries need glibc 2.28): no prebuild may need more. */
export const GLIBC_MAX = '2.28';

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

const objdump = (args, file) => execFileSync('objdump', [...args, file], { encoding: 'utf8', maxBuffer: 64 << 20 });
const verCmp = (a, b) => {
  const x = a.split('.').map(Number), y = b.split('.').map(Number);
  for (let i = 0; i < Math.max(x.length, y.length); i++) if ((x[i] ?? 0) !== (y[i] ?? 0)) return (x[i] ?? 0) - (y[i] ?? 0);
  return 0;
};
// Weak references the C runtime start files make; unresolved is fine.
const WEAK_OK = new Set(['__gmon_start__', '_ITM_deregisterTMCloneTable', '_ITM_registerTMCloneTable', '_Jv_RegisterClasses']);
const isNodeApi = (name) => /^(napi_|node_api_)/.test(name);

/**
 * A glibc Linux prebuild's dynamic symbols (objdump -T), read for what the loader will demand:
 * { glibc: newest GLIBC_x version, problems: [...] }. Problems: a GLIBC version above GLIBC_MAX, any
 * libstdc++/libgcc_s version (GLIBCXX_, CXXABI_, GCC_: the C++ runtime must be static), and any
 * undefined symbol that no versioned library provides except Node-API's and the crt's weak ones.
 */
export function glibcSymbolProblems(file) {
  const problems = [];
  let newest = '0';
  for (const line of objdump(['-T'], file).split('\n')) {
    const m = line.match(/^\S+\s+(.{7})\s+(\S+)\s+\S+\s+(?:\((\S+)\)|(\S+))?\s+(\S+)$/);
    if (!m) continue;
    const [, flags, section, verHidden, verShown, name] = m;
    const ver = verHidden || verShown || '';
    const g = ver.match(/^GLIBC_(\d+(?:\.\d+)+)$/);
    if (g) {
      if (verCmp(g[1], newest) > 0) newest = g[1];
      if (verCmp(g[1], GLIBC_MAX) > 0) problems.push(`${name} needs ${ver} (above GLIBC_${GLIBC_MAX}, Node's floor)`);
    } else if (/^(GLIBCXX|CXXABI|GCC)_/.test(ver)) {
      problems.push(`${name} needs ${ver}: the C++ runtime must be linked statically`);
    } else if (section === '*UND*' && !isNodeApi(name) && !(flags.includes('w') && WEAK_OK.has(name))) {
      problems.push(`${name} is undefined and no versioned library provides it: it would fail to load`);
    }
  }
  return { glibc: newest, problems: problems.map((p) => `${file}: ${p}`) };
}

// DLLs every Windows has; anything else (libstdc++-6.dll, libwinpthread-1.dll...) would not be there.
const SYSTEM_DLL = /^(kernel32|msvcrt|ucrtbase|advapi32|user32|ws2_32|bcrypt|ntdll|api-ms-win-[a-z0-9-]+)\.dll$/i;

/** A win32 prebuild's PE imports (objdump -p): only node.exe's Node-API functions and system DLLs. */
export function peImportProblems(file) {
  const problems = [];
  const imports = {};
  let dll = null;
  for (const line of objdump(['-p'], file).split('\n')) {
    const d = line.match(/^\s*DLL Name: (\S+)/);
    if (d) { dll = d[1]; imports[dll] = []; continue; }
    if (/^\s*$/.test(line) || /^\S/.test(line)) { dll = null; continue; }
    const f = dll && line.match(/^\s+[0-9a-f]+\s+\d+\s+(\S+)$/);
    if (f) imports[dll].push(f[1]);
  }
  if (!imports['node.exe']) problems.push('imports nothing from node.exe: not a Node-API addon');
  for (const [name, fns] of Object.entries(imports)) {
    if (name === 'node.exe') {
      for (const fn of fns) if (!isNodeApi(fn)) problems.push(`imports ${fn} from node.exe: only Node-API functions are stable`);
    } else if (!SYSTEM_DLL.test(name)) {
      problems.push(`imports from ${name}, which is not a Windows system DLL (link the runtime statically)`);
    }
  }
  return { imports, problems: problems.map((p) => `${file}: ${p}`) };
}
