import { existsSync, mkdirSync, readdirSync, renameSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FerryProcess } from '../helpers/process.js';
import { startAgent, startControl, tempDir, type AgentHandle, type ControlHandle } from '../helpers/cluster.js';
import { events, partialFiles, partialsLeft, submitTransfer, treeDigest, waitForTask } from '../helpers/tasks.js';
import { person, refusal, type Person } from '../helpers/sharing.js';
import { TcpProxy } from '../helpers/tcp-proxy.js';
import { freePort } from '../helpers/net.js';

/**
 * Issue 12, what the other sharing suites leave out: rules that differ per sub-directory met by
 * recursive transfers (both ways), a rule deleted during an upload INTO a share (nothing is
 * committed after the agent acknowledged the deletion), the agent's link to control cut and
 * re-established without a restart while rules change, the `in-use` search scope, a grantee's
 * delete task, and a collection whose directory is removed or replaced on the host.
 */

type Json = Record<string, unknown>;

/** Parsed pino lines of a process's stderr whose msg is `msg`. */
function logLines(proc: FerryProcess, msg: string): Json[] {
  return proc.stderr().split('\n').filter((l) => l.includes(`"msg":"${msg}"`)).map((l) => JSON.parse(l) as Json);
}

/** Poll `probe` until it returns a value (bounded by the test's timeout; nothing is asserted about time). */
async function until<T>(probe: () => T | undefined | Promise<T | undefined>): Promise<T> {
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Names of the regular files (not hidden partials) under `dir`, relative, sorted. */
function landed(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((d) => d.isFile() && !d.name.startsWith('.'))
    .map((d) => join(d.parentPath, d.name).slice(dir.length + 1))
    .sort();
}

describe('sharing: per-directory rules in recursion, revocation during an upload, a cut link, in-use, lost roots', () => {
  const dir = tempDir('ferry-sharing-rec-');
  const hostRoot = join(dir.path, 'host');
  const shareDir = join(hostRoot, 'share');
  const aliceRoot = join(dir.path, 'alice');
  let control: ControlHandle;
  let olivia: Person;
  let alice: Person;
  let host: AgentHandle;
  let aliceEp: AgentHandle;
  /** Between the host agent and its data listener: holds an upload into the share still. */
  let dataProxy: TcpProxy;
  /** Between the host agent and control: the link the test cuts. */
  let linkProxy: TcpProxy;
  let share: string;
  const ruleIds = new Map<string, string>();

  const rule = async (name: string, body: Json) => {
    const made = await olivia.client.post<{ access_id: string }>(`/v0.10/endpoint/${share}/access`, { body: { DATA_TYPE: 'access', principal_type: 'identity', principal: alice.identityId, ...body } });
    ruleIds.set(name, made.access_id);
  };
  const ls = (who: Person, path: string) => who.client.ls(share, { path });
  const download = (items: Array<[string, string]>, extra: Json = {}) => submitTransfer(alice.client, {
    source_endpoint: share, destination_endpoint: aliceEp.endpointId, ...extra,
    DATA: items.map(([source_path, destination_path]) => ({ DATA_TYPE: 'transfer_item', source_path, destination_path, recursive: true })),
  });
  const upload = (source_path: string, destination_path: string, extra: Json = {}) => submitTransfer(alice.client, {
    source_endpoint: aliceEp.endpointId, destination_endpoint: share, ...extra,
    DATA: [{ DATA_TYPE: 'transfer_item', source_path, destination_path, recursive: true }],
  });
  const skipped = async (task: string) => (await alice.client.get<{ DATA: Array<{ error_code: string; source_path: string; is_directory: boolean }> }>(`/v0.10/task/${task}/skipped_errors`)).DATA;
  const searchIds = async (who: Person, scope: string) => (await who.client.get<{ DATA: Array<{ id: string }> }>('/v0.10/endpoint_search', { query: { filter_scope: scope, limit: 100 } })).DATA.map((e) => e.id);

  beforeAll(async () => {
    for (const d of ['a/deep', 'b', 'c', 'incoming/old', 'drop']) mkdirSync(join(shareDir, d), { recursive: true });
    writeFileSync(join(shareDir, 'top.txt'), 'top');
    writeFileSync(join(shareDir, 'a', 'a1.txt'), 'a1');
    writeFileSync(join(shareDir, 'a', 'deep', 'a2.bin'), randomBytes(200_000));
    writeFileSync(join(shareDir, 'b', 'b1.txt'), 'b1 is not for alice');
    writeFileSync(join(shareDir, 'c', 'c1.txt'), 'c1');
    writeFileSync(join(shareDir, 'incoming', 'old', 'o.txt'), 'old');
    mkdirSync(join(hostRoot, 'sibling'));
    writeFileSync(join(hostRoot, 'sibling', 'not-shared.txt'), 'sibling');
    // alice's tree to upload into the share's '/': one part for /incoming/, the rest elsewhere.
    for (const d of ['up/incoming', 'up/other', 'many']) mkdirSync(join(aliceRoot, d), { recursive: true });
    writeFileSync(join(aliceRoot, 'up', 'top-up.txt'), 'top');
    writeFileSync(join(aliceRoot, 'up', 'incoming', 'i1.txt'), 'i1');
    writeFileSync(join(aliceRoot, 'up', 'other', 'o1.txt'), 'o1');
    for (let i = 0; i < 40; i++) writeFileSync(join(aliceRoot, 'many', `m-${String(i).padStart(2, '0')}.bin`), randomBytes(256 * 1024));
    writeFileSync(join(aliceRoot, 'big.bin'), randomBytes(64 * 1024 * 1024));

    control = await startControl(join(dir.path, 'control'));
    olivia = await person(control, 'olivia');
    alice = await person(control, 'alice');
    const dataPort = await freePort();
    dataProxy = new TcpProxy(dataPort);
    await dataProxy.open();
    linkProxy = new TcpProxy(Number(new URL(control.url).port));
    await linkProxy.open();
    host = await startAgent(olivia.client, join(dir.path, 'agent-host'), [`${hostRoot}:rw:share`], 'olivia storage', {
      controlUrl: `https://127.0.0.1:${linkProxy.port}`,
      reconnect: { initialDelayMs: 50, maxDelayMs: 200 },
      dataPortRange: [dataPort, dataPort],
      dataListen: { enabled: true, host: '127.0.0.1', advertisePort: dataProxy.port },
    });
    aliceEp = await startAgent(alice.client, join(dir.path, 'agent-alice'), [`${aliceRoot}:rw`], 'alice laptop');
    share = (await olivia.client.post<{ id: string }>('/v0.10/shared_endpoint', { body: { DATA_TYPE: 'shared_endpoint', host_endpoint: host.endpointId, host_path: '/~/share/', display_name: 'per-directory share' } })).id;
    await rule('a', { path: '/a/', permissions: 'r' });
    await rule('c', { path: '/c/', permissions: 'r' });
    await rule('incoming', { path: '/incoming/', permissions: 'rw' });
    await rule('drop', { path: '/drop/', permissions: 'rw' });
  }, 120_000);

  afterAll(async () => {
    for (const a of [host, aliceEp]) await a?.stop();
    await dataProxy?.close();
    await linkProxy?.close();
    await control?.stop();
    dir.cleanup();
  });

  it('a recursive download of a directory the guest may not read is refused whole: nothing of it is read', async () => {
    // r on /a/ and /c/ only: '/' itself is not readable, so it is not listed either (as Globus: no listing without a rule).
    expect(await refusal(ls(alice, '/'))).toMatchObject({ status: 403, code: 'EndpointPermissionDenied' });
    const failed = await waitForTask(alice.client, await download([['/', '/~/dl-root/']]));
    expect(failed).toMatchObject({ status: 'FAILED', fatal_error: { code: 'PERMISSION_DENIED' }, files_transferred: 0 });
    expect(existsSync(join(aliceRoot, 'dl-root'))).toBe(false);
    // Under skip_source_errors the item is skipped and listed: a success that says what it left out.
    const skippedRoot = await waitForTask(alice.client, await download([['/', '/~/dl-root-skip/']], { skip_source_errors: true }));
    expect(skippedRoot).toMatchObject({ status: 'SUCCEEDED', files_transferred: 0, subtasks_skipped_errors: 1 });
    expect(await skipped(skippedRoot.task_id)).toEqual([expect.objectContaining({ source_path: '/', error_code: 'PERMISSION_DENIED' })]);
    expect(landed(join(aliceRoot, 'dl-root-skip'))).toEqual([]);
  });

  it('sub-directories with different rules in one task: the readable ones arrive whole, the other is refused by name', async () => {
    // Rules only add: below a readable item everything is readable, so a walk never meets a directory it may not read;
    // what differs per sub-directory is decided where each item starts, and again before each file is read (checkRead).
    const t = await waitForTask(alice.client, await download([['/a/', '/~/dl/a/'], ['/b/', '/~/dl/b/'], ['/c/', '/~/dl/c/']], { skip_source_errors: true }));
    expect(t).toMatchObject({ status: 'SUCCEEDED', files_transferred: 3, subtasks_skipped_errors: 1 });
    expect(await skipped(t.task_id)).toEqual([expect.objectContaining({ source_path: '/b/', error_code: 'PERMISSION_DENIED' })]);
    expect(await treeDigest(join(aliceRoot, 'dl', 'a'))).toEqual(await treeDigest(join(shareDir, 'a')));
    expect(await treeDigest(join(aliceRoot, 'dl', 'c'))).toEqual(await treeDigest(join(shareDir, 'c')));
    expect(existsSync(join(aliceRoot, 'dl', 'b'))).toBe(false);
    // Without skip_source_errors the task fails at /b/ (first item): nothing at all is transferred.
    const strict = await waitForTask(alice.client, await download([['/b/', '/~/dl-strict/b/'], ['/a/', '/~/dl-strict/a/']]));
    expect(strict).toMatchObject({ status: 'FAILED', fatal_error: { code: 'PERMISSION_DENIED' }, files_transferred: 0 });
    expect(landed(join(aliceRoot, 'dl-strict'))).toEqual([]);
    expect((await events(alice.client, strict.task_id)).find((e) => e.code === 'PERMISSION_DENIED')?.details).toContain('/b');
  });

  it("a recursive upload into the share's '/' where only /incoming/ is rw writes nothing, inside /incoming/ or out", async () => {
    const before = await treeDigest(shareDir);
    // Writing into '/' writes '/' itself (its mode and times), which the guest may not: the item is refused before any file.
    const up = await waitForTask(alice.client, await upload('/~/up/', '/'));
    expect(up).toMatchObject({ status: 'FAILED', fatal_error: { code: 'PERMISSION_DENIED' }, files_transferred: 0 });
    const skipping = await waitForTask(alice.client, await upload('/~/up/', '/', { skip_source_errors: true }));
    // skip_source_errors skips source errors only (as Globus): a destination the guest may not write fails the task.
    expect(skipping).toMatchObject({ status: 'FAILED', fatal_error: { code: 'PERMISSION_DENIED' }, files_transferred: 0, subtasks_skipped_errors: 0 });
    expect((await events(alice.client, skipping.task_id)).find((e) => e.code === 'PERMISSION_DENIED')?.details).toContain('No access rule of this guest collection lets you write /');
    expect(await treeDigest(shareDir)).toEqual(before);
    // The same tree into /incoming/ lands whole.
    const ok = await waitForTask(alice.client, await upload('/~/up/', '/incoming/up/'));
    expect(ok.status).toBe('SUCCEEDED');
    expect(await treeDigest(join(shareDir, 'incoming', 'up'))).toEqual(await treeDigest(join(aliceRoot, 'up')));
  });

  it('a rule deleted during an upload into the share: no file is committed after the agent acknowledged the deletion', async () => {
    const target = join(shareDir, 'drop');
    // The data goes through the proxy a step at a time (below), from its first byte.
    dataProxy.hold();
    // Many small files, then a big one (still arriving when the rule goes: its commit is what the recheck stops).
    const task = await submitTransfer(alice.client, {
      source_endpoint: aliceEp.endpointId, destination_endpoint: share, DATA: [
        { DATA_TYPE: 'transfer_item', source_path: '/~/many/', destination_path: '/drop/many/', recursive: true },
        { DATA_TYPE: 'transfer_item', source_path: '/~/big.bin', destination_path: '/drop/big.bin' },
      ],
    });
    // Caught, not raced for: 2 MiB at a time until two small files have landed while the big
    // one is still a partial (a fast run could otherwise commit the big file before the look).
    const caught = (): boolean => landed(target).length >= 2 && partialFiles(target).some((p) => p.endsWith('.big.bin'));
    await until(async () => {
      if (caught()) return true;
      if (landed(target).includes('big.bin')) throw new Error('big.bin landed before the moment was caught');
      const from = dataProxy.bytesUp;
      dataProxy.release();
      // (Files commit after their last bytes: the moment may come with no more bytes to count.)
      await until(() => (dataProxy.bytesUp >= from + 2 * 1024 * 1024 || caught() ? true : undefined));
      dataProxy.hold();
      return undefined;
    });
    // While the task runs, both its endpoints are in use by alice (not by olivia, whose task it is not).
    expect((await searchIds(alice, 'in-use')).sort()).toEqual([share, aliceEp.endpointId].sort());
    expect(await searchIds(olivia, 'in-use')).toEqual([]);
    await olivia.client.delete(`/v0.10/endpoint/${share}/access/${ruleIds.get('drop')!}`);
    const published = await until(() => logLines(control.proc, 'sharing update published').find((l) => l['change'] === 'rule deleted' && l['hostEndpointId'] === host.endpointId));
    // The order the code exposes: the agent acks an update once it applies it and no write it allowed is still being committed; control logs the ack when it reads it.
    await until(() => logLines(control.proc, 'sharing acked').find((l) => l['hostEndpointId'] === host.endpointId && (l['version'] as number) >= (published['version'] as number)));
    const atAck = landed(target);
    dataProxy.release();
    const t = await waitForTask(alice.client, task);
    expect(t).toMatchObject({ status: 'FAILED', fatal_error: { code: 'PERMISSION_DENIED' } });
    // Structural: what is on disk now is exactly what was there when the ack arrived (zero files committed after it), and is what control recorded as transferred.
    expect(landed(target)).toEqual(atAck);
    expect(atAck).not.toContain('big.bin');
    expect(atAck.length).toBeGreaterThanOrEqual(2);
    const recorded = (await alice.client.get<{ DATA: Array<{ destination_path: string }> }>(`/v0.10/task/${task}/successful_transfers`)).DATA.map((f) => f.destination_path.slice('/drop/'.length)).sort();
    expect(recorded).toEqual(atAck);
    const denied = (await events(alice.client, task)).find((e) => e.code === 'PERMISSION_DENIED');
    expect(denied?.details).toContain('No access rule of this guest collection lets you write /drop/');
    // Bytes of a file already placed may still arrive (as Globus, access stops before the next file); its partial goes with the task.
    // (The session removes it, or task.cleanup after it, as far as the big file had come.)
    expect(await partialsLeft(target)).toEqual([]);
    // Over: no longer in use, recently used.
    expect(await searchIds(alice, 'in-use')).toEqual([]);
    expect(await searchIds(alice, 'recently-used')).toEqual(expect.arrayContaining([share, aliceEp.endpointId]));
  }, 90_000);

  it('a grantee with rw deletes through a delete task; outside her rw rule the task fails and deletes nothing', async () => {
    mkdirSync(join(shareDir, 'incoming', 'trash', 'sub'), { recursive: true });
    writeFileSync(join(shareDir, 'incoming', 'trash', 'sub', 't.txt'), 't');
    const del = (DATA: Json[]) => alice.client.get<{ value: string }>('/v0.10/submission_id')
      .then(({ value }) => alice.client.post<{ task_id: string }>('/v0.10/delete', { body: { DATA_TYPE: 'delete', submission_id: value, endpoint: share, recursive: true, DATA } }))
      .then((r) => waitForTask(alice.client, r.task_id));
    const ok = await del([{ DATA_TYPE: 'delete_item', path: '/incoming/trash/' }, { DATA_TYPE: 'delete_item', path: '/incoming/old/o.txt' }]);
    expect(ok.status).toBe('SUCCEEDED');
    expect(existsSync(join(shareDir, 'incoming', 'trash'))).toBe(false);
    expect(existsSync(join(shareDir, 'incoming', 'old', 'o.txt'))).toBe(false);
    expect(existsSync(join(shareDir, 'incoming', 'old'))).toBe(true);
    const refused = await del([{ DATA_TYPE: 'delete_item', path: '/c/' }]);
    expect(refused).toMatchObject({ status: 'FAILED', fatal_error: { code: 'PERMISSION_DENIED' } });
    expect(existsSync(join(shareDir, 'c', 'c1.txt'))).toBe(true);
  });

  it("deleting a collection's directory on the host disables it (so does renaming it away or replacing it by a link): a clear code, nothing else exposed", async () => {
    const notServed = { status: 403, code: 'Sharing.CollectionRefused' };
    renameSync(shareDir, `${shareDir}-moved`);
    // Refused as a collection (not "no such file"), for its owner and her guests alike, whatever their rules.
    for (const [who, path] of [[olivia, '/'], [alice, '/a/'], [alice, '/b/']] as const) {
      const r = await refusal(ls(who, path));
      expect(r).toMatchObject(notServed);
      expect(r.message).toContain('its directory on this host is gone');
      expect(r.message).not.toContain(hostRoot);
    }
    const gone = await waitForTask(alice.client, await download([['/a/', '/~/after-move/']]));
    expect(gone).toMatchObject({ status: 'FAILED', fatal_error: { code: 'PERMISSION_DENIED' } });
    expect((await events(alice.client, gone.task_id)).find((e) => e.code === 'PERMISSION_DENIED')?.details).toContain('does not serve guest collection');
    // Replaced by a link to a sibling of the same shareable root: nothing of the sibling, not even to the owner.
    symlinkSync('sibling', shareDir);
    expect(await refusal(ls(olivia, '/'))).toMatchObject(notServed);
    expect(await refusal(olivia.client.stat(share, '/not-shared.txt'))).toMatchObject(notServed);
    const linked = await waitForTask(olivia.client, await submitTransfer(olivia.client, {
      source_endpoint: share, destination_endpoint: host.endpointId, DATA: [{ DATA_TYPE: 'transfer_item', source_path: '/not-shared.txt', destination_path: '/~/stolen.txt' }],
    }));
    expect(linked).toMatchObject({ status: 'FAILED', fatal_error: { code: 'PERMISSION_DENIED' } });
    expect(existsSync(join(hostRoot, 'stolen.txt'))).toBe(false);
    // Back where it was: served again.
    unlinkSync(shareDir);
    renameSync(`${shareDir}-moved`, shareDir);
    expect((await ls(alice, '/a/')).DATA.map((e) => e.name).sort()).toEqual(['a1.txt', 'deep']);
  });

  it('a link to control cut and re-made without a restart: the agent serves the rules control holds now', async () => {
    expect((await ls(alice, '/c/')).DATA.map((e) => e.name)).toEqual(['c1.txt']);
    const pid = host.proc.proc.pid;
    const connected = logLines(host.proc, 'connected to control').length;
    const snapshots = logLines(host.proc, 'sharing snapshot applied').length;
    const downs = logLines(host.proc, 'link down; reconnecting').length;
    const port = linkProxy.port;
    await linkProxy.close();
    await until(() => (logLines(host.proc, 'link down; reconnecting').length > downs ? true : undefined));
    expect(await refusal(ls(alice, '/c/'))).toMatchObject({ status: 502, code: 'ExternalError.DirListingFailed.GCDisconnected' });
    // Changed while the agent cannot hear: /c/ withdrawn, /b/ granted.
    await olivia.client.delete(`/v0.10/endpoint/${share}/access/${ruleIds.get('c')!}`);
    await rule('b', { path: '/b/', permissions: 'r' });
    await linkProxy.open(port);
    await until(() => (logLines(host.proc, 'connected to control').length > connected ? true : undefined));
    expect(await refusal(ls(alice, '/c/'))).toMatchObject({ status: 403, code: 'EndpointPermissionDenied' });
    expect((await ls(alice, '/b/')).DATA.map((e) => e.name)).toEqual(['b1.txt']);
    // The agent logs asynchronously: its line may follow the listing it already answered.
    await until(() => (logLines(host.proc, 'sharing snapshot applied').length > snapshots ? true : undefined));
    expect(logLines(host.proc, 'sharing snapshot applied').length).toBe(snapshots + 1);
    expect(host.proc.proc.pid).toBe(pid);
  });
});
