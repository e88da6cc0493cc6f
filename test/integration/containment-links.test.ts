import { randomBytes } from 'node:crypto';
import { existsSync, linkSync, lstatSync, mkdirSync, readFileSync, renameSync, rmSync, symlinkSync, utimesSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ApiClient } from '../../src/cli/api-client.js';
import type { AgentHandle, ControlHandle } from '../helpers/cluster.js';
import {
  agentUsers, codesOf, containmentDir, describeOutcome, expectClearResult, expectRefused, filesContaining, giveTo, guard, settle,
  startAgentAs, startFastControl, submitDelete, writeTree, type Outcome,
} from '../helpers/containment.js';
import { submitTransfer } from '../helpers/tasks.js';

/**
 * Containment, part 3: links at a transfer's final names, hard links to files outside the
 * roots, and roots swapped for links after the agent started. The agent must not write,
 * truncate, create, remove or read anything outside its roots: a final name that is a link
 * (to an outside file, or dangling) is replaced by a regular file, never written through; a
 * hard link to an outside file is replaced, never written in place; a root swapped for a link
 * is refused or kept at its original directory, never followed.
 */

const OLD = new Date('2020-02-03T04:05:06Z');
/** In every outside file planted links lead to: found at a destination, it was read from outside. */
const MARKER = 'OUTSIDE-MARKER';
const LARGE = 1024 * 1024 + 4097; // above the 256 KiB small-file threshold: written in chunks, not batched

describe('final-name links, hard links and swapped roots', () => {
  const shared = containmentDir();
  let control: ControlHandle;
  let client: ApiClient;
  beforeAll(async () => {
    control = await startFastControl(shared.path);
    ({ client } = await control.user('lina@example.org'));
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
      const outside = join(dir.path, 'outside');
      let src: AgentHandle;
      let dst: AgentHandle;

      beforeAll(async () => {
        for (const d of [srcRoot, dstRoot, outside]) mkdirSync(d, { recursive: true });
        giveTo(user, srcRoot, dstRoot, outside);
        src = await startAgentAs(client, join(dir.path, 'agent-src'), [`${srcRoot}:rw`], user, 'links source');
        dst = await startAgentAs(client, join(dir.path, 'agent-dst'), [`${dstRoot}:rw`], user, 'links destination');
      }, 120_000);
      afterAll(async () => {
        await src?.stop();
        await dst?.stop();
      });

      const transfer = async (source: string, destination: string, recursive: boolean, options: Record<string, unknown> = {}): Promise<string> =>
        submitTransfer(client, {
          source_endpoint: src.endpointId, destination_endpoint: dst.endpointId, ...options,
          DATA: [{ DATA_TYPE: 'transfer_item', source_path: source, destination_path: destination, recursive }],
        });

      /** Outside files holding known bytes, dated in the past (so any write shows in the mtime too). */
      function outsideFiles(sub: string, files: Record<string, string | Buffer>): string {
        const d = join(outside, sub);
        mkdirSync(d, { recursive: true });
        writeTree(d, files);
        for (const name of Object.keys(files)) utimesSync(join(d, name), OLD, OLD);
        utimesSync(d, OLD, OLD);
        giveTo(user, d);
        return d;
      }

      it('replaces a final name that is a link to an outside file (or a dangling one) with a regular file', async () => {
        const names = ['small.txt', 'big.bin', 'dangling.txt', 'relative.txt', 'same.txt'];
        const big = randomBytes(LARGE);
        writeTree(join(srcRoot, 'finals'), { 'small.txt': 'source small\n', 'big.bin': big, 'dangling.txt': 'source dangling\n', 'relative.txt': 'source relative\n', 'same.txt': 'identical bytes\n' });
        writeTree(srcRoot, { 'single-final.txt': 'source single\n' });
        giveTo(user, srcRoot);
        const targets = outsideFiles('final-targets', {
          'small.txt': `${MARKER} small\n`, 'big.bin': `${MARKER} big\n`, 'relative.txt': `${MARKER} relative\n`, 'same.txt': 'identical bytes\n', 'single.txt': `${MARKER} single\n`,
        });
        for (const level of [null, 3]) {
          const tree = `finals-${level ?? 'none'}`;
          const into = join(dstRoot, tree);
          mkdirSync(into);
          symlinkSync(join(targets, 'small.txt'), join(into, 'small.txt'));
          symlinkSync(join(targets, 'big.bin'), join(into, 'big.bin'));
          symlinkSync(join(targets, 'nothing-here.txt'), join(into, 'dangling.txt'));
          symlinkSync(`../../outside/final-targets/relative.txt`, join(into, 'relative.txt'));
          // Same bytes outside: a sync level that compared checksums through the link would skip, leaving the link.
          symlinkSync(join(targets, 'same.txt'), join(into, 'same.txt'));
          giveTo(user, into);
          const outsideGuard = guard(outside, 'the directory outside the roots');
          const o = await settle(client, await transfer('/~/finals/', `/~/${tree}/`, true, level === null ? {} : { sync_level: level }), 30_000);
          outsideGuard.check(`sync_level=${level}; ${describeOutcome(o)}`);
          // Copying over a link in the way is the expected outcome (the link is the user's; the name is in the root).
          expect(o.task.status, describeOutcome(o)).toBe('SUCCEEDED');
          for (const name of names) {
            const p = join(into, name);
            expect(lstatSync(p).isFile(), `${tree}/${name} is not a regular file: ${describeOutcome(o)}`).toBe(true);
            expect(readFileSync(p).equals(readFileSync(join(srcRoot, 'finals', name))), `${tree}/${name}`).toBe(true);
          }
        }
        // An item whose destination itself is a link leading out: refused, or replaced by a regular file.
        symlinkSync(join(targets, 'single.txt'), join(dstRoot, 'single-final.txt'));
        giveTo(user, dstRoot);
        const outsideGuard = guard(outside, 'the directory outside the roots');
        const o = await settle(client, await transfer('/~/single-final.txt', '/~/single-final.txt', false), 30_000);
        outsideGuard.check(describeOutcome(o));
        if (o.task.status === 'SUCCEEDED') {
          expect(lstatSync(join(dstRoot, 'single-final.txt')).isFile(), describeOutcome(o)).toBe(true);
          expect(readFileSync(join(dstRoot, 'single-final.txt'), 'utf8')).toBe('source single\n');
        } else {
          expectRefused(o, { skipSourceErrors: false, paths: [] });
        }
      }, 120_000);

      it('overwriting a hard link to an outside file leaves the outside file alone', async () => {
        const smallSrc = 'new small contents\n';
        const bigSrc = randomBytes(LARGE);
        writeTree(join(srcRoot, 'hard'), { 'small.txt': smallSrc, 'big.bin': bigSrc, 'samesize.txt': 'AAAAAAAAAAAAAAAA\n' });
        writeTree(srcRoot, { 'hard-single.txt': 'new single contents\n' });
        giveTo(user, srcRoot);
        const variants: Array<{ label: string; options: Record<string, unknown> }> = [
          { label: 'default', options: {} },
          { label: 'sync_level 3', options: { sync_level: 3 } },
          { label: 'no verify', options: { verify_checksum: false } },
        ];
        for (const [k, v] of variants.entries()) {
          const targets = outsideFiles(`hard-${k}`, {
            'small.txt': 'outside small, hard-linked in\n', 'big.bin': randomBytes(LARGE), 'samesize.txt': 'BBBBBBBBBBBBBBBB\n', 'single.txt': 'outside single\n',
          });
          const into = join(dstRoot, `hard-${k}`);
          mkdirSync(into);
          for (const name of ['small.txt', 'big.bin', 'samesize.txt']) linkSync(join(targets, name), join(into, name));
          linkSync(join(targets, 'single.txt'), join(dstRoot, `hard-single-${k}.txt`));
          giveTo(user, into);
          const outsideGuard = guard(outside, 'the directory outside the roots');
          const tree = await settle(client, await transfer('/~/hard/', `/~/hard-${k}/`, true, v.options), 30_000);
          const single = await settle(client, await transfer('/~/hard-single.txt', `/~/hard-single-${k}.txt`, false, v.options), 30_000);
          outsideGuard.check(`${v.label}; ${describeOutcome(tree)}\n${describeOutcome(single)}`);
          expect(tree.task.status, describeOutcome(tree)).toBe('SUCCEEDED');
          expect(single.task.status, describeOutcome(single)).toBe('SUCCEEDED');
          for (const name of ['small.txt', 'big.bin', 'samesize.txt']) expect(readFileSync(join(into, name)).equals(readFileSync(join(srcRoot, 'hard', name))), `${v.label}: hard-${k}/${name}`).toBe(true);
          expect(readFileSync(join(dstRoot, `hard-single-${k}.txt`), 'utf8')).toBe('new single contents\n');
        }
      }, 120_000);

      it('does not follow a writable root that was replaced by a link after the agent started', async () => {
        writeTree(join(srcRoot, 'payload'), { 'p1.txt': 'payload one\n', 'p2.txt': 'payload two\n' });
        giveTo(user, srcRoot);
        const lure = outsideFiles('swapped-root', { 'secret.txt': 'SECRET-ROOT-SWAP: never leaves the outside\n', 'victim.txt': 'victim: must stay\n' });
        mkdirSync(join(lure, 'payload'));
        giveTo(user, lure);
        const outsideGuard = guard(outside, 'the directory outside the roots');
        const original = `${dstRoot}.orig`;
        renameSync(dstRoot, original);
        symlinkSync(lure, dstRoot);
        const notes: string[] = [];
        let listed: string[] | null = null;
        let statted: unknown = null;
        const outcomes: Outcome[] = [];
        try {
          const ep = dst.endpointId;
          const listing = await client.ls(ep, { path: '/~/' }).catch((e: unknown) => e);
          if (!(listing instanceof Error)) listed = (listing as { DATA: Array<{ name: string }> }).DATA.map((f) => f.name);
          statted = await client.stat(ep, '/~/secret.txt').catch(() => null);
          await client.mkdir(ep, '/~/made-after-swap').catch((e: unknown) => notes.push(`mkdir: ${String(e)}`));
          outcomes.push(await settle(client, await transfer('/~/payload/', '/~/payload/', true), 30_000));
          outcomes.push(await settle(client, await submitDelete(client, ep, ['/~/victim.txt'], { recursive: false }), 20_000));
          outcomes.push(await settle(client, await submitTransfer(client, {
            source_endpoint: dst.endpointId, destination_endpoint: src.endpointId,
            DATA: [{ DATA_TYPE: 'transfer_item', source_path: '/~/secret.txt', destination_path: '/~/stolen.txt', recursive: false }],
          }), 30_000));
        } finally {
          rmSync(dstRoot, { force: true });
          renameSync(original, dstRoot);
        }
        notes.push(...outcomes.map(describeOutcome));
        // Written or removed outside (mkdir, the transfer in, the delete)?
        outsideGuard.check(notes.join('\n'));
        // Read from outside (the transfer out, ls, stat)?
        expect(filesContaining(srcRoot, 'SECRET-ROOT-SWAP'), `the secret left through the swapped root:\n${notes.join('\n')}`).toEqual([]);
        expect(listed ?? [], 'ls /~/ listed the directory the link leads to').not.toContain('secret.txt');
        expect(statted, 'stat /~/secret.txt described a file only the link target holds').toBeNull();
        // Every task ended and says what happened: SUCCEEDED, or FAILED with a code that says why.
        for (const o of outcomes) expectClearResult(o);
        // Kept using the original directory (allowed): then the payload is there, not lost.
        if (outcomes[0]!.task.status === 'SUCCEEDED') expect(existsSync(join(dstRoot, 'payload', 'p1.txt')), describeOutcome(outcomes[0]!)).toBe(true);
        // victim.txt and secret.txt exist only where the link leads: whether the agent refused the
        // swapped root or kept to its original directory, neither task can have succeeded.
        const [, removal, theft] = outcomes;
        expect(removal!.task.status, `the delete of a file only the link target holds: ${describeOutcome(removal!)}`).toBe('FAILED');
        expect(theft!.task.status, `the transfer of a file only the link target holds: ${describeOutcome(theft!)}`).toBe('FAILED');
      }, 120_000);

      it('does not follow a source root that was replaced by a link after the agent started', async () => {
        writeTree(join(srcRoot, 'exported'), { 'e1.txt': 'exported one\n' });
        giveTo(user, srcRoot);
        const lure = outsideFiles('swapped-src-root', {});
        writeTree(join(lure, 'exported'), { 'e1.txt': 'SECRET-SRC-SWAP one\n', 'e2.txt': 'SECRET-SRC-SWAP two\n' });
        giveTo(user, lure);
        const outsideGuard = guard(outside, 'the directory outside the roots');
        const original = `${srcRoot}.orig`;
        renameSync(srcRoot, original);
        symlinkSync(lure, srcRoot);
        let o: Outcome;
        let listed: string[] | null = null;
        try {
          o = await settle(client, await transfer('/~/exported/', '/~/from-swapped-src/', true), 30_000);
          const listing = await client.ls(src.endpointId, { path: '/~/exported/' }).catch((e: unknown) => e);
          if (!(listing instanceof Error)) listed = (listing as { DATA: Array<{ name: string }> }).DATA.map((f) => f.name);
        } finally {
          rmSync(srcRoot, { force: true });
          renameSync(original, srcRoot);
        }
        outsideGuard.check(describeOutcome(o));
        expect(filesContaining(dstRoot, 'SECRET-SRC-SWAP'), `the secret arrived: ${describeOutcome(o)} codes=${codesOf(o).join(',')}`).toEqual([]);
        expect(listed ?? [], 'ls listed the directory the link leads to').not.toContain('e2.txt');
        // Ended, and says what happened: SUCCEEDED (from the original directory), or FAILED with a code that says why.
        expectClearResult(o);
        if (o.task.status === 'SUCCEEDED') {
          expect(readFileSync(join(dstRoot, 'from-swapped-src', 'e1.txt'), 'utf8')).toBe('exported one\n');
          // e2.txt exists only where the link leads.
          expect(existsSync(join(dstRoot, 'from-swapped-src', 'e2.txt')), describeOutcome(o)).toBe(false);
        }
      }, 120_000);
    });
  }
});
