/**
 * Throughput of one transfer session over loopback TCP, source and destination in separate
 * processes (as two agents would be). Not a test (vitest ignores it); build and run by hand:
 *
 *   npx tsc test/unit/transfer/bench/loopback-bench.ts --outDir /tmp/fsb --rootDir . \
 *     --module NodeNext --moduleResolution NodeNext --target ES2022 --skipLibCheck --types node
 *   ln -s $PWD/node_modules /tmp/fsb/node_modules; echo '{"type":"module"}' > /tmp/fsb/package.json
 *   node /tmp/fsb/test/unit/transfer/bench/loopback-bench.js --mib 1024
 *
 *   node loopback-bench.js [--mib 1024] [--parallelism 4] [--chunk-kib 4096] [--algorithm sha256]
 *                          [--verify] [--no-fsync] [--tls] [--files N --file-kib K] [--dir /tmp/ferry-session-bench]
 *
 * Prints one JSON line: seconds, MB/s (10^6 bytes), and user+system CPU seconds per side
 * (worker threads included, since process.cpuUsage() counts the whole process).
 */
import { execFileSync, fork } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { mkdir, open, rm, stat } from 'node:fs/promises';
import net from 'node:net';
import tls from 'node:tls';
import { writeFileSync } from 'node:fs';
import { createCa, issueServerCertificate } from '../../../../src/pki/index.js';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runSession, type PathResolver, type SessionReporter } from '../../../../src/transfer/index.js';
import type { SessionSpec, SessionStats, TransferOptions } from '../../../../src/protocol/session.js';
import { openWriteDirBelow } from '../session-fixture.js';
import { realpathSync } from 'node:fs';

interface Args { tls: boolean; writes: number; durable: boolean; mib: number; parallelism: number; chunkKib: number; algorithm: TransferOptions['checksumAlgorithm']; verify: boolean; files: number; fileKib: number; dir: string }

function parseArgs(argv: string[]): Args {
  const a: Args = { tls: false, writes: 4, durable: true, mib: 1024, parallelism: 4, chunkKib: 4096, algorithm: 'sha256', verify: false, files: 0, fileKib: 4, dir: '/tmp/ferry-session-bench' };
  for (let k = 0; k < argv.length; k++) {
    const v = argv[k + 1];
    switch (argv[k]) {
      case '--mib': a.mib = Number(v); k++; break;
      case '--parallelism': a.parallelism = Number(v); k++; break;
      case '--chunk-kib': a.chunkKib = Number(v); k++; break;
      case '--algorithm': a.algorithm = v as Args['algorithm']; k++; break;
      case '--verify': a.verify = true; break;
      case '--no-fsync': a.durable = false; break;
      case '--tls': a.tls = true; break;
      case '--writes': a.writes = Number(v); k++; break;
      case '--files': a.files = Number(v); k++; break;
      case '--file-kib': a.fileKib = Number(v); k++; break;
      case '--dir': a.dir = String(v); k++; break;
      default: break;
    }
  }
  return a;
}

const resolver = (root: string): PathResolver => ({
  async resolve(apiPath) { return { hostPath: join(root, ...apiPath.split('/').filter(Boolean)), apiPath, realRoot: realpathSync(root) }; },
  lexical: (apiPath) => ({ isRoot: apiPath.split('/').every((p) => p === ''), nestedRoots: [] }),
  rootOfDir: () => null,
  openWriteDir: (apiPath, createMode) => openWriteDirBelow(root, apiPath, createMode),
});
const quiet: SessionReporter = { progress: () => undefined, filesDone: () => undefined, event: () => undefined };

function spec(role: 'source' | 'destination', a: Args, sessionId: string): SessionSpec {
  const items = a.files > 0 ? [{ sourcePath: `/src/many-${a.files}x${a.fileKib}`, destinationPath: '/dst/many', recursive: true }] : [{ sourcePath: '/src/big', destinationPath: '/dst/big', recursive: false }];
  return {
    sessionId, taskId: sessionId, role, peer: { nodeId: sessionId, address: null }, listen: role === 'destination', secret: 'x'.repeat(43), items,
    options: { syncLevel: null, verifyChecksum: a.verify, preserveTimestamp: true, deleteDestinationExtra: false, skipSourceErrors: false, failOnQuotaErrors: false, checksumAlgorithm: a.algorithm, parallelism: a.parallelism },
  };
}

async function prepare(a: Args): Promise<number> {
  await rm(join(a.dir, 'dst'), { recursive: true, force: true });
  await mkdir(join(a.dir, 'src'), { recursive: true });
  await mkdir(join(a.dir, 'dst'), { recursive: true });
  if (a.files > 0) {
    const dir = join(a.dir, `src/many-${a.files}x${a.fileKib}`);
    const marker = `${dir}.complete`;
    if (!(await stat(marker).catch(() => null))) {
      await rm(dir, { recursive: true, force: true });
      for (let k = 0; k < 100; k++) await mkdir(join(dir, `d${k}`), { recursive: true });
      for (let k = 0; k < a.files; k++) {
        const fh = await open(join(dir, `d${k % 100}`, `f${k}`), 'w');
        await fh.write(randomBytes(a.fileKib * 1024));
        await fh.close();
      }
      await (await open(marker, 'w')).close();
    }
    execFileSync('sync');
    return a.files * a.fileKib * 1024;
  }
  const bytes = a.mib * 1024 * 1024;
  const p = join(a.dir, 'src/big');
  if ((await stat(p).catch(() => null))?.size !== bytes) {
    const fh = await open(p, 'w');
    const block = randomBytes(64 * 1024 * 1024);
    for (let o = 0; o < bytes; o += block.length) await fh.write(block, 0, Math.min(block.length, bytes - o));
    await fh.close();
  }
  // Start from clean page-cache writeback, as the peer benchmarks do (ANCHORS.md).
  execFileSync('sync');
  return bytes;
}

async function destination(a: Args): Promise<void> {
  const bytes = await prepare(a);
  let server: net.Server;
  const caFile = join(a.dir, 'ca.pem');
  if (a.tls) {
    // TLS 1.3 with the default suite, as the data channel runs it (one side authenticated here).
    const ca = createCa({ commonName: 'bench CA', keyBits: 2048 });
    const cert = issueServerCertificate(ca, ['127.0.0.1']);
    writeFileSync(caFile, ca.certPem);
    server = tls.createServer({ cert: cert.certPem, key: cert.keyPem, minVersion: 'TLSv1.3' });
  } else {
    server = net.createServer();
  }
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const sessionId = randomUUID();
  const child = fork(fileURLToPath(import.meta.url), ['--role', 'source', ...process.argv.slice(2), '--port', String((server.address() as net.AddressInfo).port), '--session', sessionId, '--ca', caFile]);
  const sockets: net.Socket[] = [];
  while (sockets.length < a.parallelism + 1) {
    const [s] = (await once(server, a.tls ? 'secureConnection' : 'connection')) as [net.Socket];
    s.write(Buffer.from([sockets.length]));
    sockets.push(s);
  }
  server.close();
  const cpu0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  const stats: SessionStats = await runSession({ spec: spec('destination', a, sessionId), streams: sockets, resolver: resolver(a.dir), reporter: quiet, signal: new AbortController().signal, tuning: { durable: a.durable, writesPerStream: a.writes } });
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const cpu = process.cpuUsage(cpu0);
  const [msg] = (await once(child, 'message')) as [{ cpu: number }];
  console.log(JSON.stringify({
    what: a.files > 0 ? `${a.files} x ${a.fileKib} KiB` : `${a.mib} MiB file`, tls: a.tls, fsync: a.durable, parallelism: a.parallelism, chunkKib: a.chunkKib, algorithm: a.algorithm, verify: a.verify,
    seconds: +seconds.toFixed(3), MBps: +(bytes / 1e6 / seconds).toFixed(1), ...(a.files > 0 ? { filesPerSecond: Math.round(a.files / seconds) } : {}),
    cpuDestination: +((cpu.user + cpu.system) / 1e6).toFixed(2), cpuSource: +msg.cpu.toFixed(2), filesTransferred: stats.filesTransferred,
  }));
}

async function source(a: Args, port: number, sessionId: string, caFile: string): Promise<void> {
  const { readFileSync } = await import('node:fs');
  const sockets: net.Socket[] = [];
  for (let k = 0; k <= a.parallelism; k++) {
    const s = a.tls ? tls.connect({ host: '127.0.0.1', port, ca: readFileSync(caFile, 'utf8') }) : net.connect(port, '127.0.0.1');
    await once(s, a.tls ? 'secureConnect' : 'connect');
    // The destination acknowledges each connection, so stream indexes line up.
    await new Promise<void>((resolve) => s.once('readable', () => { s.read(1); resolve(); }));
    sockets.push(s);
  }
  const cpu0 = process.cpuUsage();
  await runSession({ spec: spec('source', a, sessionId), streams: sockets, resolver: resolver(a.dir), reporter: quiet, signal: new AbortController().signal, tuning: { chunkSize: a.chunkKib * 1024 } });
  const cpu = process.cpuUsage(cpu0);
  process.send!({ cpu: (cpu.user + cpu.system) / 1e6 });
  process.disconnect();
}

const argv = process.argv.slice(2);
const args = parseArgs(argv);
const role = argv[argv.indexOf('--role') + 1];
if (argv.includes('--role') && role === 'source') {
  await source(args, Number(argv[argv.indexOf('--port') + 1]), String(argv[argv.indexOf('--session') + 1]), String(argv[argv.indexOf('--ca') + 1]));
} else {
  await destination(args);
}
