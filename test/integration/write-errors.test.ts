import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { ApiClient } from '../../src/cli/api-client.js';
import { startAgent, tempDir, type AgentHandle, type ControlHandle } from '../helpers/cluster.js';
import { startFastControl } from '../helpers/containment.js';
import { events, getTask, partialFiles, submitTransfer, waitForTask } from '../helpers/tasks.js';

/**
 * Write errors are never lost (Linux reports a write-back error to one fsync only: a file whose
 * flush failed once must never be committed on the strength of a later, successful one). The
 * destination agent runs with FERRY_TEST_FAULTS, the fs layer's seam that fails the chosen
 * calls on partial files only (write, fdatasync, fsync and close, on the paths the agent really
 * uses: a chunked file's FileHandle writes and close, the I/O worker's writes, closes and fsyncs).
 * Issue "Agent containment and durability", point 4.
 */
const MiB = 1024 * 1024;
/** The source's chunk size (tuning.chunkSize): one write of the partial per chunk. */
const CHUNK = 4 * MiB;
/** Six chunks and a short tail. */
const SIZE = 6 * CHUNK + 77;

describe('write errors on the destination', () => {
  // One control (quick task retries) and one source agent for the file; each test starts its
  // own destination agent, since FERRY_TEST_FAULTS is read when the agent starts.
  const dir = tempDir();
  let control: ControlHandle;
  let client: ApiClient;
  let src: AgentHandle;
  const srcRoot = join(dir.path, 'src');
  let dst: AgentHandle | undefined;
  let round = 0;
  beforeAll(async () => {
    mkdirSync(srcRoot);
    control = await startFastControl(dir.path);
    ({ client } = await control.user('werr@example.org'));
    src = await startAgent(client, join(dir.path, 'agent-src'), [`${srcRoot}:rw`], 'source endpoint');
  }, 120_000);
  afterEach(async () => {
    await dst?.stop();
    dst = undefined;
  });
  afterAll(async () => {
    await src?.stop();
    await control?.stop();
    dir.cleanup();
  });

  type Pair = { client: ApiClient; src: AgentHandle; dst: AgentHandle };

  async function start(faults: string): Promise<{ srcRoot: string; dstRoot: string; pair: Pair }> {
    round += 1;
    const dstRoot = join(dir.path, `dst-${round}`);
    mkdirSync(dstRoot);
    // Flush as you go every MiB, so a large file's partial is fdatasync'ed while it arrives.
    dst = await startAgent(client, join(dir.path, `agent-dst-${round}`), [`${dstRoot}:rw`], `destination endpoint ${round}`, { transfer: { flushMiB: 1 } }, { env: { FERRY_TEST_FAULTS: faults } });
    return { srcRoot, dstRoot, pair: { client, src, dst } };
  }

  /** The RESUMED event of the retry: what the failed attempt left durable and what was sent again. */
  interface Resumed { bytes_kept: number; bytes_resent: number; blocks_rejected: number; destination_path: string }

  /**
   * One failure of `call` on the chunked file's partial, after `after` such calls passed: the
   * file fails (an error event names the errno and the file), it is not committed (the retry
   * resumes from its partial: a committed file would be recorded done and not resumed), the
   * retry keeps what flushes made durable before the error and sends only the rest, and the
   * task ends with the source's bytes in place and no partial left.
   */
  const retryCases: Array<{ call: 'write' | 'fdatasync' | 'close'; spec: string; why: string; keptAtLeast: number; keptAtMost: number; resentAtLeast: number }> = [
    // Chunks are 4 MiB and written one at a time; each write past flushMiB (1) starts a flush.
    // The 4th write fails: the flush the 1st write started was under way before it (writes to
    // one file are serialised), so at least that chunk is durable; at most the 3 written are.
    { call: 'write', spec: 'write:EIO:1:3', why: 'the 4th chunk write', keptAtLeast: CHUNK, keptAtMost: 3 * CHUNK, resentAtLeast: 3 * CHUNK },
    // The first flush (the first chunk, plus the 77-byte tail if that came first) passes, the
    // second fails: its ranges are not recorded, so they are sent again.
    { call: 'fdatasync', spec: 'fdatasync:EIO:1:1', why: 'the 2nd fdatasync', keptAtLeast: CHUNK, keptAtMost: 2 * CHUNK + 77, resentAtLeast: CHUNK },
    // All chunks were written (and flushed as they came) when the close before the commit
    // fails: whatever the flushes recorded stays, the unflushed rest (possibly nothing) is re-sent.
    { call: 'close', spec: 'close:EIO:1', why: 'the close before the commit', keptAtLeast: CHUNK, keptAtMost: SIZE, resentAtLeast: 0 },
  ];

  for (const c of retryCases) {
    it(`fails the file on a failed ${c.call} (${c.why}), never commits it, says so, and re-sends only the rest on the retry`, async () => {
      const { srcRoot, dstRoot, pair: p } = await start(c.spec);
      const data = randomBytes(SIZE);
      writeFileSync(join(srcRoot, `big-${c.call}.bin`), data);
      const id = await submitTransfer(p.client, {
        source_endpoint: p.src.endpointId, destination_endpoint: p.dst.endpointId, verify_checksum: true,
        DATA: [{ DATA_TYPE: 'transfer_item', source_path: `/~/big-${c.call}.bin`, destination_path: '/~/big.bin' }],
      });
      const task = await waitForTask(p.client, id);
      const list = await events(p.client, id);
      const shown = list.map((e) => `${e.code}${e.is_error ? ' (error)' : ''}: ${e.details.slice(0, 300)}`).join('\n');
      expect(task.status, shown).toBe('SUCCEEDED');
      expect(readFileSync(join(dstRoot, 'big.bin')).equals(data)).toBe(true);
      // The failed attempt is in the event list with the error named.
      expect(list.some((e) => e.is_error && /EIO/.test(e.details) && e.details.includes('/~/big.bin')), shown).toBe(true);
      // The retry resumed from the partial the failed attempt kept (so that attempt did not commit it) ...
      const resumed = list.filter((e) => e.code === 'RESUMED').map((e) => JSON.parse(e.details) as Resumed).filter((r) => r.destination_path === '/~/big.bin');
      expect(resumed, shown).toHaveLength(1);
      const r = resumed[0]!;
      // ... kept what was made durable before the error, and sent only the rest.
      expect(r.blocks_rejected, shown).toBe(0);
      expect(r.bytes_kept + r.bytes_resent, shown).toBe(SIZE);
      expect(r.bytes_kept, shown).toBeGreaterThanOrEqual(c.keptAtLeast);
      expect(r.bytes_kept, shown).toBeLessThanOrEqual(c.keptAtMost);
      expect(r.bytes_resent, shown).toBeGreaterThanOrEqual(c.resentAtLeast);
      expect(partialFiles(dstRoot)).toEqual([]);
    }, 60_000);
  }

  type EventList = Array<{ is_error: boolean; details: string }>;

  /** Whether an error event names EIO (and `path`, when given). */
  const eio = (list: EventList, path = ''): boolean => list.some((e) => e.is_error && /EIO/.test(e.details) && e.details.includes(path));

  /**
   * Poll the events until `seen` holds, the task never succeeding meanwhile, then cancel the
   * task: with a fault that fails every attempt, it would retry until its deadline.
   */
  async function cancelOnceSeen(p: Pair, id: string, seen: (list: EventList) => boolean): Promise<void> {
    for (;;) {
      const list = await events(p.client, id);
      if (seen(list)) break;
      const t = await getTask(p.client, id);
      expect(t.status).not.toBe('SUCCEEDED');
      await new Promise((r) => setTimeout(r, 100));
    }
    await p.client.post(`/v0.10/task/${id}/cancel`);
  }

  /**
   * A small file (written and closed by the I/O worker) and a 3 MiB one (chunked) sent under
   * `faults` with `call` failing every time: once `seen` holds the task is stopped, and neither
   * file may have been committed.
   */
  async function expectNeitherCommitted(faults: string, call: string, smallText: string, seen: (list: EventList) => boolean): Promise<void> {
    const { srcRoot, dstRoot, pair: p } = await start(faults);
    writeFileSync(join(srcRoot, `small-${call}.txt`), smallText);
    writeFileSync(join(srcRoot, `big-${call}.bin`), randomBytes(3 * MiB));
    const id = await submitTransfer(p.client, {
      source_endpoint: p.src.endpointId, destination_endpoint: p.dst.endpointId,
      DATA: [
        { DATA_TYPE: 'transfer_item', source_path: `/~/small-${call}.txt`, destination_path: '/~/small.txt' },
        { DATA_TYPE: 'transfer_item', source_path: `/~/big-${call}.bin`, destination_path: '/~/big.bin' },
      ],
    });
    await cancelOnceSeen(p, id, seen);
    const task = await waitForTask(p.client, id);
    expect(task.status).not.toBe('SUCCEEDED');
    expect(existsSync(join(dstRoot, 'small.txt'))).toBe(false);
    expect(existsSync(join(dstRoot, 'big.bin'))).toBe(false);
  }

  it('never commits a small file whose write fails (the I/O worker writes it at commit)', async () => {
    const { srcRoot, dstRoot, pair: p } = await start('write:EIO');
    writeFileSync(join(srcRoot, 'small-write.txt'), 'small file, written by the I/O worker into its partial');
    const id = await submitTransfer(p.client, {
      source_endpoint: p.src.endpointId, destination_endpoint: p.dst.endpointId,
      DATA: [{ DATA_TYPE: 'transfer_item', source_path: '/~/small-write.txt', destination_path: '/~/small.txt' }],
    });
    await cancelOnceSeen(p, id, (list) => eio(list, '/~/small.txt'));
    expect((await waitForTask(p.client, id)).status).not.toBe('SUCCEEDED');
    expect(existsSync(join(dstRoot, 'small.txt'))).toBe(false);
  }, 60_000);

  it('never commits a file whose close keeps failing', async () => {
    // Both files fail (each attempt), each named with the error; then the task is stopped.
    await expectNeitherCommitted('close:EIO', 'close', 'small file, closed by the I/O worker before its rename',
      (list) => eio(list, '/~/small.txt') && eio(list, '/~/big.bin'));
  }, 60_000);

  it('never commits a file whose fsync keeps failing', async () => {
    // Wait for the failure to be reported, then stop the task (it would retry until its deadline).
    await expectNeitherCommitted('fsync:EIO', 'fsync', 'small file, committed by the I/O worker', (list) => eio(list));
  });
});
