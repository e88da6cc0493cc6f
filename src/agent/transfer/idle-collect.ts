import v8, { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import type { Logger } from '../../common/logger.js';

/**
 * One full garbage collection once the agent has run no session for a while.
 *
 * V8 collects when its own heap grows, and an idle agent allocates almost nothing, so what a
 * burst of sessions left behind (closed TLS sockets with their OpenSSL buffers, frame and chunk
 * buffers the pools let go) stays resident until the next transfer: after 50 small tasks at
 * once, the destination agent sat at 255 MB; one collection takes it to about 110. It runs once
 * per quiet spell, never during a transfer, and costs a few tens of milliseconds on a heap of
 * this size.
 */
export class IdleCollector {
  private timer: NodeJS.Timeout | null = null;

  /**
   * @param collect a full collection (fullCollection()), or null where none is available
   * @param idleMs how long no session must have run before collecting
   */
  constructor(private readonly collect: (() => void) | null, private readonly idleMs: number, private readonly log: Logger) {}

  /** The number of sessions running changed to `count`. */
  sessionsNow(count: number): void {
    if (count > 0) {
      this.cancel();
      return;
    }
    if (this.timer || !this.collect) return;
    const collect = this.collect;
    this.timer = setTimeout(() => {
      this.timer = null;
      const before = process.memoryUsage.rss();
      const t0 = performance.now();
      collect();
      // Where the memory is, for whoever reads an idle agent's RSS: the JavaScript heap, its young
      // generation (which a collection does not shrink once grown) and what it holds outside (buffers).
      const heap = v8.getHeapStatistics();
      const young = v8.getHeapSpaceStatistics().find((sp) => sp.space_name === 'new_space');
      this.log.info({
        rssBeforeMb: mb(before), rssAfterMb: mb(process.memoryUsage.rss()), heapMb: mb(heap.total_physical_size),
        youngMb: mb(young?.physical_space_size ?? 0), externalMb: mb(heap.external_memory), ms: Math.round(performance.now() - t0),
      }, 'no session running: garbage collected');
    }, this.idleMs);
    // Never what keeps a stopping agent alive.
    this.timer.unref();
  }

  cancel(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }
}

/**
 * Quiet time before an idle agent collects. Short enough to run between tasks submitted one
 * after another: with 5 s the destination in the bench's back-to-back mixed-tree runs never
 * collected and climbed from 225 to 278 MB over twelve runs; with 2 s it stayed at 207-232.
 * The pools keep their idle buffers through it (emptying them too cost the next task fresh
 * page faults, about 0.5 CPU-s more per run, for no lower peak), so only garbage goes.
 */
export const IDLE_COLLECT_MS = 2000;

/**
 * V8's full collection, or null if this runtime will not give it. Node exposes `gc` only under
 * --expose-gc, which the agent's launcher would otherwise have to pass on every install
 * (systemd unit, npx, containers); the flag set here is seen by contexts created afterwards,
 * and a new context hands over its `gc` (the pattern Node's own tests use).
 */
export function fullCollection(): (() => void) | null {
  try {
    setFlagsFromString('--expose-gc');
    const gc: unknown = runInNewContext('gc');
    return typeof gc === 'function' ? (gc as () => void) : null;
  } catch {
    return null;
  }
}

function mb(bytes: number): number {
  return Math.round(bytes / (1024 * 1024));
}
