// Drives a transfer through the official @globus/sdk: submission id, submitTransfer, polling
// task.get, getEventList, getSuccessfulTransfers, and a re-submission with the same id.
// Run as a child process with GLOBUS_SDK_SERVICE_URL_TRANSFER, NODE_EXTRA_CA_CERTS,
// FERRY_TEST_TOKEN, FERRY_TEST_SRC_EP, FERRY_TEST_DST_EP, FERRY_TEST_SRC_PATH,
// FERRY_TEST_DST_PATH. Prints one JSON line per call {step, status, ok, body}; exits 0 when
// every call got an HTTP response.
import { transfer } from '@globus/sdk';

function env(name) {
  const v = process.env[name];
  if (!v) throw new Error(`missing environment variable ${name}`);
  return v;
}

const headers = { Authorization: `Bearer ${env('FERRY_TEST_TOKEN')}` };
const opts = () => ({ fetch: { options: { signal: AbortSignal.timeout(20_000) } } });

async function run(step, call) {
  const res = await call();
  const text = await res.text();
  let body = null;
  try { body = text ? JSON.parse(text) : null; } catch { body = null; }
  process.stdout.write(`${JSON.stringify({ step, status: res.status, ok: res.ok, body })}\n`);
  return body;
}

async function main() {
  env('GLOBUS_SDK_SERVICE_URL_TRANSFER');
  const sub = await run('submissionId', () => transfer.taskSubmission.submissionId({ headers }, opts()));
  const payload = {
    submission_id: sub.value,
    source_endpoint: env('FERRY_TEST_SRC_EP'),
    destination_endpoint: env('FERRY_TEST_DST_EP'),
    label: 'sdk transfer',
    verify_checksum: true,
    DATA: [{ DATA_TYPE: 'transfer_item', source_path: env('FERRY_TEST_SRC_PATH'), destination_path: env('FERRY_TEST_DST_PATH'), recursive: true }],
  };
  const submitted = await run('submitTransfer', () => transfer.taskSubmission.submitTransfer({ payload, headers }, opts()));
  const taskId = submitted.task_id;
  let task;
  const deadline = Date.now() + 60_000;
  do {
    await new Promise((r) => setTimeout(r, 200));
    const res = await transfer.task.get(taskId, { headers }, opts());
    task = await res.json();
  } while (task.status === 'ACTIVE' && Date.now() < deadline);
  process.stdout.write(`${JSON.stringify({ step: 'task.get', status: 200, ok: true, body: task })}\n`);
  await run('getEventList', () => transfer.task.getEventList(taskId, { query: { limit: 100, offset: 0 }, headers }, opts()));
  await run('getSuccessfulTransfers', () => transfer.task.getSuccessfulTransfers(taskId, { headers }, opts()));
  await run('resubmit', () => transfer.taskSubmission.submitTransfer({ payload, headers }, opts()));
}

main().then(
  () => process.stdout.write('', () => process.exit(0)),
  (err) => { process.stderr.write(`driver crashed: ${err?.message ?? err}\n`); process.exit(1); },
);
