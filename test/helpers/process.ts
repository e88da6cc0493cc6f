import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const FERRY_BIN = fileURLToPath(new URL('../../bin/ferry.cjs', import.meta.url));

export interface FerryProcess {
  proc: ChildProcess;
  stdout(): string;
  stderr(): string;
  /** Resolves with the first stdout match of `re` (rejects if the process exits first). */
  waitForStdout(re: RegExp, timeoutMs?: number): Promise<RegExpMatchArray>;
  /** Resolves when stderr (pino JSON lines) contains a line matching `re`. */
  waitForLog(re: RegExp, timeoutMs?: number): Promise<string>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  stop(signal?: NodeJS.Signals): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export interface LaunchOptions {
  /** Run under `ulimit -v` of this many KiB (an address-space limit, as `LimitAS=` sets). */
  addressSpaceKiB?: number;
  /** More environment for the process (e.g. FERRY_TEST_FAULTS). */
  env?: Record<string, string>;
}

/** Start `ferry ARGS` as a real child process. */
export function startFerry(args: string[], env: Record<string, string> = {}, launch: LaunchOptions = {}): FerryProcess {
  const command = [process.execPath, FERRY_BIN, ...args];
  const options = { env: { ...process.env, FERRY_LOG_LEVEL: 'debug', ...env, ...launch.env }, stdio: ['ignore', 'pipe', 'pipe'] as Array<'ignore' | 'pipe'> };
  // The shell sets the limit and execs node, so the child's pid stays the agent's own.
  const proc = launch.addressSpaceKiB === undefined
    ? spawn(command[0]!, command.slice(1), options)
    : spawn('/bin/sh', ['-c', 'ulimit -v "$0" && exec "$@"', String(launch.addressSpaceKiB), ...command], options);
  let out = '';
  let err = '';
  const watchers: Array<() => void> = [];
  proc.stdout!.on('data', (d: Buffer) => { out += d.toString(); watchers.forEach((w) => w()); });
  proc.stderr!.on('data', (d: Buffer) => { err += d.toString(); watchers.forEach((w) => w()); });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    proc.on('exit', (code, signal) => { resolve({ code, signal }); watchers.forEach((w) => w()); });
  });
  let done = false;
  void exited.then(() => { done = true; });

  const waitFor = <T>(probe: () => T | undefined, what: string, timeoutMs: number): Promise<T> =>
    new Promise((resolve, reject) => {
      const timer = setTimeout(() => { cleanup(); reject(new Error(`timed out waiting for ${what}\nstdout:\n${out}\nstderr:\n${err.slice(-4000)}`)); }, timeoutMs);
      const check = () => {
        const hit = probe();
        if (hit !== undefined) { cleanup(); resolve(hit); return; }
        if (done) { cleanup(); reject(new Error(`process exited while waiting for ${what}\nstdout:\n${out}\nstderr:\n${err.slice(-4000)}`)); }
      };
      const cleanup = () => { clearTimeout(timer); const i = watchers.indexOf(check); if (i >= 0) watchers.splice(i, 1); };
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

/** Run `ferry ARGS` to completion. */
export function runFerry(args: string[], env: Record<string, string> = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const p = startFerry(args, env);
  return p.exited.then(({ code }) => ({ code, stdout: p.stdout(), stderr: p.stderr() }));
}
