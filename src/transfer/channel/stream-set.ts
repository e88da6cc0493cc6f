import type { Socket } from 'node:net';
import { FerryError } from '../../common/errors.js';
import { classifySocketError } from './handshake-io.js';

export interface StreamSetOptions {
  timeoutMs: number;
  /** Says what timed out ("session x: 3 of 5 streams connected" is appended). */
  timeoutMessage: string;
  signal?: AbortSignal;
}

/**
 * The connections of one session as they pass their handshakes, in stream-index slots.
 * Resolves once every slot is filled; fails as a whole (destroying every socket it holds)
 * on timeout, abort, or the loss of a connection already accepted, because a session with
 * a dead stream cannot run and the peer sees the same failure through the closed sockets.
 * Until it resolves it guards its sockets against unhandled 'error' events.
 */
export class StreamSet {
  readonly done: Promise<Socket[]>;
  /** Aborted when the set fails, so in-flight handshakes for it can stop. */
  readonly signal: AbortSignal;
  private readonly slots: Array<Socket | undefined>;
  private readonly guards = new Map<Socket, { onError: (err: Error) => void; onClose: () => void }>();
  private readonly controller = new AbortController();
  private readonly timer: NodeJS.Timeout;
  private filled = 0;
  private settled = false;
  private resolve!: (sockets: Socket[]) => void;
  private reject!: (err: unknown) => void;

  constructor(readonly count: number, private readonly opts: StreamSetOptions) {
    this.slots = new Array<Socket | undefined>(count).fill(undefined);
    this.signal = this.controller.signal;
    this.done = new Promise<Socket[]>((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
    });
    this.timer = setTimeout(() => {
      this.fail(new FerryError('Channel.HandshakeTimeout', `${opts.timeoutMessage}: ${this.filled} of ${count} streams connected after ${opts.timeoutMs} ms`));
    }, opts.timeoutMs);
    if (opts.signal?.aborted) this.onAbort();
    else opts.signal?.addEventListener('abort', this.onAbort, { once: true });
  }

  get isSettled(): boolean {
    return this.settled;
  }

  has(index: number): boolean {
    return this.slots[index] !== undefined;
  }

  /** The socket in a filled slot (a clear session's streams derive their keys from slot 0's TLS). */
  get(index: number): Socket | undefined {
    return this.slots[index];
  }

  /** Fill a slot; a socket arriving after the set failed is destroyed, not leaked. */
  put(index: number, socket: Socket): void {
    if (this.settled) {
      socket.destroy();
      return;
    }
    if (index < 0 || index >= this.count || this.slots[index] !== undefined) {
      throw new RangeError(`stream slot ${index} is out of range or taken`);
    }
    this.slots[index] = socket;
    this.filled += 1;
    const guard = {
      onError: (err: Error) => this.fail(classifySocketError(err, `on stream ${index} while the session was connecting`)),
      onClose: () => this.fail(new FerryError('Channel.Closed', `stream ${index} closed while the session was connecting`)),
    };
    this.guards.set(socket, guard);
    socket.on('error', guard.onError);
    socket.on('close', guard.onClose);
    if (this.filled === this.count) {
      this.finish();
      this.resolve(this.slots as Socket[]);
    }
  }

  fail(err: unknown): void {
    if (this.settled) return;
    this.finish();
    for (const socket of this.slots) socket?.destroy();
    this.controller.abort(err);
    this.reject(err);
  }

  private readonly onAbort = (): void => {
    const reason: unknown = this.opts.signal?.reason;
    this.fail(new FerryError('Channel.Closed', `${this.opts.timeoutMessage}: canceled`, { cause: reason }));
  };

  private finish(): void {
    this.settled = true;
    clearTimeout(this.timer);
    this.opts.signal?.removeEventListener('abort', this.onAbort);
    for (const [socket, guard] of this.guards) {
      socket.off('error', guard.onError);
      socket.off('close', guard.onClose);
    }
    this.guards.clear();
  }
}
