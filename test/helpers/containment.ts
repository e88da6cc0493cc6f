import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  chmodSync, existsSync, lchownSync, linkSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, renameSync, rmSync, symlinkSync, writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { expect } from 'vitest';
import type { ApiClient } from '../../src/cli/api-client.js';
import { startControl, type AgentHandle, type ControlHandle } from './cluster.js';
import { FERRY_BIN, runFerry, type FerryProcess } from './process.js';
import { getTask, type TaskDoc } from './tasks.js';

/**
 * Helpers for the containment suite (containment-*.test.ts): the agent is the trust boundary
 * (DESIGN.md "Local policy beats control", "Containment holds against the host too"), so
 * these tests play a local attacker who plants links, swaps directories and nests read-only
 * roots, and check afterwards that nothing outside a root was read, written or removed, that
 * nothing inside a read-only root changed, and that the task said what happened.
 */

// ---------------------------------------------------------------------------------------------
// Who the agent runs as

export interface AgentUser {
  /** For test names. */
  label: string;
  /** null: the test process's own user. */
  uid: number | null;
  gid: number | null;
}

export const NOBODY = 65534;

/**
 * As root: the agent as root and as `nobody` (an ordinary user, for whom the kernel's checks
 * no longer hide what the agent's own containment misses, since the files it could reach are
 * handed to that user too). As anyone else: the agent as that user. FERRY_CONTAINMENT_USERS
 * (comma-separated labels: root,nobody) narrows the list.
 */
export function agentUsers(): AgentUser[] {
  const uid = process.getuid?.() ?? -1;
  const all: AgentUser[] = uid === 0
    ? [{ label: 'root', uid: null, gid: null }, { label: 'nobody', uid: NOBODY, gid: NOBODY }]
    : [{ label: `uid ${uid}`, uid: null, gid: null }];
  const only = process.env['FERRY_CONTAINMENT_USERS']?.split(',').map((s) => s.trim()).filter(Boolean);
  const picked = only ? all.filter((u) => only.includes(u.label)) : all;
  return picked.length > 0 ? picked : all;
}

/** chown -R (without following links) to the agent's user; a no-op for the test's own user. */
export function giveTo(user: AgentUser, ...paths: string[]): void {
  if (user.uid === null || user.gid === null) return;
  const uid = user.uid;
  const gid = user.gid;
  const walk = (p: string): void => {
    let st;
    try {
      st = lstatSync(p);
    } catch {
      return;
    }
    lchownSync(p, uid, gid);
    if (st.isDirectory()) for (const name of readdirSync(p)) walk(join(p, name));
  };
  for (const p of paths) walk(p);
}

/** A temp directory others (the `nobody` agent) can traverse; removed by cleanup(). */
export function containmentDir(prefix = 'ferry-containment-'): { path: string; cleanup(): void } {
  const path = mkdtempSync(join(tmpdir(), prefix));
  chmodSync(path, 0o755);
  return { path, cleanup: () => rmSync(path, { recursive: true, force: true }) };
}

// ---------------------------------------------------------------------------------------------
// Processes

/** process.ts's startFerry, plus running the child as another user. */
export function spawnFerry(args: string[], env: Record<string, string>, user: AgentUser): FerryProcess {
  const proc = spawn(process.execPath, [FERRY_BIN, ...args], {
    env: { ...process.env, FERRY_LOG_LEVEL: 'debug', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    ...(user.uid !== null && user.gid !== null ? { uid: user.uid, gid: user.gid } : {}),
  });
  let out = '';
  let err = '';
  const watchers: Array<() => void> = [];
  proc.stdout.on('data', (d: Buffer) => { out += d.toString(); watchers.forEach((w) => w()); });
  proc.stderr.on('data', (d: Buffer) => { err += d.toString(); watchers.forEach((w) => w()); });
  let done = false;
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    proc.on('exit', (code, signal) => { done = true; resolve({ code, signal }); watchers.forEach((w) => w()); });
  });
  const waitFor = <T>(probe: () => T | undefined, what: string, timeoutMs: number): Promise<T> =>
    new Promise((resolve, reject) => {
      const timer = setTimeout(() => { cleanup(); reject(new Error(`timed out waiting for ${what}\nstderr:\n${err.slice(-4000)}`)); }, timeoutMs);
      const check = (): void => {
        const hit = probe();
        if (hit !== undefined) { cleanup(); resolve(hit); return; }
        if (done) { cleanup(); reject(new Error(`process exited while waiting for ${what}\nstdout:\n${out}\nstderr:\n${err.slice(-4000)}`)); }
      };
      const cleanup = (): void => { clearTimeout(timer); const i = watchers.indexOf(check); if (i >= 0) watchers.splice(i, 1); };
      watchers.push(check);
      check();
    });
  return {
    proc,
    stdout: () => out,
    stderr: () => err,
    exited,
    waitForStdout: (re, timeoutMs = 30_000) => waitFor(() => out.match(re) ?? undefined, `stdout ${re}`, timeoutMs),
    waitForLog: (re, timeoutMs = 30_000) => waitFor(() => err.split('\n').find((l) => re.test(l)), `log ${re}`, timeoutMs),
    stop: async (signal = 'SIGTERM') => {
      if (!done) proc.kill(signal);
      return exited;
    },
  };
}

/** Control with quick task retries (so a retried attempt shows up within a test's time). */
export async function startFastControl(baseDir: string): Promise<ControlHandle> {
  const dataDir = join(baseDir, 'control');
  const cfg = join(baseDir, 'control.json');
  writeFileSync(cfg, JSON.stringify({ version: 1, dataDir, tasks: { retryInitialMs: 100, retryMaxMs: 1000, tickMs: 100 } }));
  return startControl(dataDir, ['--config', cfg, '--listen', '127.0.0.1:0']);
}

/**
 * Create an endpoint, set its agent up (as the test's user), then run the agent as `user`
 * (its data directory handed over first). `roots` are `--root` specs (PATH[:rw]); the first
 * is `/~/`. Roots' contents are the caller's to hand over (giveTo).
 */
export async function startAgentAs(
  client: ApiClient, dataDir: string, roots: string[], user: AgentUser, displayName: string, configPatch: Record<string, unknown> = {},
  /** More environment for the agent (e.g. FERRY_NO_NATIVE=1 for the TypeScript twin of the native addon). */
  env: Record<string, string> = {},
): Promise<AgentHandle> {
  const created = await client.endpointCreate({ display_name: displayName, is_globus_connect: true });
  const setup = await runFerry(['agent', 'setup', '--setup-key', created.globus_connect_setup_key!, '--data-dir', dataDir, ...roots.flatMap((r) => ['--root', r])]);
  if (setup.code !== 0) throw new Error(`agent setup failed: ${setup.stderr}`);
  if (Object.keys(configPatch).length > 0) {
    const file = join(dataDir, 'agent.json');
    const cfg = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
    for (const [k, v] of Object.entries(configPatch)) {
      const cur = cfg[k];
      cfg[k] = v && typeof v === 'object' && !Array.isArray(v) && cur && typeof cur === 'object' ? { ...(cur as object), ...(v as object) } : v;
    }
    writeFileSync(file, JSON.stringify(cfg, null, 2));
  }
  giveTo(user, dataDir);
  const handle: AgentHandle = {
    proc: undefined as unknown as FerryProcess,
    endpointId: created.id,
    dataDir,
    async start() {
      handle.proc = spawnFerry(['agent', 'run', '--data-dir', dataDir], { HOME: dataDir, ...env }, user);
      await handle.proc.waitForLog(/"msg":"connected to control"/);
      return handle.proc;
    },
    async stop() {
      await handle.proc?.stop();
    },
  };
  await handle.start();
  return handle;
}

// ---------------------------------------------------------------------------------------------
// Snapshots: what must not change

function sha256(p: string): string {
  return createHash('sha256').update(readFileSync(p)).digest('hex').slice(0, 16);
}

/**
 * Every entry under `dir`, and `dir` itself as '.': type, size, mode, inode, owner, mtime in
 * ns, and a content hash (files) or the target (links). Never follows a link. A missing `dir`
 * is recorded as such, so a removed tree shows up as a difference.
 */
export function snapshot(dir: string, { content = true }: { content?: boolean } = {}): Record<string, string> {
  const out: Record<string, string> = {};
  const visit = (p: string): void => {
    const rel = relative(dir, p) || '.';
    let st;
    try {
      st = lstatSync(p, { bigint: true });
    } catch {
      out[rel] = 'missing';
      return;
    }
    const meta = `size=${st.size} mode=${(st.mode & 0o7777n).toString(8)} ino=${st.ino} uid=${st.uid} mtime=${st.mtimeNs}`;
    if (st.isDirectory()) {
      out[rel] = `dir ${meta}`;
      for (const name of readdirSync(p).sort()) visit(join(p, name));
    } else if (st.isSymbolicLink()) {
      out[rel] = `link->${readlinkSync(p)} ${meta}`;
    } else if (st.isFile()) {
      out[rel] = `file ${meta}${content ? ` sha=${sha256(p)}` : ''}`;
    } else {
      out[rel] = `other ${meta}`;
    }
  };
  visit(dir);
  return out;
}

/** Take a snapshot now; `check()` asserts that nothing in it changed (nothing written, added, removed). */
export function guard(dir: string, what: string): { before: Record<string, string>; check(context?: string): void } {
  const before = snapshot(dir);
  return {
    before,
    check(context = '') {
      const after = snapshot(dir);
      const diff = diffSnapshots(before, after);
      if (diff.length === 0) return;
      const shown = diff.length > 12 ? [...diff.slice(0, 12), `... and ${diff.length - 12} more`] : diff;
      expect.fail(`${what} changed${context ? ` (${context})` : ''}:\n${shown.join('\n')}`);
    },
  };
}

export function diffSnapshots(before: Record<string, string>, after: Record<string, string>): string[] {
  const out: string[] = [];
  for (const k of Object.keys(before)) {
    if (!(k in after)) out.push(`removed  ${k}  (was ${before[k]})`);
    else if (after[k] !== before[k]) out.push(`changed  ${k}  ${before[k]}  =>  ${after[k]}`);
  }
  for (const k of Object.keys(after)) if (!(k in before)) out.push(`added    ${k}  ${after[k]}`);
  return out;
}

/** Regular files under `dir` (not following links) whose contents include `needle`. */
export function filesContaining(dir: string, needle: string): string[] {
  const hits: string[] = [];
  const want = Buffer.from(needle);
  const walk = (p: string): void => {
    let st;
    try {
      st = lstatSync(p);
    } catch {
      return;
    }
    if (st.isDirectory()) for (const name of readdirSync(p)) walk(join(p, name));
    else if (st.isFile() && readFileSync(p).includes(want)) hits.push(p);
  };
  if (existsSync(dir)) walk(dir);
  return hits;
}

// ---------------------------------------------------------------------------------------------
// Planting: atomic replacement of a name by a symlink

/** Make `path` a symlink to `target`, atomically replacing whatever non-directory is there. */
export function plantLink(target: string, path: string): void {
  const tmp = `${path}.plant-${process.pid}-${Math.floor(Math.random() * 1e9)}`;
  symlinkSync(target, tmp);
  try {
    renameSync(tmp, path);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw err;
  }
}

/** Make `path` a hard link to `target` (same file system), atomically replacing whatever non-directory is there. */
export function plantHardLink(target: string, path: string): void {
  const tmp = `${path}.plant-${process.pid}-${Math.floor(Math.random() * 1e9)}`;
  linkSync(target, tmp);
  try {
    renameSync(tmp, path);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw err;
  }
}

/**
 * Swap directory `dir` for a symlink to `target`: the directory moves to `stash` (same file
 * system, inside the same root), then the link takes its name. Returns false if `dir` had
 * already gone (the agent removed it, or it was swapped already), 'moved' if the directory
 * moved but the agent re-created the name before the link could take it, 'linked' if the link
 * is in place (the swap the attacker wanted).
 */
export function swapDirForLink(dir: string, stash: string, target: string): false | 'moved' | 'linked' {
  try {
    renameSync(dir, stash);
  } catch {
    return false;
  }
  try {
    symlinkSync(target, dir);
  } catch {
    // The agent re-created the name in between: the race went the other way.
    return 'moved';
  }
  return 'linked';
}

// ---------------------------------------------------------------------------------------------
// Tasks

export interface SkippedDoc { source_path: string | null; destination_path: string | null; error_code: string; error_details: string }
export interface TaskEvent { code: string; is_error: boolean; description: string; details: string }

export interface Outcome {
  task: TaskDoc;
  events: TaskEvent[];
  skipped: SkippedDoc[];
  /** The task was still ACTIVE at the deadline and was canceled by the test. */
  timedOut: boolean;
}

export function describeOutcome(o: Outcome): string {
  const ev = o.events.slice(-8).map((e) => `  ${e.code}${e.is_error ? ' (error)' : ''}: ${e.description} ${e.details.slice(0, 300)}`).join('\n');
  return `task ${o.task.task_id} ${o.timedOut ? 'DID NOT SETTLE (canceled by the test), ' : ''}status=${o.task.status} nice_status=${o.task.nice_status} `
    + `fatal_error=${JSON.stringify(o.task.fatal_error)} files=${o.task.files} transferred=${o.task.files_transferred} skipped=${o.task.files_skipped} `
    + `skipped_errors=${JSON.stringify(o.skipped.map((s) => s.destination_path ?? s.source_path))}\nlast events:\n${ev}`;
}

/**
 * Wait for the task to end, at most `timeoutMs`; a task still ACTIVE then (e.g. retrying a
 * refusal forever) is canceled and reported with timedOut, so a hang fails the test instead
 * of the CI job.
 */
export async function settle(client: ApiClient, taskId: string, timeoutMs = 30_000): Promise<Outcome> {
  const deadline = Date.now() + timeoutMs;
  let task = await getTask(client, taskId);
  let timedOut = false;
  while (task.status === 'ACTIVE' || task.status === 'INACTIVE') {
    if (Date.now() > deadline) {
      timedOut = true;
      await client.post(`/v0.10/task/${taskId}/cancel`).catch(() => undefined);
      const stopBy = Date.now() + 10_000;
      task = await getTask(client, taskId);
      while ((task.status === 'ACTIVE' || task.status === 'INACTIVE') && Date.now() < stopBy) {
        await new Promise((r) => setTimeout(r, 100));
        task = await getTask(client, taskId);
      }
      break;
    }
    await new Promise((r) => setTimeout(r, 50));
    task = await getTask(client, taskId);
  }
  const events = (await client.get<{ DATA: TaskEvent[] }>(`/v0.10/task/${taskId}/event_list`, { query: { limit: 1000 } })).DATA;
  let skipped: SkippedDoc[] = [];
  if (task.type === 'TRANSFER') {
    skipped = (await client.get<{ DATA: SkippedDoc[] }>(`/v0.10/task/${taskId}/skipped_errors`).catch(() => ({ DATA: [] }))).DATA;
  }
  return { task, events, skipped, timedOut };
}

export async function submitDelete(client: ApiClient, endpoint: string, paths: string[], opts: { recursive?: boolean; ignoreMissing?: boolean } = {}): Promise<string> {
  const { value } = await client.get<{ value: string }>('/v0.10/submission_id');
  const res = await client.post<{ task_id: string }>('/v0.10/delete', {
    body: {
      DATA_TYPE: 'delete', submission_id: value, endpoint, recursive: opts.recursive ?? true, ignore_missing: opts.ignoreMissing ?? false,
      DATA: paths.map((path) => ({ DATA_TYPE: 'delete_item', path })),
    },
  });
  return res.task_id;
}

/** Every Globus code the task carries: its fatal error's and its events'. */
export function codesOf(o: Outcome): string[] {
  return [...(o.task.fatal_error ? [o.task.fatal_error.code] : []), ...o.events.map((e) => e.code)];
}

/**
 * The task was refused writing at `paths` (destination paths relative to the item, matched as
 * suffixes), and says so: FAILED with PERMISSION_DENIED (fatal error or an error event), or,
 * only when submitted with skip_source_errors, SUCCEEDED with each path in skipped_errors.
 */
export function expectRefused(o: Outcome, opts: { skipSourceErrors: boolean; paths: string[]; also?: string[] }): void {
  const why = describeOutcome(o);
  expect(o.timedOut, `the task never ended: ${why}`).toBe(false);
  if (o.task.status === 'FAILED') {
    const allowed = ['PERMISSION_DENIED', ...(opts.also ?? [])];
    expect(codesOf(o).some((c) => allowed.includes(c)), `FAILED without ${allowed.join('/')}: ${why}`).toBe(true);
    return;
  }
  expect(o.task.status, why).toBe('SUCCEEDED');
  expect(opts.skipSourceErrors, `SUCCEEDED although refused paths were to be written and skip_source_errors was off: ${why}`).toBe(true);
  // Issue 10, point 2: what was refused is reported as an event too, not only in skipped_errors.
  const allowed = ['PERMISSION_DENIED', ...(opts.also ?? [])];
  expect(o.events.some((e) => allowed.includes(e.code)), `SUCCEEDED with skipped paths but no ${allowed.join('/')} event: ${why}`).toBe(true);
  for (const p of opts.paths) {
    // The path itself, or a directory above it (refused as a whole), counts as listed.
    const parts = p.split('/');
    const candidates = parts.map((_, k) => parts.slice(0, k + 1).join('/'));
    const names = o.skipped.flatMap((s) => [s.destination_path, s.source_path]).filter((x): x is string => x !== null).map((x) => x.replace(/\/+$/, ''));
    const listed = names.some((x) => candidates.some((c) => x === c || x.endsWith(`/${c}`)));
    expect(listed, `SUCCEEDED, but neither ${p} nor a directory above it is in skipped_errors: ${why}`).toBe(true);
  }
}

/** Codes that do not say what went wrong. */
const UNCLEAR = new Set(['UNKNOWN', 'INTERNAL_ERROR']);

/** For races: SUCCEEDED, or FAILED with a code that says why; never hung. */
export function expectClearResult(o: Outcome): void {
  const why = describeOutcome(o);
  expect(o.timedOut, `the task never ended: ${why}`).toBe(false);
  if (o.task.status === 'SUCCEEDED') return;
  expect(o.task.status, why).toBe('FAILED');
  const code = o.task.fatal_error?.code ?? '';
  expect(code !== '' && !UNCLEAR.has(code), `FAILED without a clear code: ${why}`).toBe(true);
}

// ---------------------------------------------------------------------------------------------
// Races

/** The suite's seed: FERRY_RACE_SEED, else random; printed so a failing run can be replayed. */
export function raceSeed(file: string): number {
  const env = process.env['FERRY_RACE_SEED'];
  const seed = env !== undefined && env !== '' ? Number(env) >>> 0 : Math.floor(Math.random() * 2 ** 32) >>> 0;
  console.log(`[${file}] race seed ${seed} (replay with FERRY_RACE_SEED=${seed})`);
  return seed;
}

export function shuffle<T>(items: T[], random: () => number): T[] {
  const a = [...items];
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [a[i], a[j]] = [a[j]!, a[i]!];
  }
  return a;
}

/** Yield to the event loop (lets the test's HTTP polling and timers run between swaps). */
export const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

/** Write `files` (relative path -> contents) under `dir`, creating directories. */
export function writeTree(dir: string, files: Record<string, string | Buffer>): void {
  for (const [rel, data] of Object.entries(files)) {
    const p = join(dir, rel);
    mkdirSync(join(p, '..'), { recursive: true });
    writeFileSync(p, data);
  }
}

/** Rounds for each agent user so that the file runs `total` races whichever users there are. */
export function roundsPerUser(total: number): number {
  return Math.ceil(total / agentUsers().length);
}

/** Regular files under `dir` (not following links), relative path -> bytes. */
export function filesUnder(dir: string): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  const walk = (p: string): void => {
    let st;
    try {
      st = lstatSync(p);
    } catch {
      return;
    }
    if (st.isDirectory()) for (const name of readdirSync(p)) walk(join(p, name));
    else if (st.isFile()) out.set(relative(dir, p), readFileSync(p));
  };
  if (existsSync(dir)) walk(dir);
  return out;
}

export interface UserPair {
  user: AgentUser;
  src: AgentHandle;
  dst: AgentHandle;
  srcRoot: string;
  dstRoot: string;
  /** A directory outside both roots, owned like them. */
  outside: string;
}

/**
 * One control, and for each agent user a source and a destination agent exporting
 * `<base>/<user>/src` and `<base>/<user>/dst` read-write (`prepare` fills them first).
 */
export async function startUserPairs(
  baseDir: string, username: string, prepare: (p: { user: AgentUser; srcRoot: string; dstRoot: string; outside: string }) => void = () => {},
): Promise<{ control: ControlHandle; client: ApiClient; token: string; pairs: Map<string, UserPair>; stop(): Promise<void> }> {
  const control = await startFastControl(baseDir);
  const pairs = new Map<string, UserPair>();
  const stop = async (): Promise<void> => {
    for (const p of pairs.values()) {
      await p.src.stop();
      await p.dst.stop();
    }
    await control.stop();
  };
  try {
    const { client, token } = await control.user(username);
    for (const user of agentUsers()) {
      const base = join(baseDir, user.label);
      const srcRoot = join(base, 'src');
      const dstRoot = join(base, 'dst');
      const outside = join(base, 'outside');
      for (const d of [srcRoot, dstRoot, outside]) mkdirSync(d, { recursive: true });
      prepare({ user, srcRoot, dstRoot, outside });
      giveTo(user, base);
      const src = await startAgentAs(client, join(baseDir, `agent-src-${user.label}`), [`${srcRoot}:rw`], user, `source (${user.label})`);
      pairs.set(user.label, { user, src, dst: src, srcRoot, dstRoot, outside });
      const dst = await startAgentAs(client, join(baseDir, `agent-dst-${user.label}`), [`${dstRoot}:rw`], user, `destination (${user.label})`);
      pairs.set(user.label, { user, src, dst, srcRoot, dstRoot, outside });
    }
    return { control, client, token, pairs, stop };
  } catch (err) {
    await stop().catch(() => undefined);
    throw err;
  }
}

/**
 * Counts the races that really happened, so a run in which every swap or plant came too late
 * (or none was tried) fails instead of passing on constants. A race happened when the test's
 * own action succeeded (a directory swapped for a link, a link planted at a partial's name)
 * while the task ran, shown by either of:
 * - control still reported the task running afterwards: the status is asked right after the
 *   action, and a task is never ACTIVE again once it ended, so ACTIVE in that answer means the
 *   action landed while the task ran;
 * - the agent itself acted on what the test put there (`metByAgent`, looked at once the task
 *   ended: e.g. the link planted in a tree being deleted is gone, and only the agent removes
 *   anything there). A quick agent often ends the task before control answers the status.
 * No clock is involved.
 */
export class RaceTally {
  /** Rounds with at least one action that landed while the task ran. */
  races = 0;
  /** Actions that landed while their task ran. */
  actions = 0;
  rounds = 0;
  private pending: Array<Promise<boolean>> = [];

  constructor(private readonly client: ApiClient) {}

  private metChecks: Array<() => boolean> = [];

  /**
   * The test's action on `taskId` just succeeded: ask (without waiting here) whether the task
   * is still running; `metByAgent`, if given, is asked at endRound (once the task ended).
   */
  landed(taskId: string, metByAgent: () => boolean = () => false): void {
    this.pending.push(getTask(this.client, taskId).then((t) => t.status === 'ACTIVE' || t.status === 'INACTIVE', () => false));
    this.metChecks.push(metByAgent);
  }

  /** End of a round (after its task ended): count what landed while its task ran; returns that count. */
  async endRound(): Promise<number> {
    const answers = await Promise.all(this.pending.splice(0));
    const met = this.metChecks.splice(0);
    const n = answers.filter((running, k) => running || met[k]!()).length;
    this.rounds += 1;
    this.actions += n;
    if (n > 0) this.races += 1;
    return n;
  }

  /** Fold another tally (another agent user's) into this one. */
  add(other: RaceTally): void {
    this.races += other.races;
    this.actions += other.actions;
    this.rounds += other.rounds;
  }

  /** The file's floor: at least `min` rounds raced (the suite's floors add up to the issue's 50 a run). */
  expectAtLeast(min: number, what: string): void {
    console.log(`[${what}] ${this.races} of ${this.rounds} rounds raced (${this.actions} actions landed while their task ran; floor ${min})`);
    expect(this.races, `${what}: only ${this.races} of ${this.rounds} rounds had an action land while the task ran (${this.actions} actions); at least ${min} must, or the suite tests nothing`).toBeGreaterThanOrEqual(min);
  }
}

/**
 * Runs every round's checks, collecting what broke instead of stopping at the first round, so
 * a failure says how often containment broke (a round whose task hung ends the loop); call
 * `done()` after the loop to fail with the summary and the first round's full message.
 */
export class RaceLedger {
  private readonly broken: Array<{ round: number; message: string }> = [];
  stopped = false;

  constructor(private readonly name: string) {}

  /** Run one round's checks; false when the loop should stop (the task hung). */
  check(round: number, o: Outcome, checks: () => void): boolean {
    try {
      checks();
    } catch (err) {
      this.broken.push({ round, message: err instanceof Error ? err.message : String(err) });
    }
    if (o.timedOut) this.stopped = true;
    return !this.stopped;
  }

  done(rounds: number): void {
    if (this.broken.length === 0) return;
    const list = this.broken.map((b) => `  round ${b.round}: ${b.message.split('\n')[0]!.slice(0, 300)}`).join('\n');
    expect.fail(`${this.name}: ${this.broken.length} of ${rounds} rounds broke an invariant${this.stopped ? ' (stopped early: a task hung)' : ''}:\n${list}\n\nfirst in full:\n${this.broken[0]!.message}`);
  }
}
