import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { lstat, mkdtemp, readdir, readFile, readlink, rm } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Duplex } from 'node:stream';
import { FrameDecoder } from '../../../src/transfer/wire/frame-codec.js';
import { runSession, type PathResolver, type SessionReporter, type StreamGrowthInit, type TransferTuning } from '../../../src/transfer/index.js';
import type { FinishedFile, SessionEvent, SessionSpec, SessionStats, TransferItem, TransferOptions } from '../../../src/protocol/session.js';
import { FerryError } from '../../../src/common/errors.js';
import type { RestartMarkers } from '../../../src/transfer/markers/store.js';
import { RootDirs, walkDirs, type Dir } from '../../../src/fs/index.js';
import { realpathSync } from 'node:fs';

/** A temp directory removed by the returned cleanup. */
export async function tempDir(prefix = 'ferry-xfer-'): Promise<string> {
  return mkdtemp(join(tmpdir(), prefix));
}

/**
 * `count` connected TCP socket pairs on 127.0.0.1, accepted in connect order (each connect
 * waits for its accept), like the channel's stream slots.
 */
export async function socketPairs(count: number): Promise<{ a: net.Socket[]; b: net.Socket[]; close(): void }> {
  const server = net.createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as net.AddressInfo;
  const a: net.Socket[] = [];
  const b: net.Socket[] = [];
  for (let k = 0; k < count; k++) {
    const accepted = once(server, 'connection') as Promise<[net.Socket]>;
    const client = net.connect(port, '127.0.0.1');
    await once(client, 'connect');
    const [peer] = await accepted;
    a.push(client);
    b.push(peer);
  }
  server.close();
  return { a, b, close: () => { for (const s of [...a, ...b]) s.destroy(); } };
}

/** API paths '/x/y' map to `root`/x/y; '..' is refused (a stand-in for the agent's PathPolicy). */
export function resolverFor(root: string): PathResolver & { calls: Array<{ path: string; intent: string }> } {
  const calls: Array<{ path: string; intent: string }> = [];
  return {
    calls,
    async resolve(apiPath, intent) {
      calls.push({ path: apiPath, intent });
      const parts = apiPath.split('/').filter((p) => p !== '');
      if (parts.includes('..') || parts.includes('.')) throw new FerryError('ClientError.BadRequest.InvalidPath', `bad path ${apiPath}`);
      return { hostPath: parts.length === 0 ? root : join(root, ...parts), apiPath, realRoot: realpathSync(root) };
    },
    // One writable root: only its own path is a root.
    lexical(apiPath) {
      return { isRoot: apiPath.split('/').every((p) => p === ''), nestedRoots: [] };
    },
    rootOfDir() {
      return null;
    },
    openWriteDir(apiPath, createMode) {
      return openWriteDirBelow(root, apiPath, createMode);
    },
  };
}

/** PathResolver.openWriteDir for a single writable root at `root` (apiPath's components below it). */
export function openWriteDirBelow(root: string, apiPath: string, createMode: number): Dir {
  const roots = new RootDirs([{ path: root, writable: true }]);
  const top = roots.open(0);
  try {
    return walkDirs(top, apiPath.split('/').filter((p) => p !== ''), { createMode });
  } finally {
    top.close();
  }
}

export interface Recorded extends SessionReporter {
  progressed: SessionStats[];
  files: FinishedFile[];
  events: SessionEvent[];
}

export function recorder(): Recorded {
  const r: Recorded = {
    progressed: [], files: [], events: [],
    progress: (s) => { r.progressed.push(s); },
    filesDone: (f) => { r.files.push(...f); },
    event: (e) => { r.events.push(e); },
  };
  return r;
}

export const DEFAULT_OPTIONS: TransferOptions = {
  syncLevel: null, verifyChecksum: false, preserveTimestamp: false, deleteDestinationExtra: false,
  skipSourceErrors: false, failOnQuotaErrors: false, checksumAlgorithm: 'sha256', parallelism: 2,
};

export function makeSpec(role: 'source' | 'destination', items: TransferItem[], options: Partial<TransferOptions>, sessionId: string, taskId: string = randomUUID()): SessionSpec {
  return {
    sessionId, taskId, role,
    peer: { nodeId: randomUUID(), address: null },
    listen: role === 'destination',
    secret: 'x'.repeat(43),
    items,
    options: { ...DEFAULT_OPTIONS, ...options },
  };
}

export interface PairOptions {
  srcRoot: string;
  dstRoot: string;
  items: TransferItem[];
  options?: Partial<TransferOptions>;
  tuning?: Partial<TransferTuning>;
  srcTuning?: Partial<TransferTuning>;
  dstTuning?: Partial<TransferTuning>;
  signal?: AbortSignal;
  /** Only the destination's signal (default: `signal`). */
  dstSignal?: AbortSignal;
  /** Sees every frame type the destination receives. */
  sniff?: (type: number) => void;
  dstResolver?: PathResolver;
  /** Streams per side (default parallelism + 1). */
  streams?: number;
  /** The task both sides belong to (attempts of one task share partial names and markers). */
  taskId?: string;
  /** The destination's restart markers. */
  markers?: RestartMarkers;
  /** The source's spare-stream growth (streams beyond options.parallelism: set `streams`). */
  growth?: StreamGrowthInit;
  /** encrypt_data false: the data streams carry MACs, with random per-stream, per-direction keys ('wrong-keys': the destination's do not match). */
  clear?: boolean | 'wrong-keys';
}

export interface PairResult {
  src: PromiseSettledResult<SessionStats>;
  dst: PromiseSettledResult<SessionStats>;
  srcRep: Recorded;
  dstRep: Recorded;
}

/** Run a source and a destination against each other over loopback TCP. */
export async function runPair(o: PairOptions): Promise<PairResult> {
  const options = { ...DEFAULT_OPTIONS, ...o.options };
  const pairs = await socketPairs(o.streams ?? options.parallelism + 1);
  if (o.sniff) for (const s of pairs.b) sniffFrames(s, o.sniff);
  const sessionId = randomUUID();
  const taskId = o.taskId ?? randomUUID();
  const srcRep = recorder();
  const dstRep = recorder();
  const signal = o.signal ?? new AbortController().signal;
  const keys = pairs.a.map((_, k) => (k === 0 ? null : { toDst: randomBytes(32), toSrc: randomBytes(32) }));
  const srcKeys = o.clear ? { frameKeys: keys.map((x) => x && { send: x.toDst, receive: x.toSrc }) } : {};
  const dstKeys = o.clear ? { frameKeys: keys.map((x) => x && (o.clear === 'wrong-keys' ? { send: randomBytes(32), receive: randomBytes(32) } : { send: x.toSrc, receive: x.toDst })) } : {};
  try {
    const [src, dst] = await Promise.allSettled([
      runSession({ spec: makeSpec('source', o.items, options, sessionId, taskId), streams: pairs.a, ...srcKeys, resolver: resolverFor(o.srcRoot), reporter: srcRep, signal, tuning: { ...o.tuning, ...o.srcTuning }, ...(o.growth ? { growth: o.growth } : {}) }),
      runSession({ spec: makeSpec('destination', o.items, options, sessionId, taskId), streams: pairs.b, ...dstKeys, resolver: o.dstResolver ?? resolverFor(o.dstRoot), reporter: dstRep, signal: o.dstSignal ?? signal, tuning: { ...o.tuning, ...o.dstTuning }, ...(o.markers ? { markers: o.markers } : {}) }),
    ]);
    return { src, dst, srcRep, dstRep };
  } finally {
    pairs.close();
  }
}

export function ok<T>(r: PromiseSettledResult<T>): T {
  if (r.status === 'rejected') throw r.reason;
  return r.value;
}

export function rejection(r: PromiseSettledResult<unknown>): FerryError {
  if (r.status === 'fulfilled') throw new Error('expected the session to fail, but it succeeded');
  return r.reason as FerryError;
}

function sniffFrames(socket: Duplex, sniff: (type: number) => void): void {
  const decoder = new FrameDecoder();
  socket.on('data', (chunk: Buffer) => {
    for (const f of decoder.push(chunk)) sniff(f.type);
  });
}

export type TreeEntry = { type: 'file'; sha: string; size: number; mode: number } | { type: 'dir'; mode: number } | { type: 'symlink'; target: string };

/** Everything below `root`, by relative path (file contents as sha256). */
export async function snapshot(root: string): Promise<Map<string, TreeEntry>> {
  const out = new Map<string, TreeEntry>();
  async function walk(dir: string, rel: string): Promise<void> {
    for (const name of (await readdir(dir)).sort()) {
      const host = join(dir, name);
      const r = rel ? `${rel}/${name}` : name;
      const st = await lstat(host);
      if (st.isSymbolicLink()) out.set(r, { type: 'symlink', target: await readlink(host) });
      else if (st.isDirectory()) {
        out.set(r, { type: 'dir', mode: st.mode & 0o777 });
        await walk(host, r);
      } else out.set(r, { type: 'file', sha: createHash('sha256').update(await readFile(host)).digest('hex'), size: st.size, mode: st.mode & 0o777 });
    }
  }
  await walk(root, '');
  return out;
}

/** Files and directories of a snapshot without symlinks and without directory modes. */
export function comparable(tree: Map<string, TreeEntry>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of tree) {
    if (v.type === 'symlink') continue;
    out[k] = v.type === 'dir' ? 'dir' : { sha: v.sha, size: v.size, mode: v.mode };
  }
  return out;
}

export async function removeAll(...dirs: string[]): Promise<void> {
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
}
