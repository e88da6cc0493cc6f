import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ApiClient } from '../../src/cli/api-client.js';
import { hostCongestion } from '../../src/fs/index.js';
import { nativeRawFsUnavailableReason } from '../../src/fs/load.js';
import { expectedCongestion } from '../../src/transfer/channel/index.js';
import { startAgent, startControl, tempDir, type AgentHandle, type ControlHandle } from '../helpers/cluster.js';
import { events, partialFiles, submitTransfer, waitForTask } from '../helpers/tasks.js';

/**
 * Spare data streams with real agents: a source agent pinned to cubic (what a host without bbr,
 * or an agent that may not choose it, sends with) says so in its hello; control then has both
 * agents connect 16 data streams for a task that left parallelism to Ferry, and the source starts
 * with 4. Over loopback nothing is lost, so the spare streams stay idle and the task document
 * says 4. A task that names its parallelism keeps it exactly, and a bbr source gets no spares.
 * (Growth itself, on a lossy path, is shown by test/unit/transfer/stream-growth.test.ts and
 * measured by the bench's case d.)
 */
const host = hostCongestion();
const isRoot = process.getuid?.() === 0;
const mayPinCubic = host.available.includes('cubic') && (isRoot || host.allowed.includes('cubic'));
const reason = nativeRawFsUnavailableReason() ?? (mayPinCubic ? undefined : 'this process may not choose cubic');

/** The agent's "data streams connected" log line of a task. */
function connectedLine(agent: AgentHandle, taskId: string): { streams: number; congestion: string | null } {
  const line = agent.proc.stderr().split('\n').find((l) => l.includes(taskId) && l.includes('data streams connected'));
  if (line === undefined) throw new Error(`no "data streams connected" line for task ${taskId}`);
  return JSON.parse(line) as { streams: number; congestion: string | null };
}

describe.skipIf(reason !== undefined)('spare data streams on a loss-based source', () => {
  const dir = tempDir();
  const srcRoot = join(dir.path, 'src');
  const dstRoot = join(dir.path, 'dst');
  const content = randomBytes(12 * 1024 * 1024 + 99);
  let control: ControlHandle;
  let client: ApiClient;
  let cubic: AgentHandle;
  let bbrSource: AgentHandle;
  let dst: AgentHandle;

  beforeAll(async () => {
    mkdirSync(srcRoot);
    mkdirSync(dstRoot);
    writeFileSync(join(srcRoot, 'big.bin'), content);
    control = await startControl(join(dir.path, 'control'));
    ({ client } = await control.user('spare@example.org'));
    cubic = await startAgent(client, join(dir.path, 'agent-cubic'), [`${srcRoot}:rw`], 'cubic source', { transfer: { congestionControl: 'cubic' } });
    bbrSource = await startAgent(client, join(dir.path, 'agent-auto'), [`${srcRoot}:rw`], 'auto source');
    dst = await startAgent(client, join(dir.path, 'agent-dst'), [`${dstRoot}:rw`], 'destination');
  });
  afterAll(async () => {
    for (const a of [cubic, bbrSource, dst]) await a?.stop();
    await control?.stop();
    dir.cleanup();
  });

  const copy = async (source: AgentHandle, dest: string, extra: Record<string, unknown> = {}) => {
    const id = await submitTransfer(client, {
      source_endpoint: source.endpointId, destination_endpoint: dst.endpointId, ...extra,
      DATA: [{ DATA_TYPE: 'transfer_item', source_path: '/~/big.bin', destination_path: `/~/${dest}` }],
    });
    const task = await waitForTask(client, id);
    expect(task.status).toBe('SUCCEEDED');
    expect(readFileSync(join(dstRoot, dest)).equals(content)).toBe(true);
    return { id, task };
  };

  it('parallelism left to Ferry: 16 data streams connected on both sides, 4 at work without loss', async () => {
    const { id, task } = await copy(cubic, 'default.bin');
    expect(connectedLine(cubic, id)).toMatchObject({ streams: 17, congestion: 'cubic' });
    expect(connectedLine(dst, id)).toMatchObject({ streams: 17 });
    expect(task['parallelism']).toBe(4);
    expect((await events(client, id)).map((e) => e.code)).not.toContain('STREAMS_ADDED');
    expect(partialFiles(dstRoot)).toEqual([]);
  });

  it('a parallelism asked for is kept exactly (Globus perf_p too)', async () => {
    const asked = await copy(cubic, 'asked.bin', { parallelism: 2 });
    expect(connectedLine(cubic, asked.id).streams).toBe(3);
    expect(asked.task['parallelism']).toBe(2);
    const perf = await copy(cubic, 'perf.bin', { perf_p: 6 });
    expect(connectedLine(dst, perf.id).streams).toBe(7);
    expect(perf.task['parallelism']).toBe(6);
  });

  it.skipIf(expectedCongestion('auto') !== 'bbr')('a source that sends with bbr gets no spare streams', async () => {
    const { id, task } = await copy(bbrSource, 'bbr.bin');
    expect(connectedLine(bbrSource, id)).toMatchObject({ streams: 5, congestion: 'bbr' });
    expect(task['parallelism']).toBe(4);
  });

  it('a reload (SIGHUP) that pins cubic reaches control at once: the next task gets spare streams, on the same link', async () => {
    const cfgFile = join(bbrSource.dataDir, 'agent.json');
    const cfg = JSON.parse(readFileSync(cfgFile, 'utf8')) as Record<string, unknown> & { transfer?: Record<string, unknown> };
    const linksBefore = bbrSource.proc.stderr().split('connected to control').length;
    // The only reload in this file: control's first such line is this one.
    expect(control.proc.stderr()).not.toContain('agent updated its hello');
    writeFileSync(cfgFile, JSON.stringify({ ...cfg, transfer: { ...cfg.transfer, congestionControl: 'cubic' } }, null, 2));
    bbrSource.proc.proc.kill('SIGHUP');
    expect(await control.proc.waitForLog(/agent updated its hello/)).toContain('congestion:cubic');
    const { id, task } = await copy(bbrSource, 'reloaded.bin');
    expect(connectedLine(bbrSource, id)).toMatchObject({ streams: 17, congestion: 'cubic' });
    expect(task['parallelism']).toBe(4);
    expect(bbrSource.proc.stderr().split('connected to control').length).toBe(linksBefore);
  });
});
