import * as fs from 'node:fs';
import { constants as osConstants } from 'node:os';
import { basename } from 'node:path';
import { getEnvironmentData, setEnvironmentData } from 'node:worker_threads';
import { RawFsError } from './raw.js';

/**
 * The data-path calls for partial files (write, fdatasync, fsync, close, and the syncfs that
 * may stand in for many fsyncs), each with a seam
 * where tests inject failures. Every failure, injected or real, surfaces as a RawFsError
 * (rejection or throw) with the errno's code and the call's syscall: a write error is never
 * lost, and a short write is continued until all bytes are written or an error says why not.
 *
 * Two ways to inject, both for tests only:
 * - `injectFaults(rule)` in-process (unit tests); rules live in this module instance, so
 *   they apply to the thread that set them.
 * - FERRY_TEST_FAULTS="call:ERRNO[:N[:AFTER]],..." for real agent processes, e.g. "fdatasync:EIO:1"
 *   fails the first fdatasync with EIO (N omitted: every time), "write:EIO:1:40" lets 40
 *   writes pass and fails the 41st (so a file can fail after some of it was made durable,
 *   and its retry shows what was kept). Parsed once at load; hits
 *   only fds open on a file whose name starts with `.ferry-part` (partial files), except
 *   "syncfs", which hits the I/O worker's syncfs of a commit group's file system (any fd). The N
 *   counts are shared by every worker thread created after the main thread loaded this
 *   module (through worker_threads environment data), so "first" means first in the process.
 */

export type FaultCall = 'write' | 'fdatasync' | 'fsync' | 'close' | 'syncfs';

export interface FaultRule {
  call: FaultCall;
  /** An errno name such as 'EIO' or 'ENOSPC'. */
  errno: string;
  /** Fail this many matching calls, then pass; omitted = fail every matching call. */
  times?: number;
  /** Let this many matching calls pass before the first failure; omitted = 0. */
  after?: number;
  /** Only calls on fds for which this is true; omitted = every fd. */
  match?: (fd: number) => boolean;
}

/** How many more failures a rule may cause; `take` claims one. */
interface Budget {
  take(): boolean;
}

interface ActiveRule {
  call: FaultCall;
  errno: string;
  match: ((fd: number) => boolean) | undefined;
  budget: Budget;
}

const FAULT_CALLS: readonly FaultCall[] = ['write', 'fdatasync', 'fsync', 'close', 'syncfs'];
const UNLIMITED = -1;

function localBudget(times: number | undefined, after: number | undefined): Budget {
  let left = times ?? UNLIMITED;
  let pass = after ?? 0;
  return {
    take() {
      if (pass > 0) {
        pass -= 1;
        return false;
      }
      if (left === UNLIMITED) return true;
      if (left <= 0) return false;
      left -= 1;
      return true;
    },
  };
}

/**
 * A budget in shared memory: Atomics make "take one" exact across threads. Two cells a rule:
 * calls still to let pass (2i), failures left (2i+1).
 */
function sharedBudget(cells: Int32Array, rule: number): Budget {
  const skip = 2 * rule;
  const index = 2 * rule + 1;
  return {
    take() {
      for (;;) {
        const pass = Atomics.load(cells, skip);
        if (pass <= 0) break;
        if (Atomics.compareExchange(cells, skip, pass, pass - 1) === pass) return false;
      }
      for (;;) {
        const left = Atomics.load(cells, index);
        if (left === UNLIMITED) return true;
        if (left <= 0) return false;
        if (Atomics.compareExchange(cells, index, left, left - 1) === left) return true;
      }
    },
  };
}

/** Parse FERRY_TEST_FAULTS; throws on anything malformed, since a typo would silently test nothing. */
export function parseFaultSpec(spec: string): FaultRule[] {
  const rules: FaultRule[] = [];
  for (const entry of spec.split(',').map((e) => e.trim()).filter((e) => e !== '')) {
    const [call, errno, count, after, ...rest] = entry.split(':');
    if (!FAULT_CALLS.includes(call as FaultCall) || rest.length > 0) {
      throw new Error(`FERRY_TEST_FAULTS: bad entry "${entry}" (want call:ERRNO[:N[:AFTER]], call one of ${FAULT_CALLS.join(', ')})`);
    }
    if (errno === undefined || !(errno in osConstants.errno)) {
      throw new Error(`FERRY_TEST_FAULTS: "${entry}" names no known errno`);
    }
    if (count !== undefined && !/^[1-9][0-9]*$/.test(count)) {
      throw new Error(`FERRY_TEST_FAULTS: "${entry}" has a bad count`);
    }
    if (after !== undefined && !/^(0|[1-9][0-9]*)$/.test(after)) {
      throw new Error(`FERRY_TEST_FAULTS: "${entry}" has a bad AFTER count`);
    }
    rules.push({ call: call as FaultCall, errno, ...(count === undefined ? {} : { times: Number(count) }), ...(after === undefined ? {} : { after: Number(after) }) });
  }
  return rules;
}

/** True for fds open on a partial file (name starting `.ferry-part`), judged by /proc. */
export function isPartialFileFd(fd: number): boolean {
  try {
    return basename(fs.readlinkSync(`/proc/self/fd/${fd}`)).startsWith('.ferry-part');
  } catch {
    return false;
  }
}

function rulesFromEnv(spec: string | undefined): ActiveRule[] {
  if (spec === undefined || spec.trim() === '') return [];
  const parsed = parseFaultSpec(spec);
  const key = `ferry:test-faults:${spec}`;
  const inherited = getEnvironmentData(key);
  let cells: Int32Array;
  if (inherited instanceof SharedArrayBuffer && inherited.byteLength === parsed.length * 8) {
    cells = new Int32Array(inherited);
  } else {
    const sab = new SharedArrayBuffer(parsed.length * 8);
    cells = new Int32Array(sab);
    parsed.forEach((r, i) => {
      cells[2 * i] = r.after ?? 0;
      cells[2 * i + 1] = r.times ?? UNLIMITED;
    });
    setEnvironmentData(key, sab);
  }
  // A syncfs is asked for on a directory's descriptor: it matches any.
  return parsed.map((r, i) => ({ call: r.call, errno: r.errno, match: r.call === 'syncfs' ? undefined : isPartialFileFd, budget: sharedBudget(cells, i) }));
}

const envRules = rulesFromEnv(process.env.FERRY_TEST_FAULTS);
let injectedRules: ActiveRule[] = [];

/** Add a rule (tests only); null removes every rule added this way (FERRY_TEST_FAULTS stays). */
export function injectFaults(rule: FaultRule | null): void {
  if (rule === null) {
    injectedRules = [];
    return;
  }
  if (!FAULT_CALLS.includes(rule.call)) throw new TypeError(`injectFaults: unknown call ${String(rule.call)}`);
  if (!(rule.errno in osConstants.errno)) throw new TypeError(`injectFaults: unknown errno ${rule.errno}`);
  if (rule.times !== undefined && !(Number.isInteger(rule.times) && rule.times > 0)) {
    throw new TypeError('injectFaults: times must be a positive integer');
  }
  if (rule.after !== undefined && !(Number.isInteger(rule.after) && rule.after >= 0)) {
    throw new TypeError('injectFaults: after must be a non-negative integer');
  }
  injectedRules.push({ call: rule.call, errno: rule.errno, match: rule.match, budget: localBudget(rule.times, rule.after) });
}

/**
 * Throw the injected failure for this call on `fd`, if a rule claims it. For data paths that
 * make the call themselves (a FileHandle's writev or close): call this just before it.
 */
export function faultPoint(call: FaultCall, fd: number): void {
  maybeFail(call, fd);
}

/** Throw the injected failure for this call, if a rule claims it. */
function maybeFail(call: FaultCall, fd: number): void {
  if (envRules.length === 0 && injectedRules.length === 0) return;
  for (const rule of [...injectedRules, ...envRules]) {
    if (rule.call !== call) continue;
    if (rule.match !== undefined && !rule.match(fd)) continue;
    if (rule.budget.take()) throw new RawFsError(rule.errno, call, 'injected fault');
  }
}

/** A real failure in the same shape as an injected one. */
function asRawError(err: unknown, call: FaultCall): unknown {
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code !== 'string' || !code.startsWith('E') || code.startsWith('ERR_')) return err;
  return new RawFsError(code, call);
}

/** The buffers after the first `n` bytes (a short write leaves the rest to write). */
function dropBytes(buffers: readonly Buffer[], n: number): Buffer[] {
  const out: Buffer[] = [];
  let skip = n;
  for (const b of buffers) {
    if (skip >= b.length) {
      skip -= b.length;
      continue;
    }
    out.push(skip > 0 ? b.subarray(skip) : b);
    skip = 0;
  }
  return out;
}

function totalLength(buffers: readonly Buffer[]): number {
  return buffers.reduce((sum, b) => sum + b.length, 0);
}

function writevOnce(fd: number, buffers: Buffer[], position: number): Promise<number> {
  return new Promise((resolve, reject) => {
    fs.writev(fd, buffers, position, (err, written) => (err ? reject(err) : resolve(written)));
  });
}

/** Write all of `buffers` at `position` (pwritev), continuing after short writes; resolves to the byte count. */
export async function pwritev(fd: number, buffers: readonly Buffer[], position: number): Promise<number> {
  maybeFail('write', fd);
  const total = totalLength(buffers);
  let done = 0;
  try {
    while (done < total) {
      const n = await writevOnce(fd, dropBytes(buffers, done), position + done);
      if (n === 0) throw new RawFsError('EIO', 'write', 'write made no progress');
      done += n;
    }
  } catch (err) {
    throw asRawError(err, 'write');
  }
  return done;
}

/** Write buffer[offset, offset+length) at `position` (pwrite), continuing after short writes. */
export function pwrite(fd: number, buffer: Buffer, offset: number, length: number, position: number): Promise<number> {
  return pwritev(fd, [buffer.subarray(offset, offset + length)], position);
}

function promiseOf(call: FaultCall, run: (cb: (err: NodeJS.ErrnoException | null) => void) => void): Promise<void> {
  return new Promise((resolve, reject) => run((err) => (err ? reject(asRawError(err, call)) : resolve())));
}

export async function fdatasync(fd: number): Promise<void> {
  maybeFail('fdatasync', fd);
  await promiseOf('fdatasync', (cb) => fs.fdatasync(fd, cb));
}

export async function fsync(fd: number): Promise<void> {
  maybeFail('fsync', fd);
  await promiseOf('fsync', (cb) => fs.fsync(fd, cb));
}

/**
 * Close `fd`. An injected close failure still closes the descriptor (as Linux does when
 * close reports an error), so a test cannot leak it.
 */
export async function closeFd(fd: number): Promise<void> {
  try {
    maybeFail('close', fd);
  } catch (err) {
    await promiseOf('close', (cb) => fs.close(fd, cb)).catch(() => undefined);
    throw err;
  }
  await promiseOf('close', (cb) => fs.close(fd, cb));
}

/** Sync variants, for worker threads that do their I/O blocking. */
export function writevSync(fd: number, buffers: readonly Buffer[], position: number): number {
  maybeFail('write', fd);
  const total = totalLength(buffers);
  let done = 0;
  try {
    while (done < total) {
      const n = fs.writevSync(fd, dropBytes(buffers, done), position + done);
      if (n === 0) throw new RawFsError('EIO', 'write', 'write made no progress');
      done += n;
    }
  } catch (err) {
    throw asRawError(err, 'write');
  }
  return done;
}

export function pwriteSync(fd: number, buffer: Buffer, offset: number, length: number, position: number): number {
  return writevSync(fd, [buffer.subarray(offset, offset + length)], position);
}

export function fdatasyncSync(fd: number): void {
  maybeFail('fdatasync', fd);
  try {
    fs.fdatasyncSync(fd);
  } catch (err) {
    throw asRawError(err, 'fdatasync');
  }
}

export function fsyncSync(fd: number): void {
  maybeFail('fsync', fd);
  try {
    fs.fsyncSync(fd);
  } catch (err) {
    throw asRawError(err, 'fsync');
  }
}

export function closeSync(fd: number): void {
  try {
    maybeFail('close', fd);
  } catch (err) {
    try {
      fs.closeSync(fd);
    } catch {
      // The injected error is the one the test asked for.
    }
    throw err;
  }
  try {
    fs.closeSync(fd);
  } catch (err) {
    throw asRawError(err, 'close');
  }
}
