import { existsSync, mkdirSync, readdirSync, utimesSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ApiClient } from '../../src/cli/api-client.js';
import type { AgentHandle, ControlHandle } from '../helpers/cluster.js';
import {
  agentUsers, containmentDir, describeOutcome, expectClearResult, giveTo, guard, RaceLedger, raceSeed, rng, roundsPerUser, settle, shuffle, startAgentAs,
  startFastControl, submitDelete, swapDirForLink, tick, writeTree, type Outcome,
} from '../helpers/containment.js';
import { runFerry } from '../helpers/process.js';

/**
 * Containment, part 4: directories swapped for links while a recursive delete runs (issue
 * "Agent containment and durability", finding 3: at 70% of a 6,000-file `ferry rm -r`, the
 * remaining sub-directories were replaced by links to a directory outside the root, and the 20
 * files there were deleted).
 *
 * Each round builds a small tree (20 files and 12 sub-directories of 20 files), starts a
 * DELETE task on it (a few rounds through `ferry rm -r`), and, from this process, swaps
 * sub-directories the agent has not reached yet for links to a directory outside the roots
 * holding 20 files: after the agent is seen starting (the tree's top level shrinks) or after a
 * seeded delay, in a seeded order, with seeded pauses. Then: nothing outside changed, and the
 * task SUCCEEDED (and the tree is gone) or FAILED with a code that says why.
 */

const TOTAL_ROUNDS = 24;
const SUBDIRS = 12;
const FILES = 20;
const OLD = new Date('2019-09-09T09:09:09Z');

const seed = raceSeed('containment-race-delete');

describe('recursive deletes racing directory-for-link swaps', () => {
  const dir = containmentDir();
  let control: ControlHandle;
  let client: ApiClient;
  let cliEnv: Record<string, string>;
  const agents = new Map<string, { agent: AgentHandle; root: string; outside: string }>();

  beforeAll(async () => {
    control = await startFastControl(dir.path);
    const user = await control.user('dora@example.org');
    client = user.client;
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
      const random = rng(seed ^ (user.uid ?? 0));
      let swapped = 0;
      let succeeded = 0;
      let ran = 0;
      const ledger = new RaceLedger(`delete races (agent as ${user.label}, seed ${seed})`);
      for (let round = 0; round < rounds; round++) {
        const victim = join(root, `victim-${round}`);
        const stash = join(root, `stash-${round}`);
        const lure = join(outside, `lure-${round}`);
        const files: Record<string, string> = {};
        for (let f = 0; f < FILES; f++) files[`top-${f}.txt`] = `top ${f}\n`;
        for (let d = 0; d < SUBDIRS; d++) for (let f = 0; f < FILES; f++) files[`d${String(d).padStart(2, '0')}/f${f}.txt`] = `inside ${d}/${f}\n`;
        writeTree(victim, files);
        mkdirSync(stash);
        writeTree(lure, Object.fromEntries(Array.from({ length: FILES }, (_, f) => [`precious-${f}.txt`, `outside the root: must survive (${round}/${f})\n`])));
        for (const name of readdirSync(lure)) utimesSync(join(lure, name), OLD, OLD);
        utimesSync(lure, OLD, OLD);
        giveTo(user, victim, stash, lure);
        const outsideGuard = guard(outside, 'the directory outside the root');

        // This round's plan.
        const viaCli = round % 8 === 3;
        const trigger = random() < 0.6 ? 'start' : 'delay';
        const delayMs = Math.floor(random() * 40);
        const fraction = 0.5 + random() * 0.5;
        const pauseTicks = Math.floor(random() * 3);
        const order = shuffle(Array.from({ length: SUBDIRS }, (_, d) => `d${String(d).padStart(2, '0')}`), random).slice(0, Math.max(1, Math.round(SUBDIRS * fraction)));
        const plan = `round ${round} (seed ${seed}): ${viaCli ? 'ferry rm -r' : 'DELETE task'}, trigger=${trigger} delay=${delayMs}ms swap ${order.length}/${SUBDIRS} pause=${pauseTicks} ticks`;

        let taskId: string;
        if (viaCli) {
          const rm = await runFerry(['rm', '--recursive', `${agent.endpointId}:/~/victim-${round}`], cliEnv);
          expect(rm.code, rm.stderr).toBe(0);
          taskId = rm.stdout.trim().split('\n')[0]!;
        } else {
          taskId = await submitDelete(client, agent.endpointId, [`/~/victim-${round}`], { recursive: true });
        }
        const started = Date.now();
        // Swap, racing the agent: bounded by the plan and by a few seconds.
        const topLevel = SUBDIRS + FILES;
        for (;;) {
          if (Date.now() - started > 5_000) break;
          if (trigger === 'delay' && Date.now() - started >= delayMs) break;
          if (trigger === 'start') {
            let n = -1;
            try { n = readdirSync(victim).length; } catch { n = -1; }
            if (n < topLevel) break;
          }
          await tick();
        }
        for (const name of order) {
          if (swapDirForLink(join(victim, name), join(stash, name), lure)) swapped += 1;
          for (let t = 0; t < pauseTicks; t++) await tick();
        }
        const o: Outcome = await settle(client, taskId, 20_000);
        if (o.task.status === 'SUCCEEDED') succeeded += 1;
        const go = ledger.check(round, o, () => {
          outsideGuard.check(`${plan}; ${describeOutcome(o)}`);
          expectClearResult(o);
          if (o.task.status === 'SUCCEEDED') expect(existsSync(victim), `${plan}: SUCCEEDED but the tree is still there; ${describeOutcome(o)}`).toBe(false);
        });
        ran += 1;
        if (!go) break;
      }
      console.log(`[containment-race-delete (${user.label})] ${ran} races, ${swapped} directories swapped for links, ${succeeded} tasks SUCCEEDED`);
      ledger.done(ran);
    }, 150_000);
  }
});
