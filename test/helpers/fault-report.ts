import { mkdirSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** One fault-injection case, for the table the issue note needs. */
export interface FaultRow {
  fault: string;
  task: string;
  faults: number;
  /** Bytes of the source tree, and bytes the source sent to the destination over all attempts (TLS bytes through the test's proxy). */
  bytesTree: number;
  bytesSent: number;
  verified: string;
}

const MiB = 1024 * 1024;

/** Print the table and keep it in test-results/faults.md (CI logs show it; the issue note quotes it). */
export async function recordFaults(rows: FaultRow[], meta: { seed: number; treeBytes: number }): Promise<void> {
  if (rows.length === 0) return;
  const lines = [
    `Fault injection (seed ${meta.seed}; tree ${(meta.treeBytes / MiB).toFixed(1)} MiB per task)`,
    '',
    '| fault | task faults | MiB on the wire (all attempts) | MiB re-sent | re-sent per fault (MiB) | result |',
    '|---|---|---|---|---|---|',
    ...rows.map((r) => {
      const resent = Math.max(0, r.bytesSent - r.bytesTree);
      const per = r.faults > 0 ? (resent / r.faults / MiB).toFixed(2) : '-';
      return `| ${r.fault} | ${r.faults} | ${(r.bytesSent / MiB).toFixed(1)} | ${(resent / MiB).toFixed(2)} | ${per} | ${r.verified} |`;
    }),
  ];
  const text = lines.join('\n');
  const dir = fileURLToPath(new URL('../../test-results/', import.meta.url));
  mkdirSync(dir, { recursive: true });
  writeFileSync(`${dir}faults.md`, `${text}\n`);
  process.stdout.write(`${text}\n`);
}
