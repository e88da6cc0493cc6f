import { setMaxListeners } from 'node:events';
import { isFerryError, isProgrammerError, type FerryError } from '../../common/errors.js';
import { asTransferError, canceledError } from '../errors.js';

/**
 * The failure path shared by both roles: the first error wins, aborts the session's internal
 * signal (every wait in the engine takes it), and settles `failed`. Background tasks run
 * through spawn(), so a runtime error fails the session and a programmer error (TypeError...)
 * also crashes loudly instead of vanishing (STYLE §8). File operations that must finish before
 * partial files are removed run through track().
 */
export class SessionGuard {
  private readonly controller = new AbortController();
  private error: FerryError | null = null;
  private peerError = false;
  private readonly inFlight = new Set<Promise<unknown>>();
  private rejectFailed!: (err: FerryError) => void;
  /** Rejects with the session's error once it fails; never resolves. */
  readonly failed: Promise<never>;

  private deferred: NodeJS.Timeout | null = null;

  /**
   * @param lossGraceMs how long a lost connection waits before it fails the session: a peer
   *   that fails sends ERROR on the control stream and then closes every stream, and its
   *   data streams may close here before that ERROR is read; the ERROR should win.
   */
  constructor(external: AbortSignal, private readonly lossGraceMs = 500) {
    // Every wait in the engine listens on this signal (hundreds at once is normal).
    setMaxListeners(0, this.controller.signal);
    this.failed = new Promise<never>((_, reject) => { this.rejectFailed = reject; });
    this.failed.catch(() => undefined);
    // An agent that stops checkpoints and says why (the task waits for it); anything else is a cancel.
    const onAbort = (): void => this.fail(isAgentStopping(external.reason) ? external.reason : canceledError(external.reason));
    if (external.aborted) onAbort();
    else {
      external.addEventListener('abort', onAbort, { once: true });
      this.controller.signal.addEventListener('abort', () => external.removeEventListener('abort', onAbort), { once: true });
    }
  }

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  get failure(): FerryError | null {
    return this.error;
  }

  /** Whether the failure came from the peer (then no ERROR frame goes back). */
  get failedByPeer(): boolean {
    return this.peerError;
  }

  fail(err: unknown, fromPeer = false): void {
    if (this.error) return;
    const e = asTransferError(err);
    if (e.code === 'Transfer.ConnectionLost' && !fromPeer && !this.done) {
      this.deferred ??= setTimeout(() => this.failNow(e, false), this.lossGraceMs);
      return;
    }
    this.failNow(e, fromPeer);
  }

  private failNow(e: FerryError, fromPeer: boolean): void {
    if (this.error) return;
    if (this.deferred) clearTimeout(this.deferred);
    this.error = e;
    this.peerError = fromPeer;
    this.controller.abort(e);
    this.rejectFailed(this.error);
  }

  /** Stop everything after success (waits reject with this reason; loops check `done`). */
  finish(): void {
    if (this.deferred) clearTimeout(this.deferred);
    if (!this.controller.signal.aborted) this.controller.abort(new Error('session finished'));
  }

  get done(): boolean {
    return this.controller.signal.aborted;
  }

  spawn(task: () => Promise<void>): void {
    task().catch((err: unknown) => {
      if (this.done && !this.error && !isProgrammerError(err)) return;
      this.fail(err);
      if (isProgrammerError(err)) process.nextTick(() => { throw err; });
    });
  }

  track<T>(op: Promise<T>): Promise<T> {
    this.inFlight.add(op);
    const forget = (): void => { this.inFlight.delete(op); };
    op.then(forget, forget);
    return op;
  }

  /** Wait (bounded) for tracked file operations to settle. */
  async settle(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.inFlight.size > 0 && Date.now() < deadline) {
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<void>((resolve) => { timer = setTimeout(resolve, Math.max(1, deadline - Date.now())); });
      await Promise.race([Promise.allSettled([...this.inFlight]), timeout]);
      clearTimeout(timer);
    }
  }
}

/** The abort reason of an agent that stops (SIGTERM): the session checkpoints and the task waits for it. */
export function isAgentStopping(reason: unknown): reason is FerryError {
  return isFerryError(reason) && reason.code === 'Transfer.AgentStopping';
}

/** Whether the abort reason asks to keep partial files for the next attempt (see SessionManager). */
export function keepsPartials(reason: unknown): boolean {
  return isFerryError(reason) && reason.details?.['keepPartials'] === true;
}
