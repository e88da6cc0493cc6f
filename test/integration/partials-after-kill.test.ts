import { randomBytes } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, watch, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAgent, startControl, tempDir, type AgentHandle, type ControlHandle } from '../helpers/cluster.js';
import { getTask, partialFiles, submitTransfer, treeDigest, waitForTask } from '../helpers/tasks.js';
import { TcpProxy } from '../helpers/tcp-proxy.js';
import { freePort } from '../helpers/net.js';
import type { ApiClient } from '../../src/cli/api-client.js';

/**
 * A destination agent SIGKILLed while a commit group of small files has created its partials
 * leaves them behind: they have random names, no restart marker (small files have none) and
 * the next attempt writes its own. Whatever removes them, the task may not report SUCCEEDED
 * with them still there (the fault-injection suite's "no partials" check, which failed once
 * with some sixty of them in small/).
 *
 * The moment is caught, not raced for: the test watches the destination directory, freezes
 * the agent (SIGSTOP) as soon as a partial appears, and kills it only if partials are still
 * there while it is frozen. The destination's control link goes through a proxy, so the test
 * can hold control's messages to the agent (task.cleanup among them) while the agent's own
 * still reach control: what the task reports then depends only on what the agent did before
 * it said its session was done.
 */

const FILES = 3000;

describe('partials of a killed destination attempt', () => {
  const dir = tempDir();
  const srcRoot = join(dir.path, 'src');
  const dstRoot = join(dir.path, 'dst');
  let control: ControlHandle;
  let client: ApiClient;
  let src: AgentHandle;
  let dst: AgentHandle;
  let dataProxy: TcpProxy;
  let linkProxy: TcpProxy;

  beforeAll(async () => {
    const small = join(srcRoot, 'tree', 'small');
    mkdirSync(small, { recursive: true });
    for (let i = 0; i < FILES; i++) writeFileSync(join(small, `s-${i}.txt`), randomBytes(1 + (i * 97) % 4096));
    mkdirSync(dstRoot);
    const cfg = join(dir.path, 'control.json');
    writeFileSync(cfg, JSON.stringify({ version: 1, dataDir: join(dir.path, 'control'), tasks: { retryInitialMs: 100, retryMaxMs: 500, tickMs: 100 } }));
    control = await startControl(join(dir.path, 'control'), ['--config', cfg, '--listen', '127.0.0.1:0']);
    ({ client } = await control.user('partials@example.org'));
    linkProxy = new TcpProxy(Number(new URL(control.url).port));
    await linkProxy.open();
    const dataPort = await freePort();
    dataProxy = new TcpProxy(dataPort);
    await dataProxy.open();
    src = await startAgent(client, join(dir.path, 'agent-src'), [`${srcRoot}:rw`], 'partials source', { dataListen: { enabled: false } });
    dst = await startAgent(client, join(dir.path, 'agent-dst'), [`${dstRoot}:rw`], 'partials destination', {
      controlUrl: `https://127.0.0.1:${linkProxy.port}`,
      dataPortRange: [dataPort, dataPort],
      dataListen: { enabled: true, host: '127.0.0.1', advertisePort: dataProxy.port },
    });
  });

  afterAll(async () => {
    linkProxy?.releaseReplies();
    dataProxy?.release();
    await src?.stop();
    await dst?.stop();
    await dataProxy?.close();
    await linkProxy?.close();
    await control?.stop();
    dir.cleanup();
  });

  const partialsIn = (d: string): string[] => readdirSync(d).filter((n) => n.startsWith('.ferry-part'));

  /**
   * SIGSTOP takes effect a moment after kill() returns (a thread inside a system call finishes
   * it first): wait until every thread of the process is in state T, so the listing that
   * follows is what a kill leaves.
   */
  function untilStopped(pid: number): void {
    const stopped = (): boolean => readdirSync(`/proc/${pid}/task`).every((tid) => {
      try {
        const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
        return /^\S+ \(.*\) [tT] /s.test(stat);
      } catch {
        return true; // the thread has exited
      }
    });
    while (!stopped()) { /* spin: only a few scheduler ticks */ }
  }

  /** Each case starts from a running destination agent, whatever the case before left. */
  async function destinationRunning(): Promise<void> {
    const proc = dst.proc.proc;
    if (proc.exitCode !== null || proc.signalCode !== null) await dst.start();
  }

  /**
   * Freeze the destination agent the moment a partial shows up in `watched` and kill it if
   * partials are there while it is frozen (else let it go on and wait for the next one).
   * Resolves with the partials the killed agent left; rejects if the task ends first.
   */
  async function killWithPartials(taskId: string, watched: string): Promise<string[]> {
    const pid = dst.proc.proc.pid!;
    let caught: string[] = [];
    const frozen = new Promise<void>((resolve) => {
      const watcher = watch(watched, (_event, name) => {
        if (caught.length > 0 || !name?.startsWith('.ferry-part')) return;
        process.kill(pid, 'SIGSTOP');
        untilStopped(pid);
        const now = partialsIn(watched);
        if (now.length === 0) {
          process.kill(pid, 'SIGCONT');
          return;
        }
        caught = now;
        watcher.close();
        resolve();
      });
    });
    const ended = (async () => {
      for (;;) {
        const t = await getTask(client, taskId);
        if (caught.length > 0) return;
        if (t.status !== 'ACTIVE') throw new Error(`task ${taskId} ended ${t.status} before a commit group could be caught with its partials`);
        await new Promise((r) => setTimeout(r, 100));
      }
    })();
    await Promise.race([frozen, ended]);
    await dst.proc.stop('SIGKILL');
    return caught;
  }

  it('the task reports SUCCEEDED only once the partials a killed attempt left are gone', async () => {
    await destinationRunning();
    const dest = join(dstRoot, 'run');
    mkdirSync(join(dest, 'small'), { recursive: true });
    const taskId = await submitTransfer(client, {
      source_endpoint: src.endpointId, destination_endpoint: dst.endpointId, verify_checksum: true,
      DATA: [{ DATA_TYPE: 'transfer_item', source_path: '/~/tree/', destination_path: '/~/run/', recursive: true }],
    });
    const left = await killWithPartials(taskId, join(dest, 'small'));
    expect(left.length).toBeGreaterThan(0);
    expect(partialsIn(join(dest, 'small'))).toEqual(left);

    // The next attempt: opened on the restarted agent while no data can flow yet, then control's
    // messages to the agent are held (task.cleanup would otherwise race the check below).
    dataProxy.hold();
    await dst.start();
    await dst.proc.waitForLog(/"msg":"session opened"/);
    linkProxy.holdReplies();
    dataProxy.release();
    try {
      const task = await waitForTask(client, taskId);
      expect(task.status, JSON.stringify(task.fatal_error)).toBe('SUCCEEDED');
      expect(partialFiles(dest)).toEqual([]);
      expect(await treeDigest(dest)).toEqual(await treeDigest(join(srcRoot, 'tree')));
    } finally {
      linkProxy.releaseReplies();
    }
  }, 120_000);

  it('a task that ends while its destination agent is away has its partials removed once the agent is back', async () => {
    await destinationRunning();
    const dest = join(dstRoot, 'canceled');
    mkdirSync(join(dest, 'small'), { recursive: true });
    const taskId = await submitTransfer(client, {
      source_endpoint: src.endpointId, destination_endpoint: dst.endpointId, verify_checksum: true,
      DATA: [{ DATA_TYPE: 'transfer_item', source_path: '/~/tree/', destination_path: '/~/canceled/', recursive: true }],
    });
    const left = await killWithPartials(taskId, join(dest, 'small'));
    expect(left.length).toBeGreaterThan(0);
    await client.post(`/v0.10/task/${taskId}/cancel`);
    expect((await waitForTask(client, taskId)).status).toBe('FAILED');
    // Control could not tell the agent the task ended; it must when the agent is back.
    await dst.start();
    await dst.proc.waitForLog(new RegExp(`"taskId":"${taskId}".*"msg":"removed partial files of an ended task"`));
    expect(partialFiles(dest)).toEqual([]);
  }, 120_000);
});
