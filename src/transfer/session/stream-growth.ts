import type { Duplex } from 'node:stream';
import type { TcpInfo } from '../../fs/index.js';
import type { SendQueue } from '../chunks/sender.js';
import type { FrameStream } from '../wire/frame-stream.js';

/**
 * More data streams when the ones running are limited by loss. A loss-based congestion control
 * (cubic, reno: what a host without bbr, or an agent that may not choose it, runs) halves a
 * stream's window at every loss, so on a long lossy path each stream holds 1-2 MB/s whatever
 * the link carries, and the session's rate grows with the number of streams (GridFTP users pick
 * `-p 8` or more for this). The session connects up to spec.maxParallelism data streams, starts
 * with spec.options.parallelism of them, and every interval asks the kernel (TCP_INFO) whether
 * the busy ones lost packets while their congestion window was what held them back; if so, one
 * more stream goes to work. A path limited by the receiver, the disk or the sender's CPU shows
 * no such pattern and keeps its streams. With bbr the agent never asks (control sends no spare
 * streams), since bbr does not back off on random loss.
 */
export interface StreamGrowthInit {
  /** The TCP_INFO counters of a stream's socket; null when they cannot be read (then nothing grows). */
  probe(socket: Duplex): TcpInfo | null;
  /** Told after each added stream, with the figures that decided it. */
  grown?(active: number, why: GrowthReason): void;
}

export interface GrowthReason {
  /** Share of the bytes sent in the interval that were retransmissions. */
  lossRatio: number;
  /** Share of the interval the busy streams spent limited by their congestion window. */
  cwndLimitedShare: number;
}

/** Below this share of retransmitted bytes a path is not called lossy (a stray retransmit on a LAN). */
export const MIN_LOSS_RATIO = 1e-4;
/** The streams must have spent at least this share of the interval waiting on their windows. */
export const MIN_CWND_LIMITED_SHARE = 0.5;

/**
 * Whether streams whose counters went from `before` to `after` (pairwise, the same sockets) over
 * `elapsedUs` were loss-limited; the figures when they were, else null.
 */
export function lossLimited(before: readonly TcpInfo[], after: readonly TcpInfo[], elapsedUs: number): GrowthReason | null {
  if (before.length === 0 || before.length !== after.length || elapsedUs <= 0) return null;
  let sent = 0;
  let resent = 0;
  let segmentsResent = 0;
  let cwndLimitedUs = 0;
  after.forEach((a, k) => {
    const b = before[k]!;
    sent += a.bytesSent - b.bytesSent;
    resent += a.bytesRetransmitted - b.bytesRetransmitted;
    segmentsResent += a.retransmits - b.retransmits;
    // Busy (data waiting in the socket) and not held by the receiver's window or the send buffer: held by cwnd.
    cwndLimitedUs += Math.max(0, (a.busyUs - b.busyUs) - (a.rwndLimitedUs - b.rwndLimitedUs) - (a.sndbufLimitedUs - b.sndbufLimitedUs));
  });
  if (sent <= 0 || segmentsResent <= 0) return null;
  const lossRatio = resent / sent;
  const cwndLimitedShare = cwndLimitedUs / (elapsedUs * after.length);
  if (lossRatio < MIN_LOSS_RATIO || cwndLimitedShare < MIN_CWND_LIMITED_SHARE) return null;
  return { lossRatio, cwndLimitedShare };
}

/** The source's sampler: one timer, stopped when every stream works or the session ends. */
export class StreamGrowth {
  private timer: NodeJS.Timeout | null = null;
  private readonly last = new Map<FrameStream, TcpInfo>();
  private lastAt = 0;

  constructor(private readonly sender: SendQueue, private readonly init: StreamGrowthInit, private readonly intervalMs: number) {}

  start(): void {
    const streams = this.sender.active;
    const first = this.sample(streams);
    // No counters (the twin, or not a TCP socket): nothing to judge by.
    if (first === null) return;
    streams.forEach((s, k) => this.last.set(s, first[k]!));
    this.lastAt = now();
    this.timer = setInterval(() => this.tick(), this.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  private tick(): void {
    const streams = this.sender.active;
    const at = now();
    const before: TcpInfo[] = [];
    const after: TcpInfo[] = [];
    const fresh = this.sample(streams);
    if (fresh === null) return this.stop();
    streams.forEach((s, k) => {
      const prev = this.last.get(s);
      // A stream added last tick has no baseline yet: it counts from the next one.
      if (prev !== undefined) {
        before.push(prev);
        after.push(fresh[k]!);
      }
    });
    const elapsedUs = (at - this.lastAt) * 1000;
    this.lastAt = at;
    streams.forEach((s, k) => this.last.set(s, fresh[k]!));
    const why = lossLimited(before, after, elapsedUs);
    if (why === null) return;
    if (!this.sender.grow()) return this.stop();
    this.init.grown?.(this.sender.active.length, why);
  }

  /** The streams' counters now, or null (and no more sampling) when a socket cannot tell. */
  private sample(streams: readonly FrameStream[]): TcpInfo[] | null {
    const out: TcpInfo[] = [];
    for (const s of streams) {
      let info: TcpInfo | null;
      try {
        info = this.init.probe(s.socket);
      } catch {
        info = null;
      }
      if (info === null) return null;
      out.push(info);
    }
    return out;
  }
}

function now(): number {
  return performance.now();
}
