import type { FrameStream } from '../wire/frame-stream.js';
import type { SendUnit } from '../wire/send-unit.js';
import { BoundedQueue } from '../util/waiters.js';


export type { SendUnit } from '../wire/send-unit.js';

/** What the send loops need of their session: a place to run them whose failure ends it, and its abort signal. */
export interface SendGuard {
  spawn(task: () => Promise<void>): void;
  readonly signal: AbortSignal;
}

/**
 * The source's send side: a queue bounded by bytes between the readers and one sender loop
 * per active data stream. A big file's chunks spread over the streams in the order the streams
 * free up; a stream whose socket is full waits for 'drain' and takes nothing meanwhile.
 * Streams past `initial` are connected but idle until grow() puts them to work (more streams
 * for a loss-limited path: session/stream-growth.ts).
 */
export class SendQueue {
  private readonly queue: BoundedQueue<SendUnit>;
  private activeCount = 0;

  constructor(
    private readonly streams: readonly FrameStream[], capacityBytes: number, private readonly guard: SendGuard,
    private readonly initial: number = streams.length,
  ) {
    this.queue = new BoundedQueue<SendUnit>(capacityBytes);
  }

  /** The streams carrying data now, in order: the first `active` of those connected. */
  get active(): readonly FrameStream[] {
    return this.streams.slice(0, this.activeCount);
  }

  start(): void {
    while (this.activeCount < Math.min(Math.max(1, this.initial), this.streams.length)) this.grow();
  }

  /** Put one more connected stream to work; false when all already are. */
  grow(): boolean {
    const stream = this.streams[this.activeCount];
    if (stream === undefined) return false;
    this.activeCount += 1;
    this.guard.spawn(() => this.pump(stream));
    return true;
  }

  push(unit: SendUnit): Promise<void> {
    return this.queue.push(unit, unit.cost, this.guard.signal);
  }

  private async pump(stream: FrameStream): Promise<void> {
    const signal = this.guard.signal;
    for (;;) {
      const unit = await this.queue.take(signal);
      if (!unit) return;
      let ok = true;
      unit.frames.forEach((parts, k) => {
        const last = k === unit.frames.length - 1;
        ok = stream.write(parts, last && unit.done ? () => unit.done!() : undefined);
      });
      if (!ok) await stream.drained(signal);
    }
  }
}
