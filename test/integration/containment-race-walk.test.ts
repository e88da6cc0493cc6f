import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, utimesSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ApiClient } from '../../src/cli/api-client.js';
import {
  agentUsers, containmentDir, describeOutcome, expectClearResult, filesContaining, filesUnder, giveTo, guard, RaceLedger, raceSeed, RaceTally, roundsPerUser, settle, shuffle,
  startUserPairs, swapDirForLink, tick, writeTree, type Outcome, type UserPair,
} from '../helpers/containment.js';
import { seededRandom } from '../helpers/seeded-random.js';
import { partialsLeft, submitTransfer } from '../helpers/tasks.js';

/**
 * Containment, part 5: source directories swapped for links while a transfer walks and reads
 * them. Sub-directories of the tree being sent turn into links to a directory outside the
 * roots holding files of the same names, sizes and mtimes whose bytes are a secret. The secret
 * must never reach the destination, whether the swap lands before the walk lists a directory,
 * between its lstat and its opendir, or between the walk and the reads.
 *
 * Rounds are seeded (the seed is printed; FERRY_RACE_SEED replays it), small (210 small
 * files) and bounded in time. A swap starts once the destination shows the walk has begun (its
 * item directory or a sub-directory appears) or after a seeded delay, swaps a seeded share of
 * the sub-directories in a seeded order with seeded pauses. After each round: the outside is
 * unchanged, no secret byte arrived, the task SUCCEEDED or FAILED with a code that says why,
 * whatever arrived holds the source's bytes, and a SUCCEEDED task delivered every file no swap
 * touched.
 */

const WALK_ROUNDS = 20;
/**
 * Rounds that must really race (a source sub-directory swapped for a link while the task ran;
 * see RaceTally), over all agent users: this file's share of the 50 races a run.
 */
const RACE_FLOOR = 14;
const SUBDIRS = 10;
const FILES = 20;
const OLD = new Date('2018-08-08T08:08:08Z');
const sizeOf = (k: number): number => 200 + 97 * k;
const fname = (k: number): string => `f${String(k).padStart(2, '0')}.dat`;
const dname = (d: number): string => `d${String(d).padStart(2, '0')}`;

const seed = raceSeed('containment-race-walk');

describe('source walks racing directory-for-link swaps', () => {
  const dir = containmentDir();
  let client: ApiClient;
  let pairs: Map<string, UserPair>;
  let stop: () => Promise<void> = async () => {};
  let tally: RaceTally;

  beforeAll(async () => {
    ({ client, pairs, stop } = await startUserPairs(dir.path, 'walt@example.org'));
    tally = new RaceTally(client);
  }, 120_000);
  afterAll(async () => {
    await stop();
    dir.cleanup();
  });

  for (const user of agentUsers()) {
    const walkRounds = roundsPerUser(WALK_ROUNDS);
    it(`never sends what a source directory swapped for a link leads to (agent as ${user.label}, ${walkRounds} seeded races)`, async () => {
      const { src, dst, srcRoot, dstRoot, outside } = pairs.get(user.label)!;
      const random = seededRandom(seed ^ 0x3a1c ^ (user.uid ?? 0));
      let swapped = 0;
      let succeeded = 0;
      let ran = 0;
      let raced = 0;
      const ledger = new RaceLedger(`source-walk races (agent as ${user.label}, seed ${seed})`);
      const began = Date.now();
      for (let round = 0; round < walkRounds; round++) {
        const tree = join(srcRoot, `walk-${round}`);
        const stash = join(srcRoot, `walk-stash-${round}`);
        const mirror = join(outside, `mirror-${round}`);
        const secret = `SECRET-WALK-${round}-`;
        const files: Record<string, Buffer> = {};
        for (let f = 0; f < 10; f++) files[`top-${f}.dat`] = randomBytes(50 + f);
        for (let d = 0; d < SUBDIRS; d++) for (let k = 0; k < FILES; k++) files[`${dname(d)}/${fname(k)}`] = randomBytes(sizeOf(k));
        writeTree(tree, files);
        mkdirSync(stash);
        // Same names, sizes and mtimes as every sub-directory's files: only the bytes differ.
        writeTree(mirror, Object.fromEntries(Array.from({ length: FILES }, (_, k) => [fname(k), Buffer.from(secret.repeat(Math.ceil(sizeOf(k) / secret.length)).slice(0, sizeOf(k)))])));
        for (let k = 0; k < FILES; k++) {
          const t = new Date(OLD.getTime() + k * 1000);
          utimesSync(join(mirror, fname(k)), t, t);
          for (let d = 0; d < SUBDIRS; d++) utimesSync(join(tree, dname(d), fname(k)), t, t);
        }
        utimesSync(mirror, OLD, OLD);
        giveTo(user, tree, stash, mirror);
        const outsideGuard = guard(outside, 'the directory outside the roots');

        // When to swap: once the destination shows the walk has begun (its item directory, or
        // a first sub-directory, appears: the source has listed those), or after a delay.
        const triggers = ['dest-root', 'dest-subdir', 'delay'] as const;
        const trigger = triggers[Math.floor(random() * triggers.length)]!;
        const delayMs = Math.floor(random() * 80);
        const fraction = 0.3 + random() * 0.7;
        const pauseTicks = Math.floor(random() * 3);
        const verify = random() < 0.5;
        const order = shuffle(Array.from({ length: SUBDIRS }, (_, d) => dname(d)), random).slice(0, Math.max(1, Math.round(SUBDIRS * fraction)));
        const plan = `round ${round} (seed ${seed}): trigger=${trigger} delay=${delayMs}ms swap ${order.length}/${SUBDIRS} pause=${pauseTicks} ticks verify_checksum=${verify}`;

        const taskId = await submitTransfer(client, {
          source_endpoint: src.endpointId, destination_endpoint: dst.endpointId, verify_checksum: verify,
          DATA: [{ DATA_TYPE: 'transfer_item', source_path: `/~/walk-${round}/`, destination_path: `/~/walk-out-${round}/`, recursive: true }],
        });
        const out = join(dstRoot, `walk-out-${round}`);
        const started = Date.now();
        for (;;) {
          const waited = Date.now() - started;
          if (waited > 10_000) break;
          if (trigger === 'delay' ? waited >= delayMs : trigger === 'dest-root' ? existsSync(out) : existsSync(join(out, order[0]!)) || existsSync(join(out, dname(0)))) break;
          await tick();
        }
        for (const name of order) {
          const swap = swapDirForLink(join(tree, name), join(stash, name), mirror);
          if (swap) swapped += 1;
          if (swap === 'linked') tally.landed(taskId);
          for (let t = 0; t < pauseTicks; t++) await tick();
        }
        const o: Outcome = await settle(client, taskId, 30_000);
        if (await tally.endRound() > 0) raced += 1;
        else console.log(`[containment-race-walk (${user.label})] no swap landed while the task ran: ${plan}`);
        if (o.task.status === 'SUCCEEDED') succeeded += 1;
        // A failed task's partials are removed a moment after it ended.
        if (o.task.status !== 'SUCCEEDED') await partialsLeft(out);
        const go = ledger.check(round, o, () => {
          outsideGuard.check(`${plan}; ${describeOutcome(o)}`);
          const leaked = filesContaining(out, secret);
          expect(leaked.length, `${plan}: the outside secret arrived at the destination in ${leaked.length} files (${leaked.slice(0, 4).join(', ')}, ...); ${describeOutcome(o)}`).toBe(0);
          expectClearResult(o);
          // Whatever arrived is the source's own bytes.
          const arrived = filesUnder(out);
          for (const [rel, bytes] of arrived) expect(bytes.equals(files[rel] ?? Buffer.alloc(0)), `${plan}: ${rel} arrived with other bytes than the source's; ${describeOutcome(o)}`).toBe(true);
          if (o.task.status === 'SUCCEEDED') {
            // What no swap touched cannot be missing.
            const untouched = Object.keys(files).filter((rel) => !order.some((d) => rel.startsWith(`${d}/`)));
            const missing = untouched.filter((rel) => !arrived.has(rel));
            expect(missing.length, `${plan}: SUCCEEDED without ${missing.length} files no swap touched (${missing.slice(0, 4).join(', ')}, ...); ${describeOutcome(o)}`).toBe(0);
          }
        });
        ran += 1;
        if (!go) break;
      }
      console.log(`[containment-race-walk (${user.label})] ${ran} rounds, ${raced} raced, ${swapped} source directories swapped, ${succeeded} SUCCEEDED, ${Math.round((Date.now() - began) / Math.max(1, ran))} ms a round`);
      ledger.done(ran);
    }, 150_000);
  }

  it(`raced at least ${RACE_FLOOR} of its ${WALK_ROUNDS} rounds (seed ${seed})`, () => {
    tally.expectAtLeast(RACE_FLOOR, 'containment-race-walk');
  });
});
