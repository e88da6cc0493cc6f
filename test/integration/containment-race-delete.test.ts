import { existsSync, lstatSync, mkdirSync, readdirSync, utimesSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ApiClient } from '../../src/cli/api-client.js';
import type { AgentHandle, ControlHandle } from '../helpers/cluster.js';
import {
  agentUsers, containmentDir, describeOutcome, expectClearResult, giveTo, guard, RaceLedger, raceSeed, RaceTally, roundsPerUser, settle, shuffle, startAgentAs,
  startFastControl, submitDelete, swapDirForLink, tick, writeTree, type Outcome,
} from '../helpers/containment.js';
import { seededRandom } from '../helpers/seeded-random.js';
import { runFerry } from '../helpers/process.js';

/**
 * Containment, part 4: directories swapped for links while a recursive delete runs (issue
 * "Agent containment and durability", finding 3: at 70% of a 6,000-file `ferry rm -r`, the
 * remaining sub-directories were replaced by links to a directory outside the root, and the 20
 * files there were deleted).
 *
 * Each round builds a small tree (20 files and 12 sub-directories of 100 files), starts a
 * DELETE task on it (a few rounds through `ferry rm -r`), and, from this process, swaps
 * sub-directories the agent has not reached yet for links to a directory outside the roots
 * holding 20 files: after the agent is seen starting (the tree's top level shrinks) or after a
 * seeded delay, in a seeded order, with seeded pauses. Then: nothing outside changed, and the
 * task SUCCEEDED (and the tree is gone) or FAILED with a code that says why.
 */

const TOTAL_ROUNDS = 24;
/**
 * Rounds that must really race (a sub-directory swapped for a link while the task ran; see
 * RaceTally), over all agent users. This file's share of the 50 races a run (delete 16,
 * walk 14, receive 12, partials 10: 52); measured runs raced in every round.
 */
const RACE_FLOOR = 16;
const SUBDIRS = 12;
const FILES = 20;
/**
 * Files in each sub-directory. With 20 (260 files a round) the agent often emptied the whole
 * tree before this process saw it start and swapped anything: half the rounds raced nothing
 * (counted by RaceTally). 100 keeps the tree in place long enough for the swaps to land.
 */
const SUBDIR_FILES = 100;
const OLD = new Date('2019-09-09T09:09:09Z');

const seed = raceSeed('containment-race-delete');

/** Whether `p` is a symlink (existsSync follows links: a dangling one "does not exist"). */
function isLink(p: string): boolean {
  try {
    return lstatSync(p).isSymbolicLink();
  } catch {
    return false;
  }
}

describe('recursive deletes racing directory-for-link swaps', () => {
  const dir = containmentDir();
  let control: ControlHandle;
  let client: ApiClient;
  let cliEnv: Record<string, string>;
  const agents = new Map<string, { agent: AgentHandle; root: string; outside: string }>();
  let tally: RaceTally;

  beforeAll(async () => {
    control = await startFastControl(dir.path);
    const user = await control.user('dora@example.org');
    client = user.client;
    tally = new RaceTally(client);
    cliEnv = { FERRY_URL: control.url, FERRY_TOKEN: user.token, FERRY_CA: control.caFile, FERRY_HOME: join(dir.path, 'cli-home') };
    for (const u of agentUsers()) {
      const root = join(dir.path, u.label, 'root');
      const outside = join(dir.path, u.label, 'outside');
      mkdirSync(root, { recursive: true });
      mkdirSync(outside, { recursive: true });
      giveTo(u, join(dir.path, u.label));
      agents.set(u.label, { agent: await startAgentAs(client, join(dir.path, `agent-${u.label}`), [`${root}:rw`], u, `delete race ${u.label}`), root, outside });
    }
  }, 120_000);
  afterAll(async () => {
    for (const a of agents.values()) await a.agent.stop();
    await control?.stop();
    dir.cleanup();
  });

  for (const user of agentUsers()) {
    const rounds = roundsPerUser(TOTAL_ROUNDS);
    it(`deletes nothing outside the root while sub-directories turn into links (agent as ${user.label}, ${rounds} seeded races)`, async () => {
      const { agent, root, outside } = agents.get(user.label)!;
      const random = seededRandom(seed ^ (user.uid ?? 0));
      let swapped = 0;
      let succeeded = 0;
      let ran = 0;
      let raced = 0;
      const ledger = new RaceLedger(`delete races (agent as ${user.label}, seed ${seed})`);
      for (let round = 0; round < rounds; round++) {
        const victim = join(root, `victim-${round}`);
        const stash = join(root, `stash-${round}`);
        const lure = join(outside, `lure-${round}`);
        const files: Record<string, string> = {};
        for (let f = 0; f < FILES; f++) files[`top-${f}.txt`] = `top ${f}\n`;
        for (let d = 0; d < SUBDIRS; d++) for (let f = 0; f < SUBDIR_FILES; f++) files[`d${String(d).padStart(2, '0')}/f${f}.txt`] = `inside ${d}/${f}\n`;
        writeTree(victim, files);
        mkdirSync(stash);
        writeTree(lure, Object.fromEntries(Array.from({ length: FILES }, (_, f) => [`precious-${f}.txt`, `outside the root: must survive (${round}/${f})\n`])));
        for (const name of readdirSync(lure)) utimesSync(join(lure, name), OLD, OLD);
        utimesSync(lure, OLD, OLD);
        giveTo(user, victim, stash, lure);
        const outsideGuard = guard(outside, 'the directory outside the root');

        // This round's plan.
        const viaCli = round % 8 === 3;
        // Through the CLI the task's id is known only once `ferry rm` exits (a second or so of
        // process start, by which time the agent has long finished): those rounds swap while
        // the CLI still runs, from when the agent is seen at work (a delay would count from
        // before the task existed).
        const drawn = random() < 0.6 ? 'start' : 'delay';
        const trigger = viaCli ? 'start' : drawn;
        const delayMs = Math.floor(random() * 40);
        const fraction = 0.5 + random() * 0.5;
        const pauseTicks = Math.floor(random() * 3);
        const order = shuffle(Array.from({ length: SUBDIRS }, (_, d) => `d${String(d).padStart(2, '0')}`), random).slice(0, Math.max(1, Math.round(SUBDIRS * fraction)));
        const plan = `round ${round} (seed ${seed}): ${viaCli ? 'ferry rm -r' : 'DELETE task'}, trigger=${trigger} delay=${delayMs}ms swap ${order.length}/${SUBDIRS} pause=${pauseTicks} ticks`;

        let taskId: string | null = null;
        let status = 'ACTIVE';
        let cli: Promise<string> | null = null;
        if (viaCli) {
          cli = runFerry(['rm', '--recursive', `${agent.endpointId}:/~/victim-${round}`], cliEnv).then((rm) => {
            expect(rm.code, rm.stderr).toBe(0);
            return rm.stdout.trim().split('\n')[0]!;
          });
        } else {
          taskId = await submitDelete(client, agent.endpointId, [`/~/victim-${round}`], { recursive: true });
        }
        // Links placed before the task's id is known: their status is asked once it is (ACTIVE
        // then still means ACTIVE when they landed).
        const unasked: string[] = [];
        const landed = (id: string, link: string): void => {
          // The agent met the swap if it removed the link (nothing else removes anything in the
          // tree), or if the task failed: a delete of a tree only this test touches fails only
          // because a swap changed the tree under it, so one landed while it ran.
          tally.landed(id, () => (!existsSync(link) && !isLink(link)) || status === 'FAILED');
        };
        const started = Date.now();
        // Swap, racing the agent: bounded by the plan and by a few seconds.
        const topLevel = SUBDIRS + FILES;
        for (;;) {
          if (Date.now() - started > (viaCli ? 15_000 : 5_000)) break;
          if (trigger === 'delay' && Date.now() - started >= delayMs) break;
          if (trigger === 'start') {
            let n = -1;
            try { n = readdirSync(victim).length; } catch { n = -1; }
            if (n < topLevel) break;
          }
          await tick();
        }
        for (const name of order) {
          const swap = swapDirForLink(join(victim, name), join(stash, name), lure);
          if (swap) swapped += 1;
          if (swap === 'linked') {
            if (taskId !== null) landed(taskId, join(victim, name));
            else unasked.push(join(victim, name));
          }
          for (let t = 0; t < pauseTicks; t++) await tick();
        }
        if (cli) taskId = await cli;
        for (const link of unasked) landed(taskId!, link);
        const o: Outcome = await settle(client, taskId!, 20_000);
        status = o.task.status;
        if (await tally.endRound() > 0) raced += 1;
        else console.log(`[containment-race-delete (${user.label})] no swap landed while the task ran: ${plan}`);
        if (o.task.status === 'SUCCEEDED') succeeded += 1;
        const go = ledger.check(round, o, () => {
          outsideGuard.check(`${plan}; ${describeOutcome(o)}`);
          expectClearResult(o);
          if (o.task.status === 'SUCCEEDED') expect(existsSync(victim), `${plan}: SUCCEEDED but the tree is still there; ${describeOutcome(o)}`).toBe(false);
        });
        ran += 1;
        if (!go) break;
      }
      console.log(`[containment-race-delete (${user.label})] ${ran} rounds, ${raced} raced (a swap landed while the task ran), ${swapped} directories swapped for links, ${succeeded} tasks SUCCEEDED`);
      ledger.done(ran);
    }, 150_000);
  }

  it(`raced at least ${RACE_FLOOR} of its ${TOTAL_ROUNDS} rounds (seed ${seed})`, () => {
    tally.expectAtLeast(RACE_FLOOR, 'containment-race-delete');
  });
});
