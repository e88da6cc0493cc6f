import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import {
  BarProgress, LineProgress, RateTracker, createProgressDisplay, formatBytes, formatDuration, formatRate, renderBarLine, renderProgressLine,
  snapshotOf, type ProgressSnapshot, type TerminalStream,
} from '../../../../src/cli/progress.js';
import type { TaskDocument } from '../../../../src/cli/task-client.js';
import { taskDoc } from './harness.js';

const GiB = 1024 ** 3;
const MiB = 1024 ** 2;

function task(over: Record<string, unknown>): TaskDocument {
  return taskDoc(over) as TaskDocument;
}

describe('number formatting', () => {
  it('formats bytes with binary units and three significant digits', () => {
    expect(formatBytes(0)).toBe('0 B');
    expect(formatBytes(1023)).toBe('1023 B');
    expect(formatBytes(1536)).toBe('1.50 KiB');
    expect(formatBytes(12.34 * MiB)).toBe('12.3 MiB');
    expect(formatBytes(123.4 * GiB)).toBe('123 GiB');
    // Just under a unit boundary moves up rather than printing 1024.
    expect(formatBytes(1023.8 * 1024)).toBe('1.00 MiB');
    expect(formatBytes(-5)).toBe('0 B');
    expect(formatRate(85.3 * MiB)).toBe('85.3 MiB/s');
  });

  it('formats durations compactly', () => {
    expect(formatDuration(0)).toBe('0s');
    expect(formatDuration(59.4)).toBe('59s');
    expect(formatDuration(185)).toBe('3m05s');
    expect(formatDuration(2 * 3600 + 7 * 60 + 30)).toBe('2h07m');
    expect(formatDuration(3 * 86_400 + 4 * 3600)).toBe('3d04h');
  });
});

describe('RateTracker', () => {
  it('measures over a sliding window and restarts when the counter goes back', () => {
    const r = new RateTracker(10_000);
    expect(r.rate()).toBeUndefined();
    r.add(0, 0);
    expect(r.rate()).toBeUndefined();
    r.add(10 * MiB, 1000);
    expect(r.rate()).toBe(10 * MiB);
    // Slow down: after the window passes, only the recent slope counts.
    for (let t = 2000; t <= 30_000; t += 1000) r.add(10 * MiB + ((t - 1000) / 1000) * MiB, t);
    expect(r.rate()).toBeCloseTo(MiB, 0);
    r.add(5, 31_000);
    expect(r.rate()).toBeUndefined();
  });
});

describe('snapshotOf', () => {
  it('shows a percentage and ETA only when control says how many bytes to expect', () => {
    const unknown = snapshotOf(task({ bytes_transferred: 512 * MiB }), 64 * MiB);
    expect(unknown.percent).toBeUndefined();
    expect(unknown.etaSeconds).toBeUndefined();
    const known = snapshotOf(task({ bytes_transferred: 512 * MiB, bytes_expected: 1024 * MiB }), 64 * MiB);
    expect(known.percent).toBe(50);
    expect(known.etaSeconds).toBe(8);
  });

  it('never claims 100% before the task succeeded, and shows 100% once it has', () => {
    expect(snapshotOf(task({ bytes_transferred: 10, bytes_expected: 10 }), undefined).percent).toBe(99);
    expect(snapshotOf(task({ bytes_transferred: 0, bytes_expected: 0 }), undefined).percent).toBe(99);
    expect(snapshotOf(task({ status: 'SUCCEEDED', bytes_transferred: 10 }), undefined).percent).toBe(100);
  });

  it('falls back to the effective rate before two polls exist', () => {
    expect(snapshotOf(task({ effective_bytes_per_second: 1000 }), undefined).rate).toBe(1000);
    expect(snapshotOf(task({ effective_bytes_per_second: 0 }), undefined).rate).toBeUndefined();
  });
});

function snap(over: Partial<ProgressSnapshot>): ProgressSnapshot {
  return {
    status: 'ACTIVE', detail: undefined, bytes: 0, expected: undefined, percent: undefined, rate: undefined, etaSeconds: undefined,
    files: 0, filesDone: 0, filesSkipped: 0, faults: 0, notice: undefined, ...over,
  };
}

describe('renderProgressLine', () => {
  it('shows status, percent, bytes, rate, ETA and files', () => {
    const s = snapshotOf(task({ bytes_transferred: 1.21 * GiB, bytes_expected: 2.87 * GiB, files: 40, files_transferred: 9, files_skipped: 3 }), 85.3 * MiB);
    expect(renderProgressLine(s)).toBe('ACTIVE  42%  1.21 GiB of 2.87 GiB  85.3 MiB/s  ETA 20s  files 12/40 (3 skipped)');
  });

  it('leaves out what is unknown', () => {
    expect(renderProgressLine(snap({ bytes: 2048 }))).toBe('ACTIVE  2.00 KiB');
    expect(renderProgressLine(snap({ bytes: 2048, rate: 1024, files: 3, filesDone: 1 }))).toBe('ACTIVE  2.00 KiB  1.00 KiB/s  files 1/3');
  });

  it('says when the task is queued, retrying an error or inactive, and when polling failed', () => {
    expect(renderProgressLine(snap({ detail: 'Queued' }))).toBe('ACTIVE (queued)  0 B');
    expect(renderProgressLine(snap({ detail: 'PERMISSION_DENIED', faults: 3 }))).toBe('ACTIVE (retrying: PERMISSION_DENIED)  0 B  faults 3');
    expect(renderProgressLine(snap({ status: 'INACTIVE', detail: 'CREDENTIALS_EXPIRED' }))).toBe('INACTIVE (CREDENTIALS_EXPIRED)  0 B');
    expect(renderProgressLine(snap({ notice: 'cannot poll control (down); retrying' }))).toBe('ACTIVE  0 B  [cannot poll control (down); retrying]');
  });
});

describe('renderBarLine', () => {
  it('draws a bar sized to the terminal when the percentage is known', () => {
    const s = snap({ percent: 50, bytes: 512, expected: 1024 });
    const line = renderBarLine(s, 80);
    expect(line).toBe(`[${'='.repeat(15)}${'-'.repeat(15)}]  50%  512 B of 1.00 KiB`);
    const narrow = renderBarLine(s, 40);
    expect(narrow).toMatch(/^\[=+-+\]  50%  512 B of 1\.00 KiB$/);
    expect(narrow.length).toBeLessThanOrEqual(39);
  });

  it('drops the bar when there is no room or no percentage, and never overflows the width', () => {
    expect(renderBarLine(snap({ bytes: 512 }), 80)).toBe('512 B');
    expect(renderBarLine(snap({ percent: 50, bytes: 512, expected: 1024 }), 30)).toBe('50%  512 B of 1.00 KiB');
    expect(renderBarLine(snap({ detail: 'PERMISSION_DENIED', bytes: 512 }), 20)).toBe('ACTIVE (retrying: P');
  });
});

/** A stream that says it is a terminal and records what was written. */
function fakeTerminal(columns = 100): TerminalStream & { text(): string } {
  const stream = new PassThrough() as unknown as TerminalStream & PassThrough & { text(): string };
  const chunks: Buffer[] = [];
  stream.on('data', (c: Buffer) => chunks.push(c));
  stream.isTTY = true;
  stream.columns = columns;
  stream.text = () => Buffer.concat(chunks).toString('utf8');
  return stream;
}

describe('progress displays', () => {
  it('prints one line per update without a terminal', () => {
    let out = '';
    const d = createProgressDisplay(undefined, (s) => { out += s; });
    expect(d).toBeInstanceOf(LineProgress);
    d.update(snap({ bytes: 1 }));
    d.update(snap({ bytes: 2 }));
    d.finish();
    expect(out).toBe('ACTIVE  1 B\nACTIVE  2 B\n');
  });

  it('redraws a bar on a terminal and ends it with a newline', async () => {
    const term = fakeTerminal();
    let out = '';
    const d = createProgressDisplay(term, (s) => { out += s; });
    expect(d).toBeInstanceOf(BarProgress);
    d.update(snap({ percent: 10, bytes: 100, expected: 1000 }));
    d.update(snap({ status: 'SUCCEEDED', percent: 100, bytes: 1000, expected: 1000 }));
    d.finish();
    d.finish();
    await new Promise<void>((resolve) => setImmediate(resolve));
    const text = term.text();
    expect(out).toBe('');
    expect(text).toContain('10%  100 B of 1000 B');
    expect(text).toContain('SUCCEEDED  100%  1000 B of 1000 B');
    expect(text.endsWith('\n')).toBe(true);
    // Redraws go back to the line start; nothing turns off the terminal's line wrapping.
    expect(text).toContain('\x1b[1G');
    expect(text).not.toContain('\x1b[?7l');
  });

  it('does nothing on finish when nothing was shown', () => {
    const term = fakeTerminal();
    new BarProgress(term).finish();
    expect(term.text()).toBe('');
  });
});
