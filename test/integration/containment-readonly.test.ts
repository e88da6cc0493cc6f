import { existsSync, lstatSync, mkdirSync, readdirSync, rmSync, symlinkSync, utimesSync, chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { ApiClient } from '../../src/cli/api-client.js';
import type { AgentHandle, ControlHandle } from '../helpers/cluster.js';
import {
  agentUsers, containmentDir, describeOutcome, expectRefused, giveTo, guard, settle, snapshot, startAgentAs, startFastControl, submitDelete, writeTree,
  type Outcome,
} from '../helpers/containment.js';
import { submitTransfer } from '../helpers/tasks.js';

/**
 * Containment, part 1: read-only roots nested inside a writable root (issue "Agent
 * containment and durability", finding 1). The destination agent exports `dst` read-write as
 * `/~/`, and `dst/archive` and `dst/proj/frozen` read-only. "Local policy beats control": no
 * transfer, sync, delete_destination_extra, mkdir, rename or delete may change anything in
 * those, whichever way the path is spelled (`/~/archive/...`, the host path, a link inside the
 * writable root). Every case compares a snapshot of the read-only roots (names, sizes, modes,
 * inodes, mtimes, contents, and the root directories themselves) before and after, and checks
 * the task says it was refused: FAILED with PERMISSION_DENIED, or (only with
 * skip_source_errors) SUCCEEDED listing the refused paths in skipped_errors.
 */

const OLD = new Date('2021-03-04T05:06:07Z');
const NEWER = new Date('2024-05-06T07:08:09Z');

describe('nested read-only roots under transfers and file operations', () => {
  const shared = containmentDir();
  let control: ControlHandle;
  let client: ApiClient;
  beforeAll(async () => {
    control = await startFastControl(shared.path);
    ({ client } = await control.user('rosa@example.org'));
  }, 120_000);
  afterAll(async () => {
    await control?.stop();
    shared.cleanup();
  });

  for (const user of agentUsers()) {
    describe(`agent as ${user.label}`, () => {
      const dir = { path: join(shared.path, user.label) };
      const srcRoot = join(dir.path, 'src');
      const dstRoot = join(dir.path, 'dst');
      const archive = join(dstRoot, 'archive');
      const frozen = join(dstRoot, 'proj', 'frozen');
      let src: AgentHandle;
      let dst: AgentHandle;
      let archiveGuard: ReturnType<typeof guard>;
      let frozenGuard: ReturnType<typeof guard>;

      /** The read-only roots' contents, as the host keeps them. */
      function fillReadOnly(): void {
        mkdirSync(archive, { recursive: true });
        mkdirSync(frozen, { recursive: true });
        writeTree(archive, { 'keep.txt': 'archived: keep me\n', 'old/notes.txt': 'old notes\n' });
        writeTree(frozen, { 'data.txt': 'frozen data\n' });
        for (const p of [join(archive, 'keep.txt'), join(archive, 'old', 'notes.txt'), join(archive, 'old'), join(frozen, 'data.txt')]) utimesSync(p, OLD, OLD);
        chmodSync(archive, 0o755);
        utimesSync(archive, OLD, OLD);
        utimesSync(frozen, OLD, OLD);
        giveTo(user, dstRoot);
      }

      /**
       * Back to the starting state: the writable part of dst emptied, the read-only roots'
       * contents rebuilt where an earlier (failed) case changed them. The read-only root
       * directories themselves are kept when they still exist (an agent may hold them open).
       */
      function resetDst(): void {
        for (const name of readdirSync(dstRoot)) if (!['archive', 'proj', 'to-archive'].includes(name)) rmSync(join(dstRoot, name), { recursive: true, force: true });
        for (const name of existsSync(join(dstRoot, 'proj')) ? readdirSync(join(dstRoot, 'proj')) : []) if (name !== 'frozen') rmSync(join(dstRoot, 'proj', name), { recursive: true, force: true });
        for (const root of [archive, frozen]) {
          const ok = (() => { try { return lstatSync(root).isDirectory(); } catch { return false; } })();
          if (!ok) rmSync(root, { recursive: true, force: true });
          else for (const name of readdirSync(root)) rmSync(join(root, name), { recursive: true, force: true });
        }
        fillReadOnly();
        rmSync(join(dstRoot, 'to-archive'), { force: true });
        symlinkSync(archive, join(dstRoot, 'to-archive'));
      }

      beforeAll(async () => {
        mkdirSync(srcRoot, { recursive: true });
        mkdirSync(dstRoot, { recursive: true });
        writeTree(srcRoot, {
          'new/plain.txt': 'plain\n',
          'new/archive/evil.txt': 'EVIL: must never land in a read-only root\n',
          'new/archive/sub/evil2.txt': 'EVIL 2\n',
          'overwrite/plain.txt': 'plain\n',
          'overwrite/archive/keep.txt': 'EVIL: replaced the archived file, and longer than it\n',
          'mixed/plain.txt': 'plain\n',
          'mixed/archive/keep.txt': 'EVIL: replaced the archived file, and longer than it\n',
          'mixed/archive/evil.txt': 'EVIL: new\n',
          'same/plain.txt': 'plain\n',
          'same/archive/keep.txt': 'archived: keep me\n',
          'same/archive/old/notes.txt': 'old notes\n',
          'subset/plain.txt': 'plain\n',
          'subset/archive/keep.txt': 'archived: keep me\n',
          'no-archive/plain.txt': 'plain\n',
          'archive-file/plain.txt': 'plain\n',
          'archive-file/archive': 'EVIL: a file where the read-only root is\n',
          'deep/proj/ok.txt': 'fine\n',
          'deep/proj/frozen/evil.txt': 'EVIL: deeper\n',
        });
        for (const p of ['overwrite/archive/keep.txt', 'mixed/archive/keep.txt']) utimesSync(join(srcRoot, p), NEWER, NEWER);
        for (const p of ['same/archive/keep.txt', 'same/archive/old/notes.txt', 'subset/archive/keep.txt']) utimesSync(join(srcRoot, p), OLD, OLD);
        // Another mode for the source's directory: finishing directories must not chmod a read-only root.
        chmodSync(join(srcRoot, 'same', 'archive'), 0o700);
        giveTo(user, srcRoot);
        resetDst();

        src = await startAgentAs(client, join(dir.path, 'agent-src'), [`${srcRoot}:rw`], user, 'ro source');
        dst = await startAgentAs(client, join(dir.path, 'agent-dst'), [`${dstRoot}:rw`, `${archive}:ro`, `${frozen}:ro`], user, 'ro destination');
      }, 120_000);
      afterAll(async () => {
        await src?.stop();
        await dst?.stop();
      });
      beforeEach(() => {
        resetDst();
        archiveGuard = guard(archive, 'the read-only root dst/archive');
        frozenGuard = guard(frozen, 'the read-only root dst/proj/frozen');
      });

      /** Recursive transfer of src:/~/<tree>/ into dst:/~/ (the finding's shape), then the outcome. */
      async function intoHome(tree: string, options: Record<string, unknown> = {}, destination = '/~/'): Promise<Outcome> {
        const taskId = await submitTransfer(client, {
          source_endpoint: src.endpointId, destination_endpoint: dst.endpointId, label: `ro ${tree}`, ...options,
          DATA: [{ DATA_TYPE: 'transfer_item', source_path: `/~/${tree}/`, destination_path: destination, recursive: true }],
        });
        return settle(client, taskId, 30_000);
      }

      function checkReadOnly(context: string): void {
        archiveGuard.check(context);
        frozenGuard.check(context);
      }

      it('refuses new files (and directories) inside a nested read-only root', async () => {
        for (const skip of [false, true]) {
          if (skip) { resetDst(); archiveGuard = guard(archive, 'dst/archive'); frozenGuard = guard(frozen, 'dst/proj/frozen'); }
          const o = await intoHome('new', { skip_source_errors: skip });
          checkReadOnly(`skip_source_errors=${skip}; ${describeOutcome(o)}`);
          expectRefused(o, { skipSourceErrors: skip, paths: ['archive/evil.txt', 'archive/sub/evil2.txt'] });
        }
      }, 90_000);

      it('refuses to overwrite a file inside a nested read-only root', async () => {
        for (const skip of [false, true]) {
          if (skip) { resetDst(); archiveGuard = guard(archive, 'dst/archive'); frozenGuard = guard(frozen, 'dst/proj/frozen'); }
          const o = await intoHome('overwrite', { skip_source_errors: skip });
          checkReadOnly(`skip_source_errors=${skip}; ${describeOutcome(o)}`);
          expectRefused(o, { skipSourceErrors: skip, paths: ['archive/keep.txt'] });
        }
      }, 90_000);

      it('writes into a nested read-only root at no sync level', async () => {
        for (const level of [0, 1, 2, 3]) {
          resetDst();
          archiveGuard = guard(archive, 'dst/archive');
          frozenGuard = guard(frozen, 'dst/proj/frozen');
          const o = await intoHome('mixed', { sync_level: level, preserve_timestamp: true });
          checkReadOnly(`sync_level=${level}; ${describeOutcome(o)}`);
          // Every level must at least create archive/evil.txt, which is new.
          expectRefused(o, { skipSourceErrors: false, paths: ['archive/evil.txt'] });
        }
      }, 90_000);

      it('leaves a nested read-only root alone (directory mode and mtime too) when nothing differs', async () => {
        // Identical files: nothing needs writing, so success is fine, but the read-only root's
        // own directory must not get the source directory's mode (0700) or mtime either.
        for (const level of [1, 2, 3]) {
          resetDst();
          archiveGuard = guard(archive, 'dst/archive');
          frozenGuard = guard(frozen, 'dst/proj/frozen');
          const o = await intoHome('same', { sync_level: level, preserve_timestamp: true });
          checkReadOnly(`identical files, sync_level=${level}; ${describeOutcome(o)}`);
          if (o.task.status === 'SUCCEEDED') expect(o.task.files_skipped, describeOutcome(o)).toBeGreaterThanOrEqual(2);
          else expectRefused(o, { skipSourceErrors: false, paths: ['archive'] });
        }
      }, 90_000);

      it('delete_destination_extra removes nothing inside a nested read-only root the source also has', async () => {
        for (const tree of ['subset', 'new']) {
          resetDst();
          archiveGuard = guard(archive, 'dst/archive');
          frozenGuard = guard(frozen, 'dst/proj/frozen');
          const o = await intoHome(tree, { delete_destination_extra: true, sync_level: 3 });
          checkReadOnly(`source ${tree}; ${describeOutcome(o)}`);
          expectRefused(o, { skipSourceErrors: false, paths: tree === 'subset' ? ['archive/old'] : ['archive/evil.txt'] });
        }
      }, 90_000);

      it('delete_destination_extra never removes a nested read-only root (or a directory holding one) missing from the source', async () => {
        for (const skip of [false, true]) {
          if (skip) { resetDst(); archiveGuard = guard(archive, 'dst/archive'); frozenGuard = guard(frozen, 'dst/proj/frozen'); }
          const o = await intoHome('no-archive', { delete_destination_extra: true, skip_source_errors: skip });
          checkReadOnly(`skip_source_errors=${skip}; ${describeOutcome(o)}`);
          expectRefused(o, { skipSourceErrors: skip, paths: ['archive', 'proj/frozen'] });
        }
      }, 90_000);

      it('a source file named like a nested read-only root does not replace it', async () => {
        for (const dde of [false, true]) {
          resetDst();
          archiveGuard = guard(archive, 'dst/archive');
          frozenGuard = guard(frozen, 'dst/proj/frozen');
          const o = await intoHome('archive-file', { delete_destination_extra: dde });
          checkReadOnly(`delete_destination_extra=${dde}; ${describeOutcome(o)}`);
          // Without delete_destination_extra a directory in the way is IS_A_DIRECTORY anyway.
          expectRefused(o, { skipSourceErrors: false, paths: ['archive'], also: dde ? [] : ['IS_A_DIRECTORY'] });
        }
      }, 90_000);

      it('protects a read-only root nested two levels down', async () => {
        for (const dde of [false, true]) {
          resetDst();
          archiveGuard = guard(archive, 'dst/archive');
          frozenGuard = guard(frozen, 'dst/proj/frozen');
          const o = await intoHome('deep', { delete_destination_extra: dde });
          checkReadOnly(`delete_destination_extra=${dde}; ${describeOutcome(o)}`);
          expectRefused(o, { skipSourceErrors: false, paths: ['proj/frozen/evil.txt'] });
        }
      }, 90_000);

      it('refuses transfers whose destination is inside a nested read-only root, by any spelling', async () => {
        const cases: Array<{ source: string; destination: string; recursive: boolean }> = [
          { source: '/~/new/archive/', destination: '/~/archive/', recursive: true },
          { source: '/~/new/archive/', destination: '/~/to-archive/', recursive: true },
          { source: '/~/new/archive/', destination: `${archive}/`, recursive: true },
          { source: '/~/new/plain.txt', destination: '/~/archive/plain.txt', recursive: false },
          { source: '/~/new/plain.txt', destination: '/~/to-archive/plain.txt', recursive: false },
          { source: '/~/overwrite/archive/keep.txt', destination: '/~/to-archive/keep.txt', recursive: false },
        ];
        for (const c of cases) {
          const taskId = await submitTransfer(client, {
            source_endpoint: src.endpointId, destination_endpoint: dst.endpointId,
            DATA: [{ DATA_TYPE: 'transfer_item', source_path: c.source, destination_path: c.destination, recursive: c.recursive }],
          });
          const o = await settle(client, taskId, 30_000);
          checkReadOnly(`${c.source} -> ${c.destination}; ${describeOutcome(o)}`);
          expect(o.task.status, `${c.destination}: ${describeOutcome(o)}`).toBe('FAILED');
          expectRefused(o, { skipSourceErrors: false, paths: [] });
        }
      }, 90_000);

      it('refuses mkdir, rename and delete into or over a nested read-only root', async () => {
        writeFileSync(join(dstRoot, 'mine.txt'), 'mine\n');
        mkdirSync(join(dstRoot, 'holder'));
        symlinkSync(archive, join(dstRoot, 'holder', 'link-to-archive'));
        giveTo(user, dstRoot);
        const ep = dst.endpointId;
        const denied = { remoteCode: 'EndpointPermissionDenied' };
        await expect(client.mkdir(ep, '/~/archive/new-dir')).rejects.toMatchObject(denied);
        await expect(client.mkdir(ep, '/~/to-archive/new-dir')).rejects.toMatchObject(denied);
        await expect(client.mkdir(ep, '/~/holder/link-to-archive/new-dir')).rejects.toMatchObject(denied);
        await expect(client.mkdir(ep, '/~/proj/frozen/new-dir')).rejects.toMatchObject(denied);
        await expect(client.rename(ep, '/~/mine.txt', '/~/archive/mine.txt')).rejects.toMatchObject(denied);
        await expect(client.rename(ep, '/~/mine.txt', '/~/to-archive/mine.txt')).rejects.toMatchObject(denied);
        await expect(client.rename(ep, '/~/archive/keep.txt', '/~/stolen.txt')).rejects.toMatchObject(denied);
        await expect(client.rename(ep, '/~/to-archive/keep.txt', '/~/stolen.txt')).rejects.toMatchObject(denied);
        await expect(client.rename(ep, '/~/archive', '/~/moved-archive')).rejects.toMatchObject(denied);
        await expect(client.rename(ep, '/~/proj', '/~/moved-proj')).rejects.toMatchObject(denied);
        await expect(client.rename(ep, '/~/mine.txt', '/~/archive')).rejects.toMatchObject(expect.objectContaining({ remoteCode: expect.any(String) }));
        checkReadOnly('file operations');
        expect(existsSync(join(dstRoot, 'mine.txt'))).toBe(true);

        const deletes = ['/~/archive/keep.txt', '/~/archive/old', '/~/archive', '/~/to-archive/keep.txt', '/~/proj', `${archive}/keep.txt`];
        for (const path of deletes) {
          const o = await settle(client, await submitDelete(client, ep, [path], { recursive: true }), 20_000);
          checkReadOnly(`DELETE ${path}; ${describeOutcome(o)}`);
          expect(o.task.status, `DELETE ${path}: ${describeOutcome(o)}`).toBe('FAILED');
          expectRefused(o, { skipSourceErrors: false, paths: [] });
        }
        // Deleting the link itself is fine (it is in the writable root); what it points to stays.
        const o = await settle(client, await submitDelete(client, ep, ['/~/holder'], { recursive: true }), 20_000);
        checkReadOnly(`DELETE /~/holder (holding a link to the read-only root); ${describeOutcome(o)}`);
        expect(snapshot(archive)).toEqual(archiveGuard.before);
      }, 90_000);
    });
  }
});
