import { randomBytes } from 'node:crypto';
import { lstatSync, mkdirSync, readdirSync, readFileSync, utimesSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ApiClient } from '../../src/cli/api-client.js';
import {
  agentUsers, containmentDir, describeOutcome, expectClearResult, filesUnder, giveTo, guard, RaceLedger, raceSeed, RaceTally, roundsPerUser, settle,
  startUserPairs, swapDirForLink, tick, writeTree, type Outcome, type UserPair,
} from '../helpers/containment.js';
import { seededRandom } from '../helpers/seeded-random.js';
import { submitTransfer } from '../helpers/tasks.js';

/**
 * Containment, part 6: destination directories swapped for links while a transfer writes into
 * them. Each sub-directory the destination creates is, with a seeded probability and after a
 * seeded pause, moved aside (inside the root) and replaced by a link to a directory outside
 * the roots that holds a file named like one being sent and one the source lacks (half the
 * rounds run with delete_destination_extra, which must not delete it through the link).
 * Nothing may be created, written or removed there (partial files included).
 *
 * Rounds are seeded (the seed is printed; FERRY_RACE_SEED replays it), small (200 small files
 * and one chunked file) and bounded in time. After each round: the outside is unchanged, the
 * task SUCCEEDED or FAILED with a code that says why, and a SUCCEEDED task left every file
 * somewhere in the root with the source's bytes (at its name, or in the moved directory).
 */

const RECEIVE_ROUNDS = 20;
/**
 * Rounds that must really race (a destination sub-directory swapped for a link while the task
 * ran; see RaceTally), over all agent users: this file's share of the 50 races a run.
 */
const RACE_FLOOR = 12;
const SUBDIRS = 10;
const FILES = 20;
const OLD = new Date('2018-08-08T08:08:08Z');
const sizeOf = (k: number): number => 200 + 97 * k;
const fname = (k: number): string => `f${String(k).padStart(2, '0')}.dat`;
const dname = (d: number): string => `d${String(d).padStart(2, '0')}`;

const seed = raceSeed('containment-race-receive');

describe('receives racing directory-for-link swaps', () => {
  const dir = containmentDir();
  let client: ApiClient;
  let pairs: Map<string, UserPair>;
  let stop: () => Promise<void> = async () => {};
  let tally: RaceTally;

  beforeAll(async () => {
    ({ client, pairs, stop } = await startUserPairs(dir.path, 'remy@example.org', ({ srcRoot }) => {
      // The rounds' source: small files in sub-directories, and one chunked file.
      const files: Record<string, Buffer> = {};
      for (let f = 0; f < 3; f++) files[`top-${f}.dat`] = randomBytes(100 + f);
      for (let d = 0; d < SUBDIRS; d++) for (let k = 0; k < FILES; k++) files[`${dname(d)}/${fname(k)}`] = randomBytes(sizeOf(k));
      files[`${dname(0)}/big.bin`] = randomBytes(600 * 1024 + 3);
      writeTree(join(srcRoot, 'recv-src'), files);
    }));
    tally = new RaceTally(client);
  }, 120_000);
  afterAll(async () => {
    await stop();
    dir.cleanup();
  });

  for (const user of agentUsers()) {
    const receiveRounds = roundsPerUser(RECEIVE_ROUNDS);
    it(`writes nothing where a destination directory swapped for a link leads (agent as ${user.label}, ${receiveRounds} seeded races)`, async () => {
      const { src, dst, srcRoot, dstRoot, outside } = pairs.get(user.label)!;
      const random = seededRandom(seed ^ 0x7ec3 ^ (user.uid ?? 0));
      const source = filesUnder(join(srcRoot, 'recv-src'));
      let swapped = 0;
      let succeeded = 0;
      let ran = 0;
      let raced = 0;
      const ledger = new RaceLedger(`receive races (agent as ${user.label}, seed ${seed})`);
      const began = Date.now();
      for (let round = 0; round < receiveRounds; round++) {
        const into = join(dstRoot, `in-${round}`);
        const stash = join(dstRoot, `in-stash-${round}`);
        const sink = join(outside, `sink-${round}`);
        // A name the source sends (must not be overwritten) and one it does not (an "extra" that
        // delete_destination_extra must not reach through the link).
        writeTree(sink, { [fname(0)]: 'outside: must not be overwritten\n', 'big.bin': 'outside big\n', 'precious.txt': 'outside: must not be deleted\n' });
        for (const name of [fname(0), 'big.bin', 'precious.txt']) utimesSync(join(sink, name), OLD, OLD);
        utimesSync(sink, OLD, OLD);
        mkdirSync(stash);
        giveTo(user, sink, stash);
        const outsideGuard = guard(outside, 'the directory outside the roots');

        const p = 0.4 + random() * 0.6;
        const pauseTicks = Math.floor(random() * 4);
        const dde = random() < 0.5;
        const plan = `round ${round} (seed ${seed}): swap each new sub-directory with p=${p.toFixed(2)} after ${pauseTicks} ticks, delete_destination_extra=${dde}`;
        const taskId = await submitTransfer(client, {
          source_endpoint: src.endpointId, destination_endpoint: dst.endpointId, delete_destination_extra: dde,
          DATA: [{ DATA_TYPE: 'transfer_item', source_path: '/~/recv-src/', destination_path: `/~/in-${round}/`, recursive: true }],
        });
        let active = true;
        const decided = new Set<string>();
        const swapper = (async () => {
          const stopAt = Date.now() + 15_000;
          while (active && Date.now() < stopAt) {
            let names: string[] = [];
            try {
              names = readdirSync(into);
            } catch {
              // not created yet
            }
            for (const name of names) {
              if (decided.has(name) || !name.startsWith('d')) continue;
              decided.add(name);
              if (random() > p) continue;
              for (let t = 0; t < pauseTicks; t++) await tick();
              try {
                if (!lstatSync(join(into, name)).isDirectory()) continue;
              } catch {
                continue;
              }
              const swap = swapDirForLink(join(into, name), join(stash, name), sink);
              if (swap) swapped += 1;
              if (swap === 'linked') tally.landed(taskId);
            }
            await tick();
          }
        })();
        let o: Outcome;
        try {
          o = await settle(client, taskId, 30_000);
        } finally {
          active = false;
          await swapper;
        }
        if (await tally.endRound() > 0) raced += 1;
        else console.log(`[containment-race-receive (${user.label})] no swap landed while the task ran: ${plan}`);
        if (o.task.status === 'SUCCEEDED') succeeded += 1;
        const go = ledger.check(round, o, () => {
          outsideGuard.check(`${plan}; ${describeOutcome(o)}`);
          expectClearResult(o);
          if (o.task.status !== 'SUCCEEDED') return;
          // Every file is somewhere in the root with the source's bytes: at its name, or in
          // the directory that was moved aside (still written through a held descriptor).
          const lost: string[] = [];
          for (const [rel, bytes] of source) {
            const at = [join(into, rel), join(stash, rel)].find((q) => {
              try {
                return lstatSync(q).isFile() && readFileSync(q).equals(bytes);
              } catch {
                return false;
              }
            });
            if (!at) lost.push(rel);
          }
          expect(lost.length, `${plan}: SUCCEEDED, but ${lost.length} files are nowhere in the root (${lost.slice(0, 4).join(', ')}, ...); ${describeOutcome(o)}`).toBe(0);
        });
        ran += 1;
        if (!go) break;
      }
      console.log(`[containment-race-receive (${user.label})] ${ran} rounds, ${raced} raced, ${swapped} destination directories swapped, ${succeeded} SUCCEEDED, ${Math.round((Date.now() - began) / Math.max(1, ran))} ms a round`);
      ledger.done(ran);
    }, 150_000);
  }

  it(`raced at least ${RACE_FLOOR} of its ${RECEIVE_ROUNDS} rounds (seed ${seed})`, () => {
    tally.expectAtLeast(RACE_FLOOR, 'containment-race-receive');
  });
});
