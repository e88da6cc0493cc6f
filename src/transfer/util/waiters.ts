/**
 * Small async coordination primitives for the session engine. Every wait takes the session's
 * AbortSignal, so a failed or canceled session never leaves a task parked forever.
 */

interface Waiter {
  cost: number;
  resolve: () => void;
  reject: (err: unknown) => void;
  signal: AbortSignal | undefined;
  onAbort: () => void;
}

function park(list: Waiter[], cost: number, signal: AbortSignal | undefined): Promise<void> {
  if (signal?.aborted) return Promise.reject(signal.reason);
  return new Promise<void>((resolve, reject) => {
    const waiter: Waiter = {
      cost, resolve, reject, signal,
      onAbort: () => {
        const at = list.indexOf(waiter);
        if (at >= 0) list.splice(at, 1);
        reject(signal?.reason);
      },
    };
    signal?.addEventListener('abort', waiter.onAbort, { once: true });
    list.push(waiter);
  });
}

function wake(waiter: Waiter): void {
  waiter.signal?.removeEventListener('abort', waiter.onAbort);
  waiter.resolve();
}

/**
 * Counting semaphore with weighted acquires. A request larger than the whole capacity is let
 * through once nothing else holds it, so one oversized unit cannot deadlock the queue.
 */
export class Semaphore {
  private used = 0;
  private readonly waiters: Waiter[] = [];

  constructor(private readonly capacity: number) {}

  get inUse(): number {
    return this.used;
  }

  private fits(cost: number): boolean {
    return this.used === 0 || this.used + cost <= this.capacity;
  }

  tryAcquire(cost = 1): boolean {
    if (this.waiters.length > 0 || !this.fits(cost)) return false;
    this.used += cost;
    return true;
  }

  async acquire(cost = 1, signal?: AbortSignal): Promise<void> {
    if (this.tryAcquire(cost)) return;
    await park(this.waiters, cost, signal);
  }

  release(cost = 1): void {
    this.used -= cost;
    while (this.waiters.length > 0 && this.fits(this.waiters[0]!.cost)) {
      const next = this.waiters.shift()!;
      this.used += next.cost;
      wake(next);
    }
  }

  /** Run `fn` holding `cost`. */
  async run<T>(fn: () => Promise<T>, signal?: AbortSignal, cost = 1): Promise<T> {
    await this.acquire(cost, signal);
    try {
      return await fn();
    } finally {
      this.release(cost);
    }
  }
}

/** A one-shot or repeatable "something changed" signal for loops that wait for state. */
export class Notifier {
  private readonly waiters: Waiter[] = [];

  wait(signal?: AbortSignal): Promise<void> {
    return park(this.waiters, 0, signal);
  }

  notify(): void {
    for (const w of this.waiters.splice(0)) wake(w);
  }
}

/**
 * FIFO between producers and consumers, bounded by the total cost of what it holds: push()
 * waits while the queue is full (backpressure), take() waits while it is empty and returns
 * null once the queue is closed and drained.
 */
export class BoundedQueue<T> {
  private readonly items: Array<{ item: T; cost: number }> = [];
  private readonly space: Semaphore;
  private readonly changed = new Notifier();
  private closed = false;

  constructor(capacity: number) {
    this.space = new Semaphore(capacity);
  }

  get length(): number {
    return this.items.length;
  }

  async push(item: T, cost: number, signal?: AbortSignal): Promise<void> {
    await this.space.acquire(cost, signal);
    this.items.push({ item, cost });
    this.changed.notify();
  }

  async take(signal?: AbortSignal): Promise<T | null> {
    for (;;) {
      const head = this.items.shift();
      if (head) {
        this.space.release(head.cost);
        return head.item;
      }
      if (this.closed) return null;
      await this.changed.wait(signal);
    }
  }

  close(): void {
    this.closed = true;
    this.changed.notify();
  }
}
