import v8 from 'node:v8';
import type { Logger } from '../../common/logger.js';

/**
 * Full garbage collections, each followed by a malloc trim, once the agent has run no session for
 * a while: one per stage of a quiet spell.
 *
 * V8 collects when its own heap grows, and an idle agent allocates almost nothing, so what a
 * burst of sessions left behind (closed TLS sockets with their OpenSSL buffers, frame and chunk
 * buffers the pools let go) stays resident until the next transfer: after 50 small tasks at
 * once, the destination agent sat at 255 MB; one collection takes it to about 110. The first
 * stage takes the garbage; the pools keep their idle buffers through it and let them go over the
 * next seconds (util/idle-buffers.ts), idle I/O workers end after 15 s, and what those held is
 * garbage only then, hence the later stage. Workers still running collect at each stage too:
 * they wrap shared buffers the pools let go (transfer/workers/shared-drops.ts). Freed memory
 * outside V8 (OpenSSL, socket buffers, small Buffers) goes back to malloc, whose arenas keep it
 * resident until trimmed. Never during a transfer; each costs a few tens of milliseconds on a
 * heap of this size.
 */
export class IdleCollector {
  private timer: NodeJS.Timeout | null = null;

  /**
   * @param collect a full collection (transfer/util/full-collection.ts), or null where none is available
   * @param stagesMs quiet time before each collection, from the moment no session runs (ascending)
   * @param trimMalloc gives malloc's free pages back (src/fs/malloc-trim.ts); null where none is available
   * @param collectWorkers has the I/O workers collect (once per stage: each runs its own two)
   */
  constructor(
    private readonly collect: (() => void) | null,
    private readonly stagesMs: readonly number[],
    private readonly log: Logger,
    private readonly trimMalloc: (() => boolean) | null = null,
    private readonly collectWorkers: (() => void) | null = null,
  ) {}

  /** The number of sessions running changed to `count`. */
  sessionsNow(count: number): void {
    if (count > 0) {
      this.cancel();
      return;
    }
    if (this.timer || !this.collect) return;
    this.schedule(0, 0);
  }

  cancel(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  private schedule(stage: number, elapsedMs: number): void {
    const at = this.stagesMs[stage];
    if (at === undefined) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.run(stage);
      this.schedule(stage + 1, at);
    }, Math.max(0, at - elapsedMs));
    // Never what keeps a stopping agent alive.
    this.timer.unref();
  }

  private run(stage: number): void {
    const before = process.memoryUsage.rss();
    const t0 = performance.now();
    this.collectWorkers?.();
    this.collect!();
    // V8 frees dead ArrayBuffers' memory on a background thread after a collection and finishes
    // that at the start of the next one; only then is it all back in malloc for the trim.
    this.collect!();
    const trimmed = this.trimMalloc ? this.trimMalloc() : null;
    // Where the memory is, for whoever reads an idle agent's RSS: the JavaScript heap, its young
    // generation (which a collection does not shrink once grown: V8's memory reducer does, about
    // ten seconds after a collection when little is allocated) and what it holds outside (buffers).
    const heap = v8.getHeapStatistics();
    const young = v8.getHeapSpaceStatistics().find((sp) => sp.space_name === 'new_space');
    this.log.info({
      stage, rssBeforeMb: mb(before), rssAfterMb: mb(process.memoryUsage.rss()), heapMb: mb(heap.total_physical_size),
      youngMb: mb(young?.physical_space_size ?? 0), externalMb: mb(heap.external_memory), mallocTrimmed: trimmed,
      ms: Math.round(performance.now() - t0),
    }, 'no session running: garbage collected');
  }
}

/**
 * Quiet time before an idle agent collects. Short enough to run between tasks submitted one
 * after another: with 5 s the destination in the bench's back-to-back mixed-tree runs never
 * collected and climbed from 225 to 278 MB over twelve runs; with 2 s it stayed at 207-232.
 * The pools keep their idle buffers through it (emptying them too cost the next task fresh
 * page faults, about 0.5 CPU-s more per run, for no lower peak), so only garbage goes.
 */
const IDLE_COLLECT_MS = 2000;

/**
 * The collections of a quiet spell: the garbage at IDLE_COLLECT_MS; then, at 20 s, what the
 * pools' idle lists let go (within 4 s) and the I/O workers ended after 15 s idle held
 * (workers/io-pool.ts WORKER_IDLE_MS).
 */
export const IDLE_COLLECT_STAGES_MS: readonly number[] = [IDLE_COLLECT_MS, 20_000];

function mb(bytes: number): number {
  return Math.round(bytes / (1024 * 1024));
}
