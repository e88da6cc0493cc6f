// Builds native/ with node-gyp; run by npm as the package's "install" script.
//
// Ferry works without the addon (src/fs/raw-twin.ts does the same calls through /proc), so
// this script never fails an install: on any problem it prints one line and exits 0.
// FERRY_NATIVE_BUILD_DIR builds another copy of native/ (its build/ lands there), which lets
// tests exercise this script without touching the real build. FERRY_NO_NATIVE=1 skips it.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const sourceDir = resolve(process.env.FERRY_NATIVE_BUILD_DIR || here);
const BUILD_TIMEOUT_MS = 5 * 60_000;

function fallback(reason) {
  process.stdout.write(`ferry: native addon not built (${reason}); using the TypeScript fallback\n`);
  process.exit(0);
}

/** npm's bundled node-gyp: npm names it in lifecycle scripts; otherwise look beside npm. */
function findNodeGyp() {
  const candidates = [
    process.env.npm_config_node_gyp,
    process.env.npm_execpath && join(dirname(process.env.npm_execpath), '..', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'),
    join(dirname(process.execPath), '..', 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'),
  ];
  return candidates.find((c) => c && c.endsWith('.js') && existsSync(c));
}

/** Headers installed with node itself, so the build never needs the network. */
function findNodeDir() {
  if (process.env.npm_config_nodedir) return process.env.npm_config_nodedir;
  const prefix = resolve(dirname(process.execPath), '..');
  return existsSync(join(prefix, 'include', 'node', 'node_api.h')) ? prefix : undefined;
}

/** The line of node-gyp's output that says what went wrong, shortened. */
function reasonFrom(output, status) {
  const lines = output.split('\n').map((l) => l.trim());
  const pick =
    lines.find((l) => /: (fatal )?error: /.test(l)) ??
    lines.find((l) => /gyp ERR! stack Error: /.test(l))?.replace(/.*stack Error: /, '') ??
    `node-gyp exited with ${status}`;
  return pick.length > 160 ? `${pick.slice(0, 157)}...` : pick;
}

function main() {
  if (process.env.FERRY_NO_NATIVE === '1') fallback('FERRY_NO_NATIVE=1');
  if (process.platform !== 'linux') fallback(`${process.platform} is not supported`);
  if (!existsSync(join(sourceDir, 'binding.gyp'))) fallback(`no binding.gyp in ${sourceDir}`);
  const nodeGyp = findNodeGyp();
  if (nodeGyp === undefined) fallback('node-gyp not found');
  const nodeDir = findNodeDir();
  // --jobs max: make compiles the files in parallel.
  const args = [nodeGyp, 'rebuild', '-C', sourceDir, '--jobs', 'max', ...(nodeDir ? [`--nodedir=${nodeDir}`] : [])];
  const r = spawnSync(process.execPath, args, {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
    timeout: BUILD_TIMEOUT_MS,
    env: { ...process.env, npm_config_loglevel: 'error' },
  });
  if (r.error) fallback(r.error.code === 'ETIMEDOUT' ? 'node-gyp timed out' : r.error.message);
  if (r.status !== 0) fallback(reasonFrom(`${r.stderr}\n${r.stdout}`, r.status ?? r.signal));
  if (!existsSync(join(sourceDir, 'build', 'Release', 'ferry_native.node'))) fallback('node-gyp produced no ferry_native.node');
}

try {
  main();
} catch (err) {
  fallback(err instanceof Error ? err.message : String(err));
}
