import type { Duplex } from 'node:stream';
import { FerryError } from '../../common/errors.js';
import { MAX_FRAME_PAYLOAD } from '../../protocol/frames.js';
import { connectionLost, peerProtocolError } from '../errors.js';
import { FrameAssembler } from './frame-assembler.js';
import type { InFrame } from './scatter-decoder.js';
import type { FrameOpener, FrameSealer } from './frame-auth.js';
import { readIntoOwnBuffers, takeBuffered } from './user-buffer.js';

/**
 * One session stream (an authenticated socket) as a pull source of frames and a sink with
 * backpressure. Reading: frames are assembled in buffers of their own (FrameAssembler), read
 * into directly where the socket allows it (user-buffer.ts); the socket is paused while more
 * than `maxQueuedBytes` of decoded frames wait, so a slow consumer stops the peer through TCP
 * instead of growing memory.
 * Writing: callers respect write()'s return value through drained().
 */
export class FrameStream {
  private readonly assembler: FrameAssembler;
  private readonly queue: InFrame[] = [];
  private queuedBytes = 0;
  private ended = false;
  private error: FerryError | null = null;
  private stopped = false;
  private wake: (() => void) | null = null;
  private paused = false;
  /** Reading into our own buffers (user-buffer.ts) rather than from 'data' events. */
  private direct = false;
  /** Where bytes go once we no longer want them (after stop() or a protocol error). */
  private readonly scratch = Buffer.allocUnsafe(16 * 1024);
  private discarding = false;
  /** Sockets whose readable side we never consume still need their errors handled. */
  private readonly onError = (err: Error): void => this.setError(connectionLost(`stream ${this.name}: ${err.message}`, err));
  private readonly onClose = (): void => {
    if (!this.ended) this.setError(connectionLost(`stream ${this.name} closed by the peer`));
    this.poke();
  };
  private readonly onEnd = (): void => {
    this.ended = true;
    this.poke();
  };
  private readonly onData = (chunk: Buffer): void => {
    if (this.discarding) return;
    try {
      this.assembler.feed(chunk);
    } catch (err) {
      this.protocolFailure(err);
    }
  };
  private readonly nextBuffer = (): Buffer => (this.discarding ? this.scratch : this.assembler.space());
  private readonly onDirectRead = (n: number): void => {
    if (this.discarding) return;
    try {
      this.assembler.filled(n);
    } catch (err) {
      this.protocolFailure(err);
    }
  };

  constructor(
    readonly socket: Duplex, readonly name: string, private readonly maxQueuedBytes: number,
    /** A clear-text stream's MACs (frame-auth.ts): every frame written is sealed, every frame read is checked. */
    private readonly auth: { sealer: FrameSealer; opener: FrameOpener } | null = null,
  ) {
    this.assembler = new FrameAssembler((frame) => this.received(frame), MAX_FRAME_PAYLOAD);
    socket.on('error', this.onError);
    socket.on('close', this.onClose);
    socket.on('end', this.onEnd);
  }

  /** Start reading (left to the owner so a write-only stream can refuse any input itself). */
  startReading(): void {
    for (const chunk of takeBuffered(this.socket)) this.onData(chunk);
    this.direct = readIntoOwnBuffers(this.socket, this.nextBuffer, this.onDirectRead);
    if (this.direct) {
      if (!this.paused) this.socket.resume();
    } else {
      this.socket.on('data', this.onData);
    }
  }

  private received(received: InFrame): void {
    // A frame too short for its MAC throws here, inside the assembler's caller: a protocol failure.
    const frame = this.auth ? this.auth.opener.open(received) : received;
    this.queue.push(frame);
    this.queuedBytes += frame.length;
    if (this.queuedBytes > this.maxQueuedBytes && !this.paused) {
      this.paused = true;
      this.socket.pause();
    }
    this.poke();
  }

  private protocolFailure(err: unknown): void {
    this.discarding = true;
    this.setError(err instanceof FerryError ? err : peerProtocolError(`stream ${this.name}: ${(err as Error).message}`));
    this.socket.pause();
  }

  /** Whether the socket reads straight into our frame buffers (see user-buffer.ts). */
  get readsDirect(): boolean {
    return this.direct;
  }

  get failure(): FerryError | null {
    return this.error;
  }

  /** Whether we can still write (a peer that sent garbage can still be told why we stop). */
  get writable(): boolean {
    return !this.socket.destroyed && !this.socket.writableEnded;
  }

  /** Next frame; null once the peer ended its side (or stop() was called). */
  async next(): Promise<InFrame | null> {
    for (;;) {
      if (this.stopped) return null;
      const frame = this.queue.shift();
      if (frame) {
        this.queuedBytes -= frame.length;
        if (this.paused && this.queuedBytes <= this.maxQueuedBytes / 2) {
          this.paused = false;
          this.socket.resume();
        }
        return frame;
      }
      if (this.error) throw this.error;
      if (this.ended) {
        if (this.assembler.pending > 0) throw peerProtocolError(`stream ${this.name} ended inside a frame`);
        return null;
      }
      await new Promise<void>((resolve) => { this.wake = resolve; });
    }
  }

  /**
   * Write one frame given as parts (header, payload...). `done` runs once the last part has
   * left our buffers, so a pooled buffer can be reused. Returns false when the caller should
   * wait for drained().
   */
  write(frame: readonly Buffer[], done?: (err?: Error | null) => void): boolean {
    if (!this.writable) throw this.error ?? connectionLost(`stream ${this.name} is closed`);
    const parts = this.auth ? this.auth.sealer.seal(frame) : frame;
    if (parts.length === 1) return this.socket.write(parts[0], done);
    this.socket.cork();
    let ok = true;
    parts.forEach((p, k) => { ok = this.socket.write(p, k === parts.length - 1 ? done : undefined); });
    this.socket.uncork();
    return ok;
  }

  /** Resolves when the socket's write buffer has drained (at once if it has). */
  drained(signal: AbortSignal): Promise<void> {
    if (!this.socket.writableNeedDrain) return Promise.resolve();
    if (signal.aborted) return Promise.reject(signal.reason);
    return new Promise<void>((resolve, reject) => {
      const cleanup = (): void => {
        this.socket.off('drain', onDrain);
        this.socket.off('close', onClose);
        signal.removeEventListener('abort', onAbort);
      };
      const onDrain = (): void => { cleanup(); resolve(); };
      const onClose = (): void => { cleanup(); reject(this.error ?? connectionLost(`stream ${this.name} closed while sending`)); };
      const onAbort = (): void => { cleanup(); reject(signal.reason); };
      this.socket.on('drain', onDrain);
      this.socket.on('close', onClose);
      signal.addEventListener('abort', onAbort, { once: true });
    });
  }

  /** Resolves once everything written so far has been handed to the OS (or the socket died). */
  flushed(): Promise<void> {
    if (!this.writable) return Promise.resolve();
    return new Promise<void>((resolve) => this.socket.write(Buffer.alloc(0), () => resolve()));
  }

  /** Stop delivering frames: pending and future next() calls return null. */
  stop(): void {
    this.stopped = true;
    this.discarding = true;
    this.socket.off('data', this.onData);
    for (const f of this.queue.splice(0)) f.release();
    this.queuedBytes = 0;
    this.poke();
  }

  /** Graceful close of our side; destroys the socket if the peer does not finish within graceMs. */
  close(graceMs: number, destroyNow = false): void {
    this.stop();
    if (destroyNow) {
      this.socket.destroy();
      return;
    }
    if (!this.socket.writableEnded) this.socket.end();
    // Keep consuming so the peer's remaining bytes and FIN are read and 'close' can happen.
    this.socket.resume();
    const timer = setTimeout(() => this.socket.destroy(), graceMs);
    timer.unref();
    this.socket.once('close', () => clearTimeout(timer));
  }

  /** Forget the listeners we added (the caller may keep using the socket). */
  detach(): void {
    // In user-buffer mode the socket keeps calling us: from now on its bytes are dropped.
    this.discarding = true;
    this.socket.off('error', this.onError);
    this.socket.off('close', this.onClose);
    this.socket.off('end', this.onEnd);
    this.socket.off('data', this.onData);
    // A late error with no listener would crash the process.
    this.socket.on('error', () => undefined);
  }

  private setError(err: FerryError): void {
    if (!this.error) this.error = err;
    this.poke();
  }

  private poke(): void {
    const wake = this.wake;
    this.wake = null;
    wake?.();
  }
}
