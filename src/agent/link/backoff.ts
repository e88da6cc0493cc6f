/**
 * Capped exponential backoff with full jitter (AWS architecture blog's "full jitter"):
 * the n-th delay is uniform in [0, min(max, initial * 2^n)], so a fleet of agents
 * reconnecting after a control restart does not arrive at once. `random` is injectable so
 * tests can run without jitter.
 */
export interface BackoffOptions {
  initialDelayMs: number;
  maxDelayMs: number;
  random?: () => number;
}

export class Backoff {
  private attempt = 0;
  private readonly random: () => number;

  constructor(private readonly opts: BackoffOptions) {
    this.random = opts.random ?? Math.random;
  }

  next(): number {
    const ceiling = Math.min(this.opts.maxDelayMs, this.opts.initialDelayMs * 2 ** Math.min(this.attempt, 30));
    this.attempt++;
    // Never zero: a tight reconnect loop would spin on a dead control.
    return Math.max(1, Math.round(this.random() * ceiling));
  }

  reset(): void {
    this.attempt = 0;
  }

  get attempts(): number {
    return this.attempt;
  }
}
