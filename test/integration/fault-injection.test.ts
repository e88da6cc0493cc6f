import { randomBytes } from 'node:crypto';
import { mkdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiClient } from '../../src/cli/api-client.js';
import { startAgent, startControl, tempDir, type AgentHandle, type ControlHandle } from '../helpers/cluster.js';
import { events, getTask, partialFiles, submitTransfer, treeDigest, waitForTask, type TaskDoc } from '../helpers/tasks.js';
import { TcpProxy } from '../helpers/tcp-proxy.js';
import { freePort } from '../helpers/net.js';
import { recordFaults, type FaultRow } from '../helpers/fault-report.js';
import { seededRandom } from '../helpers/seeded-random.js';

/**
 * Issue 4's fault-injection suite: repeated SIGKILLs of either agent at random moments, data
 * connections cut by a proxy the test controls, a graceful SIGTERM. Every task must end
 * SUCCEEDED with the destination equal to the source byte for byte and no partial file left;
 * restart markers must keep what each fault re-sends within the data in flight.
 *
 * The destination's data connections go through the proxy (its agent advertises the proxy's
 * port), and it flushes its partials every MiB, so markers are fine-grained.
 */

const MiB = 1024 * 1024;
const FLUSH_MIB = 1;
const KILLS = 22;
/** Each kill costs an agent restart (~0.5-1 s) plus a retry; on a loaded 2-core machine 22 of them take minutes. */
const SEED = Number(process.env['FERRY_FAULT_SEED'] ?? Date.now() % 1_000_000);

describe('fault injection: nothing lost, nothing corrupted', () => {
  const dir = tempDir();
  const srcRoot = join(dir.path, 'src');
  const dstRoot = join(dir.path, 'dst');
  const random = seededRandom(SEED);
  const rows: FaultRow[] = [];
  let treeBytes = 0;
  let control: ControlHandle;
  let controlConfig: string;
  let token: string;
  let client: ApiClient;
  let src: AgentHandle;
  let dst: AgentHandle;
  let proxy: TcpProxy;

  beforeAll(async () => {
    const data = join(srcRoot, 'tree');
    mkdirSync(join(data, 'big'), { recursive: true });
    mkdirSync(join(data, 'medium'), { recursive: true });
    mkdirSync(join(data, 'small', 'deeper'), { recursive: true });
    const write = (path: string, bytes: number) => { writeFileSync(path, randomBytes(bytes)); treeBytes += bytes; };
    for (let i = 0; i < 6; i++) write(join(data, 'big', `big-${i}.bin`), 12 * MiB + i * 4099);
    for (let i = 0; i < 40; i++) write(join(data, 'medium', `m-${i}.bin`), 300 * 1024 + i);
    for (let i = 0; i < 150; i++) write(join(data, 'small', i % 3 === 0 ? 'deeper' : '', `s-${i}.txt`), 1 + (i * 97) % 8192);
    mkdirSync(dstRoot);
    const cfg = join(dir.path, 'control.json');
    writeFileSync(cfg, JSON.stringify({ version: 1, dataDir: join(dir.path, 'control'), tasks: { retryInitialMs: 100, retryMaxMs: 500, tickMs: 100 } }));
    controlConfig = cfg;
    control = await startControl(join(dir.path, 'control'), ['--config', cfg, '--listen', '127.0.0.1:0']);
    ({ client, token } = await control.user('faults@example.org'));
    const dataPort = await freePort();
    proxy = new TcpProxy(dataPort);
    await proxy.open();
    src = await startAgent(client, join(dir.path, 'agent-src'), [`${srcRoot}:rw`], 'faults source', { dataListen: { enabled: false } });
    dst = await startAgent(client, join(dir.path, 'agent-dst'), [`${dstRoot}:rw`], 'faults destination', {
      dataPortRange: [dataPort, dataPort],
      dataListen: { enabled: true, host: '127.0.0.1', advertisePort: proxy.port },
      transfer: { flushMiB: FLUSH_MIB },
    });
  });

  afterAll(async () => {
    await recordFaults(rows, { seed: SEED, treeBytes });
    await src?.stop();
    await dst?.stop();
    await proxy?.close();
    await control?.stop();
    dir.cleanup();
  });

  const submit = (dest: string) => submitTransfer(client, {
    source_endpoint: src.endpointId, destination_endpoint: dst.endpointId, parallelism: 2, verify_checksum: true,
    DATA: [{ DATA_TYPE: 'transfer_item', source_path: '/~/tree/', destination_path: `/~/${dest}/`, recursive: true }],
  });

  /** Fail with what the task, its events and the processes' warnings say (a hang must explain itself). */
  async function stuck(taskId: string, what: string): Promise<never> {
    const t = await getTask(client, taskId);
    const ev = (await events(client, taskId)).slice(0, 15).map((e) => `${e.code} ${e.details.slice(0, 300)}`);
    const tail = (s: string) => s.split('\n').filter((l) => !l.startsWith('{') || /"level":(40|50|60)/.test(l)).slice(-40).join('\n');
    throw new Error(`task ${taskId} still ${t.status} (${t.nice_status}) ${what}\nevents:\n${ev.join('\n')}\nsrc:\n${tail(src.proc.stderr())}\ndst:\n${tail(dst.proc.stderr())}\ncontrol:\n${tail(control.proc.stderr())}`);
  }

  /** The task ended SUCCEEDED, the destination equals the source, and nothing partial is left. */
  async function expectIntact(taskId: string, dest: string): Promise<TaskDoc> {
    const task = await Promise.race([waitForTask(client, taskId), pause(90_000).then(() => stuck(taskId, 'after 90 s'))]);
    expect(task.status, JSON.stringify(task.fatal_error)).toBe('SUCCEEDED');
    expect(await treeDigest(join(dstRoot, dest))).toEqual(await treeDigest(join(srcRoot, 'tree')));
    expect(partialFiles(join(dstRoot, dest))).toEqual([]);
    return task;
  }

  const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

  it(`survives ${KILLS} SIGKILLs of either agent at random moments (seed ${SEED})`, async () => {
    let kills = 0;
    let round = 0;
    while (kills < KILLS) {
      const dest = `kill-${round++}`;
      const wireBefore = proxy.bytesUp;
      const taskId = await submit(dest);
      let killsHere = 0;
      const victims: string[] = [];
      for (;;) {
        // A random moment: anywhere from just after the (re)start to well into the transfer.
        await pause(Math.floor(random() * 600));
        const t = await getTask(client, taskId);
        if (t.status !== 'ACTIVE' || kills >= KILLS) break;
        const victim = random() < 0.5 ? 'source' : 'destination';
        const agent = victim === 'source' ? src : dst;
        await agent.proc.stop('SIGKILL');
        await agent.start();
        kills += 1;
        killsHere += 1;
        victims.push(victim);
      }
      const task = await expectIntact(taskId, dest);
      const v = (who: string) => victims.filter((x) => x === who).length;
      rows.push({ fault: `SIGKILL x${killsHere} (source ${v('source')}, destination ${v('destination')})`, task: taskId, faults: task.faults, bytesTree: treeBytes, bytesSent: proxy.bytesUp - wireBefore, verified: 'byte-identical, no partials' });
    }
    expect(kills).toBeGreaterThanOrEqual(KILLS);
    const sent = rows.reduce((n, r) => n + Math.max(0, r.bytesSent - r.bytesTree), 0);
    // What a kill can lose: per file in flight, the bytes since its last flush (FLUSH_MIB),
    // plus what was queued in sockets and memory; without markers it would be everything sent so far.
    const perKill = sent / kills;
    expect(perKill).toBeLessThan(48 * MiB);
  }, 240_000);

  it('survives data connections cut by a proxy mid-transfer', async () => {
    const wireBefore = proxy.bytesUp;
    const taskId = await submit('cuts');
    let cuts = 0;
    // Cuts after which bytes crossed the proxy again (at least a new attempt's handshake): the cut
    // broke a live attempt, so a retry was made (a cut that lands after the last byte, as the
    // session finishes, breaks nothing and needs no retry).
    let followedByData = 0;
    let atLastCut = -1;
    for (let k = 0; k < 5; k++) {
      // Wait for data to flow again (a new attempt), then cut at a random moment.
      const seen = proxy.bytesUp;
      for (let waited = 0; ; waited += 5) {
        const t = await getTask(client, taskId);
        if (t.status !== 'ACTIVE' || proxy.bytesUp > seen) break;
        if (waited > 20_000) await stuck(taskId, `with no data through the proxy for 20 s after cut ${cuts}`);
        await pause(5);
      }
      if (atLastCut >= 0 && proxy.bytesUp > atLastCut) followedByData += 1;
      atLastCut = -1;
      await pause(Math.floor(random() * 300));
      if ((await getTask(client, taskId)).status !== 'ACTIVE') break;
      proxy.cutAll();
      atLastCut = proxy.bytesUp;
      cuts += 1;
    }
    const task = await expectIntact(taskId, 'cuts');
    if (atLastCut >= 0 && proxy.bytesUp > atLastCut) followedByData += 1;
    // A cut mid-data breaks the session's streams (CONNECTION_BROKEN); one that lands while a new
    // attempt is still connecting fails its handshake (CONNECT_FAILED).
    // CONNECT_FAILED also stands for refusals (a rejected certificate, an unknown session): only
    // one whose details name the proxy's reset counts.
    const all = await events(client, taskId);
    const byCut = all.filter((e) => ['CONNECTION_BROKEN', 'CONNECTION_RESET', 'TIMEOUT'].includes(e.code) || (e.code === 'CONNECT_FAILED' && /ECONNRESET|EPIPE/.test(e.details)));
    if (followedByData > 0) expect(byCut, `events: ${all.map((e) => `${e.code} ${e.details.slice(0, 160)}`).join('\n')}`).not.toHaveLength(0);
    rows.push({ fault: `connection cut x${cuts}`, task: taskId, faults: task.faults, bytesTree: treeBytes, bytesSent: proxy.bytesUp - wireBefore, verified: 'byte-identical, no partials' });
    expect(cuts).toBeGreaterThan(0);
  }, 120_000);

  it('continues across a control restart mid-task, from the restart markers', async () => {
    const wireBefore = proxy.bytesUp;
    const taskId = await submit('control-restart');
    while (proxy.bytesUp - wireBefore < treeBytes / 3) await pause(2);
    const port = new URL(control.url).port;
    await control.stop();
    control = await startControl(control.dataDir, ['--config', controlConfig, '--listen', `127.0.0.1:${port}`]);
    client = new ApiClient({ url: control.url, token, ca: control.caPem });
    const task = await expectIntact(taskId, 'control-restart');
    rows.push({ fault: 'control restart', task: taskId, faults: task.faults, bytesTree: treeBytes, bytesSent: proxy.bytesUp - wireBefore, verified: 'byte-identical, no partials' });
  }, 120_000);

  it('SIGHUP on both agents mid-transfer reloads their config without dropping the session', async () => {
    const wireBefore = proxy.bytesUp;
    const taskId = await submit('sighup');
    while (proxy.bytesUp - wireBefore < treeBytes / 4) await pause(2);
    const reloads = [src, dst].map((a) => a.proc.waitForLog(/"msg":"config reloaded"/));
    src.proc.proc.kill('SIGHUP');
    dst.proc.proc.kill('SIGHUP');
    await Promise.all(reloads);
    const task = await expectIntact(taskId, 'sighup');
    expect(task.faults).toBe(0);
    rows.push({ fault: 'SIGHUP (both agents)', task: taskId, faults: task.faults, bytesTree: treeBytes, bytesSent: proxy.bytesUp - wireBefore, verified: 'byte-identical, no partials' });
  });

  it('SIGTERM on the destination checkpoints: the task waits for it and resumes from its markers', async () => {
    const wireBefore = proxy.bytesUp;
    const taskId = await submit('sigterm');
    // A quarter of the way through (the proxy sees the bytes as they go; task progress lags by up to a second),
    // and a large file's partial past its first flush (flushMiB 1), so there is something to resume from.
    const writing = (): boolean => {
      try {
        return partialFiles(join(dstRoot, 'sigterm')).some((p) => statSync(p).size > 2 * 1024 * 1024);
      } catch {
        return false;
      }
    };
    while (proxy.bytesUp - wireBefore < treeBytes / 4 || !writing()) {
      if (proxy.bytesUp - wireBefore >= treeBytes) break;
      await pause(2);
    }
    // Hold the data still from here: without it the large file can finish between the look and the
    // signal, and with nothing partial left there is nothing to resume from (seen once under load).
    proxy.hold();
    const before = (await getTask(client, taskId)).status;
    const exit = await Promise.race([dst.proc.stop('SIGTERM'), pause(15_000).then(() => {
      throw new Error(`the agent did not exit within 15 s of SIGTERM\n${dst.proc.stderr().split('\n').slice(-12).join('\n')}`);
    })]).finally(() => proxy.release());
    expect(exit.code).toBe(0);
    if (before === 'ACTIVE') {
      // While the agent is away the task stays ACTIVE and says why.
      let t = await getTask(client, taskId);
      // The source's report, a retry's backoff and control's tick come first: on a loaded machine
      // they can take more than a few seconds, so the deadline is generous.
      const deadline = Date.now() + 30_000;
      while (t.status === 'ACTIVE' && t.nice_status !== 'GC_NOT_CONNECTED') {
        if (Date.now() > deadline) await stuck(taskId, `still ${t.nice_status} 30 s after the destination agent stopped`);
        await pause(50);
        t = await getTask(client, taskId);
      }
      if (t.status === 'ACTIVE') {
        const pause = await client.get<{ destination_pause_message: string | null; source_pause_message: string | null }>(`/v0.10/task/${taskId}/pause_info`);
        expect(pause.destination_pause_message).toMatch(/no connected agent/);
        expect(pause.source_pause_message).toBeNull();
      }
    }
    await dst.start();
    const task = await expectIntact(taskId, 'sigterm');
    const all = await events(client, taskId);
    const resumed = all.filter((e) => e.code === 'RESUMED');
    if (before === 'ACTIVE') expect(resumed.length, all.map((e) => `${e.code} ${e.details.slice(0, 200)}`).join('\n')).toBeGreaterThan(0);
    rows.push({ fault: 'SIGTERM (destination)', task: taskId, faults: task.faults, bytesTree: treeBytes, bytesSent: proxy.bytesUp - wireBefore, verified: 'byte-identical, no partials' });
  }, 120_000);
});
