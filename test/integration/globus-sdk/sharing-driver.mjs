// The sharing example of Foster & Gannon's chapter 11 (its Figure 11.2, globus-api.md §8),
// written against the official @globus/sdk as a user would write it. Only the base URLs
// differ from what a user would run against Globus. Run as a child process:
//
//   GLOBUS_SDK_SERVICE_URL_TRANSFER=https://127.0.0.1:<port>   (origin only: the SDK drops any path)
//   GLOBUS_SDK_SERVICE_URL_AUTH=https://127.0.0.1:<port>
//   NODE_EXTRA_CA_CERTS=<control CA pem>                         (read once, when node starts)
//   FERRY_SHARING_PLAN=<JSON, see below>
//   FERRY_TEST_TIMEOUT_MS=<optional per-request timeout, default 20000>
//   FERRY_TEST_TASK_DEADLINE_MS=<optional bound on following the task, default 90000>
//
// The plan has two phases, one per run of the driver, so that the sharer can put data into the
// folder she has just shared before her collaborator looks at it:
//
//   phase "share" (the book's two functions, as the sharer):
//     { phase: 'share', host_endpoint, folder, display_name, description, permissions, notify_message,
//       sharer: { transfer: <token>, auth: <token> }, collaborator: { id } }
//     1. mkdir            transfer.fileOperations.mkdir(host, {payload: {path: folder}})
//     2. endpoint.create  transfer.endpoint.create({payload: {DATA_TYPE: 'shared_endpoint', host_endpoint,
//                         host_path: folder, display_name, description}})  -> the share id
//     3. identities.getAll auth.identities.getAll({query: {ids: collaborator id}})  -> her e-mail
//     4. access.create    transfer.access.create(share, {payload: {DATA_TYPE: 'access', principal_type:
//                         'identity', principal, path: '/', permissions, notify_email, notify_message}})
//
//   phase "use" (the collaborator with her own credentials, then someone else):
//     { phase: 'use', share, collaborator: { transfer: <token>, endpoint, destination }, stranger: { transfer: <token> } }
//     5. collaborator.ls              transfer.fileOperations.ls(share, {query: {path: '/'}})
//     6. collaborator.submissionId    transfer.taskSubmission.submissionId()
//     7. collaborator.submitTransfer  transfer.taskSubmission.submitTransfer({payload}) share:/ -> her endpoint
//     8. collaborator.task.get        transfer.task.get(task) until the task is no longer ACTIVE, or the
//                                     deadline passes (one line: the last document, with `polls`)
//     9. stranger.ls                  transfer.fileOperations.ls(share, {query: {path: '/'}})
//
// Prints one JSON line per call: {step, status, ok, body} (body = parsed JSON, or null with `text`
// holding the raw body when it is not JSON); calls that send a document also print it as `sent`.
// A step that cannot run because an earlier one gave nothing to go on prints
// {step, skipped: true, reason}. Exit 0 when every call got an HTTP response, whatever its
// status; exit 1 on a crash (network/TLS error, timeout, bad plan), with the reason on stderr.
import { auth, transfer } from '@globus/sdk';

const timeoutMs = Number(process.env.FERRY_TEST_TIMEOUT_MS ?? 20_000);
const taskDeadlineMs = Number(process.env.FERRY_TEST_TASK_DEADLINE_MS ?? 90_000);
// sdkOptions.fetch.options is spread into the fetch init (node-fetch via cross-fetch): a per-call abort signal.
const opts = () => ({ fetch: { options: { signal: AbortSignal.timeout(timeoutMs) } } });
// Tokens travel as plain headers: no AuthorizationManager, so the SDK makes each call exactly once.
const bearer = (token) => ({ Authorization: `Bearer ${token}` });

function print(line) {
  process.stdout.write(`${JSON.stringify(line)}\n`);
}

async function answer(response) {
  const text = await response.text();
  try {
    return { body: text === '' ? null : JSON.parse(text) };
  } catch {
    return { body: null, text };
  }
}

async function run(step, call, sent) {
  const response = await call();
  const line = { step, status: response.status, ok: response.ok, ...(await answer(response)) };
  if (sent !== undefined) line.sent = sent;
  print(line);
  return line;
}

function skip(step, reason) {
  print({ step, skipped: true, reason });
}

function need(value, what) {
  if (value === undefined || value === null || value === '') throw new Error(`plan: missing ${what}`);
  return value;
}

/** The book's create_share: make the folder, then a guest collection on it. Returns the share id. */
async function createShare(plan, headers) {
  const host = need(plan.host_endpoint, 'host_endpoint');
  const folder = need(plan.folder, 'folder');
  await run('mkdir', () => transfer.fileOperations.mkdir(host, { payload: { path: folder }, headers }, opts()));
  const document = {
    DATA_TYPE: 'shared_endpoint',
    host_endpoint: host,
    host_path: folder,
    display_name: need(plan.display_name, 'display_name'),
    description: plan.description ?? 'Shared with collaborators',
  };
  // endpoint.create adds DATA_TYPE itself (Object.assign on the payload), so keep a copy of what we meant to send.
  const created = await run('endpoint.create', () => transfer.endpoint.create({ payload: { ...document }, headers }, opts()), document);
  return created.ok && typeof created.body?.id === 'string' ? created.body.id : undefined;
}

/** The book's grant_access: read the collaborator's e-mail from Auth, then add an access rule for her. */
async function grantAccess(plan, share, transferHeaders, authHeaders) {
  const principal = need(plan.collaborator?.id, 'collaborator.id');
  const found = await run('identities.getAll', () => auth.identities.getAll({ query: { ids: principal }, headers: authHeaders }, opts()));
  const identity = found.ok && Array.isArray(found.body?.identities) ? found.body.identities.find((i) => i?.id === principal) : undefined;
  const email = typeof identity?.email === 'string' && identity.email !== '' ? identity.email : undefined;
  if (share === undefined) {
    skip('access.create', 'endpoint.create gave no share id');
    return;
  }
  // The book's code would stop here without an address (it indexes the answer); the driver goes on
  // without notify_email so that the rest of the flow is still exercised, and says so in `sent`.
  const rule = {
    DATA_TYPE: 'access',
    principal_type: 'identity',
    principal,
    path: '/',
    permissions: need(plan.permissions, 'permissions'),
    ...(email === undefined ? {} : { notify_email: email, notify_message: plan.notify_message ?? 'I shared a folder with you.' }),
  };
  await run('access.create', () => transfer.access.create(share, { payload: { ...rule }, headers: transferHeaders }, opts()), rule);
}

async function sharePhase(plan) {
  const transferHeaders = bearer(need(plan.sharer?.transfer, 'sharer.transfer'));
  const authHeaders = bearer(need(plan.sharer?.auth, 'sharer.auth'));
  const share = await createShare(plan, transferHeaders);
  await grantAccess(plan, share, transferHeaders, authHeaders);
}

async function usePhase(plan) {
  const share = need(plan.share, 'share');
  const collaborator = bearer(need(plan.collaborator?.transfer, 'collaborator.transfer'));
  const stranger = bearer(need(plan.stranger?.transfer, 'stranger.transfer'));

  await run('collaborator.ls', () => transfer.fileOperations.ls(share, { query: { path: '/' }, headers: collaborator }, opts()));

  const sub = await run('collaborator.submissionId', () => transfer.taskSubmission.submissionId({ headers: collaborator }, opts()));
  const payload = {
    submission_id: sub.body?.value,
    source_endpoint: share,
    destination_endpoint: need(plan.collaborator.endpoint, 'collaborator.endpoint'),
    label: 'from the shared folder',
    verify_checksum: true,
    DATA: [{ DATA_TYPE: 'transfer_item', source_path: '/', destination_path: need(plan.collaborator.destination, 'collaborator.destination'), recursive: true }],
  };
  const submitted = await run('collaborator.submitTransfer', () => transfer.taskSubmission.submitTransfer({ payload, headers: collaborator }, opts()), payload);
  const taskId = submitted.body?.task_id;
  if (!submitted.ok || typeof taskId !== 'string') {
    skip('collaborator.task.get', 'submitTransfer gave no task id');
  } else {
    // Follow the task as a user's script would: poll until it is no longer ACTIVE. The deadline
    // only bounds the wait: a task still ACTIVE then is printed as it is, for the test to judge.
    const deadline = Date.now() + taskDeadlineMs;
    let last;
    let polls = 0;
    for (;;) {
      const response = await transfer.task.get(taskId, { headers: collaborator }, opts());
      polls += 1;
      last = { step: 'collaborator.task.get', status: response.status, ok: response.ok, ...(await answer(response)), polls };
      if (!response.ok || last.body?.status !== 'ACTIVE' || Date.now() >= deadline) break;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    print(last);
  }

  await run('stranger.ls', () => transfer.fileOperations.ls(share, { query: { path: '/' }, headers: stranger }, opts()));
}

async function main() {
  // The SDK reads these on every call; check them so that a missing one fails loudly instead
  // of sending a token to Globus's production hosts.
  need(process.env.GLOBUS_SDK_SERVICE_URL_TRANSFER, 'GLOBUS_SDK_SERVICE_URL_TRANSFER');
  need(process.env.GLOBUS_SDK_SERVICE_URL_AUTH, 'GLOBUS_SDK_SERVICE_URL_AUTH');
  const plan = JSON.parse(need(process.env.FERRY_SHARING_PLAN, 'FERRY_SHARING_PLAN'));
  if (plan.phase === 'share') await sharePhase(plan);
  else if (plan.phase === 'use') await usePhase(plan);
  else throw new Error(`plan: unknown phase ${JSON.stringify(plan.phase)}`);
}

main().then(
  // Exit explicitly (idle keep-alive sockets must not hold the process), after stdout drains.
  () => process.stdout.write('', () => process.exit(0)),
  (err) => {
    const cause = err?.cause ? ` (cause: ${err.cause.code ?? err.cause.message ?? err.cause})` : '';
    process.stderr.write(`driver crashed: ${err?.code ?? ''} ${err?.message ?? err}${cause}\n`);
    process.exit(1);
  },
);
