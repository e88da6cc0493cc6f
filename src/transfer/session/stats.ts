import type { SessionStats } from '../../protocol/session.js';

export function emptyStats(): SessionStats {
  return {
    files: 0, directories: 0, symlinks: 0, filesTransferred: 0, filesSkipped: 0,
    bytesTransferred: 0, bytesChecksummed: 0, bytesExpected: 0, faults: 0,
  };
}

/**
 * The destination's counters (Globus task fields) and its progress clock: report() at least
 * every `intervalMs` while running, and once more at the end.
 */
export class ProgressClock {
  readonly stats = emptyStats();
  private timer: NodeJS.Timeout | null = null;

  constructor(private readonly report: (stats: SessionStats) => void, private readonly intervalMs: number) {}

  start(): void {
    this.timer = setInterval(() => this.report({ ...this.stats }), this.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.report({ ...this.stats });
  }

  snapshot(): SessionStats {
    return { ...this.stats };
  }
}
