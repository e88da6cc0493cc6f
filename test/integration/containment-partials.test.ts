import { randomBytes } from 'node:crypto';
import { watch, type FSWatcher, linkSync, lstatSync, mkdirSync, readdirSync, readFileSync, symlinkSync, utimesSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ApiClient } from '../../src/cli/api-client.js';
import type { AgentHandle, ControlHandle } from '../helpers/cluster.js';
import {
  agentUsers, containmentDir, describeOutcome, expectClearResult, filesContaining, filesUnder, giveTo, guard, plantHardLink, plantLink, RaceLedger, raceSeed, RaceTally, roundsPerUser, settle,
  startAgentAs, startFastControl, writeTree, type AgentUser, type Outcome,
} from '../helpers/containment.js';
import { seededRandom } from '../helpers/seeded-random.js';
import { submitTransfer } from '../helpers/tasks.js';

/**
 * Containment, part 2: links a local user plants at the destination's partial-file names
 * (issue "Agent containment and durability", finding 2: with the destination agent stopped,
 * links `.ferry-part.<task8>.<name>` to files outside the roots were planted; after a restart
 * both tasks SUCCEEDED, the outside files held the transferred bytes, and the final names
 * became links leading out). Whatever is planted, the agent must not write, truncate, create
 * or read anything outside its roots, and must leave regular files with the source's bytes
 * (never a link) at its final names.
 *
 * The current scheme is `.ferry-part.<first 8 of the task id>.<name>`
 * (src/transfer/session/paths.ts). Links are planted there while the destination agent is
 * down, and, for schemes that cannot be guessed (the fix adds a random part), at every
 * `.ferry-part*` name seen appearing during a transfer: an inotify watcher and a polling loop
 * in this process replace each (seeded choice) with a link, racing the agent.
 */

const OLD = new Date('2020-02-03T04:05:06Z');
/** In every outside file planted links lead to: found at a destination, it was read from outside. */
const MARKER = 'OUTSIDE-MARKER';
const LARGE = 1024 * 1024 + 4097; // above the 256 KiB small-file threshold: written in chunks, not batched
/** Partial-name races in this file, over all agent users (the twin's rounds come on top). */
const RACE_ROUNDS = roundsPerUser(10);
/** Rounds of the twin variant: a few, so the twin is raced too at little cost in CI time. */
const TWIN_RACE_ROUNDS = 2;
/**
 * Rounds that must really race (a link planted at a partial's name while the task ran; see
 * RaceTally), over all variants: this file's share of the 50 races a run.
 */
const RACE_FLOOR = 10;

/**
 * Who runs the agents, and with which file access layer. Every agent user runs with the native
 * addon (when it loads); the last one (an ordinary user when the suite runs as root) once more
 * with its TypeScript twin forced (FERRY_NO_NATIVE=1, the `/proc/self/fd` implementation a
 * machine without a compiler gets), so containment is shown for both implementations.
 */
interface Variant { user: AgentUser; twin: boolean; label: string; rounds: number }
const variants: Variant[] = [
  ...agentUsers().map((user) => ({ user, twin: false, label: user.label, rounds: RACE_ROUNDS })),
  ...agentUsers().slice(-1).map((user) => ({ user, twin: true, label: `${user.label}, TypeScript twin (FERRY_NO_NATIVE=1)`, rounds: TWIN_RACE_ROUNDS })),
];

describe('links planted at partial names', () => {
  const shared = containmentDir();
  let control: ControlHandle;
  let client: ApiClient;
  let tally: RaceTally;
  beforeAll(async () => {
    control = await startFastControl(shared.path);
    ({ client } = await control.user('pia@example.org'));
    tally = new RaceTally(client);
  }, 120_000);
  afterAll(async () => {
    await control?.stop();
    shared.cleanup();
  });

  for (const { user, twin, label, rounds } of variants) {
    describe(`agent as ${label}`, () => {
      const dir = { path: join(shared.path, twin ? `${user.label}-twin` : user.label) };
      const srcRoot = join(dir.path, 'src');
      const dstRoot = join(dir.path, 'dst');
      const outside = join(dir.path, 'outside');
      let src: AgentHandle;
      let dst: AgentHandle;
      const seed = raceSeed(`containment-partials (${label})`);
      const env: Record<string, string> = twin ? { FERRY_NO_NATIVE: '1' } : {};

      beforeAll(async () => {
        for (const d of [srcRoot, dstRoot, outside]) mkdirSync(d, { recursive: true });
        giveTo(user, srcRoot, dstRoot, outside);
        src = await startAgentAs(client, join(dir.path, 'agent-src'), [`${srcRoot}:rw`], user, 'partials source', {}, env);
        dst = await startAgentAs(client, join(dir.path, 'agent-dst'), [`${dstRoot}:rw`], user, 'partials destination', {}, env);
        // The twin really runs (the agent logs its file access layer at start).
        if (twin) for (const a of [src, dst]) expect(a.proc.stderr().split('\n').find((l) => l.includes('"msg":"file access layer"'))).toMatch(/"fs":"twin"/);
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

      /**
       * After a transfer of src/<tree> into dst/<tree>:
       * - no final name is a symlink (the agent never renames a planted link into place);
       * - no final name holds bytes copied from an outside file (a different inode with MARKER
       *   bytes: the agent read outside the roots);
       * - if the task SUCCEEDED, every final name is a regular file with the source's bytes
       *   (not a planted hard link moved into place: that would be data silently dropped).
       *   After a failure, a final name left is a regular file; its bytes are not vouched for.
       */
      function checkFinals(tree: string, names: string[], o: Outcome, srcTree = tree): void {
        const outsideInodes = new Set([...filesUnder(outside).keys()].map((rel) => lstatSync(join(outside, rel)).ino));
        const finals = filesContaining(join(dstRoot, tree), MARKER).filter((p) => names.some((n) => p.endsWith(`/${n}`)));
        const copied = finals.filter((p) => !outsideInodes.has(lstatSync(p).ino));
        expect(copied, `bytes read from outside the roots were written to final names: ${describeOutcome(o)}`).toEqual([]);
        for (const name of names) {
          const p = join(dstRoot, tree, name);
          let st;
          try {
            st = lstatSync(p);
          } catch {
            expect(o.task.status, `${tree}/${name} is missing although the task SUCCEEDED: ${describeOutcome(o)}`).not.toBe('SUCCEEDED');
            continue;
          }
          expect(st.isSymbolicLink(), `${tree}/${name} is a symlink after the transfer: ${describeOutcome(o)}`).toBe(false);
          expect(st.isFile(), `${tree}/${name} is not a regular file: ${describeOutcome(o)}`).toBe(true);
          if (o.task.status === 'SUCCEEDED') {
            const moved = outsideInodes.has(st.ino) ? ' (it is a hard link to an outside file, moved into place)' : '';
            expect(readFileSync(p).equals(readFileSync(join(srcRoot, srcTree, name))), `${tree}/${name} holds other bytes than the source${moved}, yet the task SUCCEEDED: ${describeOutcome(o)}`).toBe(true);
          }
        }
      }

      it('never follows links planted at partial names while the destination agent was down', async () => {
        const names = ['a.txt', 'b.txt', 'dangling.txt', 'big.bin', 'big-dangling.bin', 'hard.txt', 'hard-big.bin'];
        writeTree(join(srcRoot, 'planted'), {
          'a.txt': 'source a\n', 'b.txt': 'source b\n', 'dangling.txt': 'source dangling\n', 'big.bin': randomBytes(LARGE), 'big-dangling.bin': randomBytes(LARGE + 1),
          'hard.txt': 'source hard\n', 'hard-big.bin': randomBytes(LARGE + 3),
        });
        writeTree(srcRoot, { 'planted-single.bin': randomBytes(LARGE + 2) });
        const targets = outsideFiles('partial-targets', {
          'a.txt': `${MARKER} a\n`, 'b.txt': `${MARKER} b\n`, 'big.bin': `${MARKER} big\n`, 'single.bin': `${MARKER} single\n`, 'hard.txt': `${MARKER} hard\n`, 'hard-big.bin': `${MARKER} hard big\n`,
        });
        mkdirSync(join(dstRoot, 'planted'));
        giveTo(user, srcRoot, dstRoot);
        const outsideGuard = guard(outside, 'the directory outside the roots');

        await dst.stop();
        const treeTask = await transfer('/~/planted/', '/~/planted/', true);
        const singleTask = await transfer('/~/planted-single.bin', '/~/planted-single.bin', false);
        const plant = (taskId: string, dirPath: string, name: string, target: string) => {
          const p = join(dirPath, `.ferry-part.${taskId.slice(0, 8)}.${name}`);
          symlinkSync(target, p);
          giveTo(user, p);
        };
        plant(treeTask, join(dstRoot, 'planted'), 'a.txt', join(targets, 'a.txt'));
        plant(treeTask, join(dstRoot, 'planted'), 'b.txt', join(targets, 'b.txt'));
        plant(treeTask, join(dstRoot, 'planted'), 'dangling.txt', join(targets, 'created-by-agent.txt'));
        plant(treeTask, join(dstRoot, 'planted'), 'big.bin', join(targets, 'big.bin'));
        plant(treeTask, join(dstRoot, 'planted'), 'big-dangling.bin', join(targets, 'created-big.bin'));
        plant(singleTask, dstRoot, 'planted-single.bin', join(targets, 'single.bin'));
        // Hard links: O_NOFOLLOW does not see them; only creating the partial exclusively does.
        linkSync(join(targets, 'hard.txt'), join(dstRoot, 'planted', `.ferry-part.${treeTask.slice(0, 8)}.hard.txt`));
        linkSync(join(targets, 'hard-big.bin'), join(dstRoot, 'planted', `.ferry-part.${treeTask.slice(0, 8)}.hard-big.bin`));
        await dst.start();

        const outcomes = [await settle(client, treeTask, 40_000), await settle(client, singleTask, 40_000)];
        outsideGuard.check(outcomes.map(describeOutcome).join('\n'));
        checkFinals('planted', names, outcomes[0]!);
        checkFinals('', ['planted-single.bin'], outcomes[1]!);
        for (const o of outcomes) expectClearResult(o);
      }, 120_000);

      it(`never follows links planted at every partial name seen during a transfer (${rounds} seeded races)`, async () => {
        const random = seededRandom(seed ^ 0x5eed);
        const files: Record<string, Buffer> = {};
        for (let i = 0; i < 30; i++) files[`s${String(i).padStart(3, '0')}.dat`] = randomBytes(1 + Math.floor(random() * 6000));
        for (let i = 0; i < 2; i++) files[`L${i}.bin`] = randomBytes(LARGE + i);
        writeTree(join(srcRoot, 'watched'), files);
        giveTo(user, srcRoot);
        const names = Object.keys(files);
        let planted = 0;
        let ran = 0;
        const ledger = new RaceLedger(`partial-name races (agent as ${label}, seed ${seed})`);
        let raced = 0;
        for (let round = 0; round < rounds; round++) {
          const targets = outsideFiles(`watch-targets-${round}`, Object.fromEntries(names.map((n) => [n, `${MARKER} ${n}\n`])));
          const tree = `watched-${round}`;
          const into = join(dstRoot, tree);
          mkdirSync(into);
          giveTo(user, into);
          const outsideGuard = guard(outside, 'the directory outside the roots');
          // Each round plants with a seeded probability (some partials are left alone), in turn
          // symlinks to existing outside files, dangling symlinks, and hard links to outside
          // files. The attack is bounded (a seeded number of links, within 1.5 s of the first):
          // an agent that notices and retries the task must be able to finish afterwards.
          const p = 0.5 + random() * 0.5;
          const budget = 6 + Math.floor(random() * 10);
          const kind = (['symlink', 'dangling symlink', 'hard link'] as const)[round % 3]!;
          const seen = new Set<string>();
          let plantedHere = 0;
          let firstAt = 0;
          // Plants can land before the submission's answer names the task: counted once it does.
          let taskOf: string | null = null;
          let plantsBeforeId = 0;
          const hit = (name: string | null): void => {
            if (!name || !name.startsWith('.ferry-part') || name.includes('.plant-') || seen.has(name)) return;
            seen.add(name);
            if (plantedHere >= budget || (firstAt > 0 && Date.now() - firstAt > 1500)) return;
            if (random() > p) return;
            const path = join(into, name);
            try {
              if (!lstatSync(path).isFile()) return;
            } catch {
              return;
            }
            const final = names.find((n) => name.endsWith(n)) ?? names[0]!;
            try {
              if (kind === 'hard link') plantHardLink(join(targets, final), path);
              else plantLink(kind === 'dangling symlink' ? join(targets, `new-${name}`) : join(targets, final), path);
              planted += 1;
              plantedHere += 1;
              if (taskOf !== null) tally.landed(taskOf);
              else plantsBeforeId += 1;
              if (firstAt === 0) firstAt = Date.now();
            } catch {
              // Renamed into place already: the race went to the agent this time.
            }
          };
          let watcher: FSWatcher | null = null;
          let active = true;
          try {
            watcher = watch(into, (_event, name) => hit(name === null ? null : String(name)));
            const taskId = await transfer(`/~/watched/`, `/~/${tree}/`, true, { verify_checksum: round % 3 !== 2 });
            taskOf = taskId;
            // Asked now, after those plants: ACTIVE now means ACTIVE when they landed.
            for (; plantsBeforeId > 0; plantsBeforeId--) tally.landed(taskId);
            const polling = (async () => {
              while (active) {
                try {
                  for (const name of readdirSync(into)) hit(name);
                } catch {
                  // gone
                }
                await new Promise((r) => setImmediate(r));
              }
            })();
            const o = await settle(client, taskId, 30_000);
            active = false;
            await polling;
            watcher.close();
            ran += 1;
            if (await tally.endRound() > 0) raced += 1;
            const go = ledger.check(round, o, () => {
              outsideGuard.check(`round ${round} (seed ${seed}, ${kind}s); ${describeOutcome(o)}`);
              checkFinals(tree, names, o, 'watched');
              expectClearResult(o);
            });
            if (!go) break;
          } finally {
            active = false;
            watcher?.close();
          }
        }
        console.log(`[containment-partials (${label})] ${ran} rounds, ${raced} raced, ${planted} links planted at partial names`);
        ledger.done(ran);
      }, 120_000);

    });
  }

  it(`raced at least ${RACE_FLOOR} of its rounds`, () => {
    tally.expectAtLeast(RACE_FLOOR, 'containment-partials');
  });
});
