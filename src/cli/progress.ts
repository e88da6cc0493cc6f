import cliProgress from 'cli-progress';
import type { TaskDocument } from './task-client.js';

/**
 * What `ferry task wait` shows while it polls a task: a live bar on a terminal (cli-progress
 * does the redrawing), one plain line per poll otherwise (logs, CI, pipes). The rendering
 * functions are pure so tests can check every line without a terminal.
 */

/** Rates are measured over the polls of this window, so the rate and ETA follow changes quickly. */
export const RATE_WINDOW_MS = 10_000;

const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];

/** 1536 -> '1.50 KiB'; three significant digits, binary units. */
export function formatBytes(n: number): string {
  if (!Number.isFinite(n) || n < 1024) return `${Math.max(0, Math.round(Number.isFinite(n) ? n : 0))} B`;
  let v = n;
  let u = 0;
  // 1023.6 KiB would round to '1024 KiB'; move up a unit before that happens.
  while (v >= 1023.5 && u < UNITS.length - 1) {
    v /= 1024;
    u++;
  }
  const digits = v >= 100 ? 0 : v >= 10 ? 1 : 2;
  return `${v.toFixed(digits)} ${UNITS[u]}`;
}

export function formatRate(bytesPerSecond: number): string {
  return `${formatBytes(bytesPerSecond)}/s`;
}

/** Seconds as '45s', '3m05s', '2h07m', '3d04h'. */
export function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s}s`;
  const pad = (n: number): string => String(n).padStart(2, '0');
  if (s < 3600) return `${Math.floor(s / 60)}m${pad(s % 60)}s`;
  if (s < 86_400) return `${Math.floor(s / 3600)}h${pad(Math.floor((s % 3600) / 60))}m`;
  return `${Math.floor(s / 86_400)}d${pad(Math.floor((s % 86_400) / 3600))}h`;
}

/** Bytes per second over the recent polls (a sliding window of samples). */
export class RateTracker {
  readonly #samples: Array<{ t: number; bytes: number }> = [];
  readonly #windowMs: number;

  constructor(windowMs = RATE_WINDOW_MS) {
    this.#windowMs = windowMs;
  }

  add(bytes: number, nowMs: number): void {
    const last = this.#samples.at(-1);
    // A counter that went backwards (control restarted a session) makes old samples meaningless.
    if (last !== undefined && bytes < last.bytes) this.#samples.length = 0;
    this.#samples.push({ t: nowMs, bytes });
    // Keep one sample older than the window so the window is always fully covered.
    while (this.#samples.length > 2 && (this.#samples[1] as { t: number }).t <= nowMs - this.#windowMs) this.#samples.shift();
  }

  /** undefined until two samples some time apart exist. */
  rate(): number | undefined {
    const first = this.#samples[0];
    const last = this.#samples.at(-1);
    if (first === undefined || last === undefined || last.t <= first.t) return undefined;
    return ((last.bytes - first.bytes) * 1000) / (last.t - first.t);
  }
}

export interface ProgressSnapshot {
  status: string;
  /** nice_status when it says something (an error being retried, Queued); else undefined. */
  detail: string | undefined;
  bytes: number;
  /** Total bytes to move, when control says (Ferry's bytes_expected). */
  expected: number | undefined;
  /** 0-100, when known. */
  percent: number | undefined;
  rate: number | undefined;
  etaSeconds: number | undefined;
  files: number;
  filesDone: number;
  filesSkipped: number;
  faults: number;
  /** A problem on our side of the poll, e.g. control unreachable. */
  notice: string | undefined;
}

function count(v: unknown): number {
  return typeof v === 'number' && Number.isFinite(v) && v >= 0 ? v : 0;
}

/** Build what to show from a task document and the measured rate. */
export function snapshotOf(task: TaskDocument, rate: number | undefined, notice?: string): ProgressSnapshot {
  const bytes = count(task.bytes_transferred);
  const expected = typeof task.bytes_expected === 'number' && task.bytes_expected >= 0 ? task.bytes_expected : undefined;
  let percent: number | undefined;
  if (task.status === 'SUCCEEDED') percent = 100;
  else if (expected !== undefined) {
    // Never claim 100% before control does: the last bytes may still be verifying.
    percent = expected === 0 ? 99 : Math.min(99, Math.floor((bytes / expected) * 100));
  }
  const effective = count(task.effective_bytes_per_second);
  const shownRate = rate ?? (effective > 0 ? effective : undefined);
  const etaSeconds = task.status === 'ACTIVE' && expected !== undefined && shownRate !== undefined && shownRate > 0 && bytes < expected
    ? (expected - bytes) / shownRate
    : undefined;
  const nice = typeof task.nice_status === 'string' && task.nice_status !== '' && task.nice_status !== 'OK' ? task.nice_status : undefined;
  return {
    status: String(task.status),
    detail: nice,
    bytes,
    expected,
    percent,
    rate: shownRate,
    etaSeconds,
    files: count(task.files),
    filesDone: count(task.files_transferred) + count(task.files_skipped),
    filesSkipped: count(task.files_skipped),
    faults: count(task.faults),
    notice,
  };
}

function statusText(s: ProgressSnapshot): string {
  if (s.detail === undefined) return s.status;
  if (s.detail === 'Queued') return `${s.status} (queued)`;
  // An error code in nice_status on an ACTIVE task means Globus-style retrying (globus-api.md §2.4).
  return s.status === 'ACTIVE' ? `${s.status} (retrying: ${s.detail})` : `${s.status} (${s.detail})`;
}

/** The parts after the status: percent, bytes, rate, ETA, files, faults, notice. */
function detailParts(s: ProgressSnapshot, withPercent: boolean): string[] {
  const parts: string[] = [];
  if (withPercent && s.percent !== undefined) parts.push(`${s.percent}%`);
  parts.push(s.expected !== undefined ? `${formatBytes(s.bytes)} of ${formatBytes(s.expected)}` : formatBytes(s.bytes));
  if (s.rate !== undefined) parts.push(formatRate(s.rate));
  if (s.etaSeconds !== undefined) parts.push(`ETA ${formatDuration(s.etaSeconds)}`);
  if (s.files > 0 || s.filesDone > 0) {
    parts.push(`files ${s.filesDone}/${Math.max(s.files, s.filesDone)}` + (s.filesSkipped > 0 ? ` (${s.filesSkipped} skipped)` : ''));
  }
  if (s.faults > 0) parts.push(`faults ${s.faults}`);
  if (s.notice !== undefined) parts.push(`[${s.notice}]`);
  return parts;
}

/** One plain progress line (no newline), as printed when stdout is not a terminal. */
export function renderProgressLine(s: ProgressSnapshot): string {
  return [statusText(s), ...detailParts(s, true)].join('  ');
}

const BAR_MIN = 10;
const BAR_MAX = 30;

/** The terminal line: a bar when the percentage is known, the same details, cut to `width`. */
export function renderBarLine(s: ProgressSnapshot, width: number): string {
  const plainActive = s.status === 'ACTIVE' && s.detail === undefined;
  const tail = [...(plainActive ? [] : [statusText(s)]), ...detailParts(s, true)].join('  ');
  const room = width - 1;
  let line = tail;
  if (s.percent !== undefined) {
    // Two brackets and two spaces go around the bar.
    const barWidth = Math.min(BAR_MAX, room - tail.length - 4);
    if (barWidth >= BAR_MIN) {
      const full = Math.round((s.percent / 100) * barWidth);
      line = `[${'='.repeat(full)}${'-'.repeat(barWidth - full)}]  ${tail}`;
    }
  }
  return line.length > room ? line.slice(0, Math.max(0, room)) : line;
}

/** How `task wait` reports progress; `finish` must be called once the wait ends, however it ends. */
export interface ProgressDisplay {
  update(snapshot: ProgressSnapshot): void;
  finish(): void;
}

/** One line per poll through `out` (stdout when it is not a terminal). */
export class LineProgress implements ProgressDisplay {
  constructor(private readonly out: (text: string) => void) {}

  update(snapshot: ProgressSnapshot): void {
    this.out(renderProgressLine(snapshot) + '\n');
  }

  finish(): void {}
}

/** A terminal-capable stream; `columns` is the terminal width. */
export interface TerminalStream extends NodeJS.WritableStream {
  isTTY?: boolean;
  columns?: number;
}

/** A live bar redrawn in place on a terminal. */
export class BarProgress implements ProgressDisplay {
  readonly #bar: cliProgress.SingleBar;
  #started = false;

  constructor(stream: TerminalStream) {
    this.#bar = new cliProgress.SingleBar({
      stream,
      format: (_opts, params, payload: { snapshot: ProgressSnapshot }) => renderBarLine(payload.snapshot, params.maxWidth),
      fps: 5,
      // Trim to the width instead of switching wrapping off: a killed process would leave the
      // user's terminal without line wrapping.
      linewrap: true,
      // cli-progress would add SIGINT handlers that keep Ctrl-C from ending the process.
      gracefulExit: false,
      hideCursor: false,
    });
  }

  update(snapshot: ProgressSnapshot): void {
    if (!this.#started) {
      this.#started = true;
      this.#bar.start(1, 0, { snapshot });
      return;
    }
    this.#bar.update({ snapshot });
  }

  /** Draws the last state and moves to a new line. Idempotent. */
  finish(): void {
    if (this.#started) this.#bar.stop();
  }
}

/** A bar when `terminal` is given (stdout is a TTY), plain lines through `out` otherwise. */
export function createProgressDisplay(terminal: TerminalStream | undefined, out: (text: string) => void): ProgressDisplay {
  return terminal?.isTTY ? new BarProgress(terminal) : new LineProgress(out);
}
