// A tiny client of Ferry's control API for the benchmark, run as its own process so that it can
// run inside a network namespace (`ip netns exec bnA node api-call.mjs ...`) when control lives
// there. Connection from the environment: FB_URL, FB_CA (CA file), FB_TOKEN.
//   endpoint-create NAME        -> {"id", "setup_key"}
//   transfer '<json body>'      -> {"task_id", "seconds", "status", "task"}: submit, then poll
//                                  GET /task/{id} every 1 % of the time elapsed so far (20-200 ms)
//                                  until SUCCEEDED or FAILED;
//                                  seconds run from the POST to the poll that saw the end. A task
//                                  still running after FB_TIMEOUT_S (300) is cancelled.
//   events TASK_ID              -> the task's event_list document (up to 1000 events)
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const dist = new URL('../../dist/cli/api-client.js', import.meta.url);
const { ApiClient } = await import(fileURLToPath(dist));
const client = new ApiClient({ url: process.env.FB_URL, token: process.env.FB_TOKEN, ca: readFileSync(process.env.FB_CA, 'utf8') });
const pollMs = Number(process.env.FB_POLL_MS ?? 20);
const maxPollMs = 200;
const timeoutMs = Number(process.env.FB_TIMEOUT_S ?? 300) * 1000;
const [cmd, arg] = process.argv.slice(2);

try {
  if (cmd === 'endpoint-create') {
    const r = await client.endpointCreate({ display_name: arg, is_globus_connect: true });
    out({ id: r.id, setup_key: r.globus_connect_setup_key });
  } else if (cmd === 'transfer') {
    const { value } = await client.get('/v0.10/submission_id');
    const t0 = process.hrtime.bigint();
    const res = await client.post('/v0.10/transfer', { body: { DATA_TYPE: 'transfer', submission_id: value, ...JSON.parse(arg) } });
    let task;
    for (;;) {
      task = await client.get(`/v0.10/task/${res.task_id}`);
      if (task.status === 'SUCCEEDED' || task.status === 'FAILED') break;
      if (Number(process.hrtime.bigint() - t0) / 1e6 > timeoutMs) break;
      // Poll often enough to time the end within about 1 %, rarely enough not to load control.
      const elapsedMs = Number(process.hrtime.bigint() - t0) / 1e6;
      await new Promise((r) => setTimeout(r, Math.min(maxPollMs, Math.max(pollMs, elapsedMs / 100))));
    }
    const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
    if (task.status !== 'SUCCEEDED' && task.status !== 'FAILED') {
      // Timed out: cancel, so that a stuck task cannot run on under the next measurement.
      await client.post(`/v0.10/task/${res.task_id}/cancel`).catch(() => undefined);
      task.status = `TIMED OUT after ${seconds.toFixed(0)} s (${task.status}, ${task.bytes_transferred ?? '?'} bytes moved; cancelled)`;
    }
    let events = [];
    if (task.status !== 'SUCCEEDED') {
      events = (await client.get(`/v0.10/task/${res.task_id}/event_list`, { query: { limit: 20 } })).DATA ?? [];
    }
    out({ task_id: res.task_id, seconds, status: task.status, task, events });
  } else if (cmd === 'events') {
    out(await client.get(`/v0.10/task/${arg}/event_list`, { query: { limit: 1000 } }));
  } else {
    throw new Error(`unknown command ${cmd}`);
  }
} catch (err) {
  process.stderr.write(`${err.code ?? ''} ${err.message}\n`);
  process.exitCode = 1;
} finally {
  client.close();
}

function out(doc) { process.stdout.write(`${JSON.stringify(doc)}\n`); }
