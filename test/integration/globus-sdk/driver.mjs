// Drives Ferry's control service with the official @globus/sdk, through its public API only,
// to prove that unmodified Globus clients work against it. Run as a child process:
//
//   GLOBUS_SDK_SERVICE_URL_TRANSFER=https://127.0.0.1:<port>  (origin only: the SDK drops any path)
//   NODE_EXTRA_CA_CERTS=<control CA pem>   (must be set when node starts; read once at startup)
//   FERRY_TEST_TOKEN=<bearer token>
//   FERRY_TEST_ENDPOINT=<endpoint uuid>
//   FERRY_TEST_DIR=<api path inside the endpoint, e.g. /~/sdk-test>
//   FERRY_TEST_SEARCH=<optional fulltext term; default: prefix of the endpoint's display_name>
//   FERRY_TEST_TIMEOUT_MS=<optional per-request timeout, default 20000>
//
// Prints one JSON line per call: {step, status, ok, body} (body = parsed JSON, or null with
// `text` holding the raw body when it is not JSON). Exit 0 when every call got an HTTP
// response, whatever its status; exit 1 on a crash (network/TLS error, timeout, bad env).
import path from 'node:path';
import { transfer } from '@globus/sdk';

function requireEnv(name) {
  const value = process.env[name];
  if (value === undefined || value === '') {
    throw new Error(`missing environment variable ${name}`);
  }
  return value;
}

// sdkOptions.fetch.options is spread into the underlying fetch init (node-fetch via
// cross-fetch), so a per-request abort signal bounds every call.
const timeoutMs = Number(process.env.FERRY_TEST_TIMEOUT_MS ?? 20_000);
function sdkOptions() {
  return { fetch: { options: { signal: AbortSignal.timeout(timeoutMs) } } };
}

async function run(step, call) {
  const response = await call();
  const text = await response.text();
  let body = null;
  let parsed = true;
  try {
    body = text === '' ? null : JSON.parse(text);
  } catch {
    parsed = false;
  }
  const line = { step, status: response.status, ok: response.ok, body };
  if (!parsed) line.text = text;
  process.stdout.write(`${JSON.stringify(line)}\n`);
  return line;
}

function searchTerm(endpointLine) {
  if (process.env.FERRY_TEST_SEARCH) return process.env.FERRY_TEST_SEARCH;
  const name = endpointLine.body?.display_name;
  if (typeof name !== 'string' || name === '') return 'ferry';
  // A prefix (not the full name) shows that fulltext search matches word prefixes.
  return name.slice(0, 4);
}

async function main() {
  // The SDK reads GLOBUS_SDK_SERVICE_URL_TRANSFER on every call; check it here so a missing
  // value fails loudly instead of sending the token to the production Globus host.
  requireEnv('GLOBUS_SDK_SERVICE_URL_TRANSFER');
  const token = requireEnv('FERRY_TEST_TOKEN');
  const endpointId = requireEnv('FERRY_TEST_ENDPOINT');
  const testDir = requireEnv('FERRY_TEST_DIR').replace(/\/+$/, '');
  const renamedDir = `${testDir}-renamed`;
  // Globus directory paths end with '/'; the service normalises, but send the canonical form.
  const parentDir = `${path.posix.dirname(testDir).replace(/\/+$/, '')}/`;
  const missingPath = `${testDir}-does-not-exist`;
  // The token travels as a plain request header: no AuthorizationManager, no OAuth flow.
  const headers = { Authorization: `Bearer ${token}` };

  const endpointLine = await run('endpoint.get', () =>
    transfer.endpoint.get(endpointId, { headers }, sdkOptions()),
  );

  await run('endpointSearch', () =>
    transfer.endpointSearch(
      {
        query: { filter_fulltext: searchTerm(endpointLine), filter_scope: 'my-endpoints' },
        headers,
      },
      sdkOptions(),
    ),
  );

  await run('mkdir', () =>
    transfer.fileOperations.mkdir(endpointId, { payload: { path: testDir }, headers }, sdkOptions()),
  );

  await run('ls.parent', () =>
    transfer.fileOperations.ls(endpointId, { query: { path: parentDir }, headers }, sdkOptions()),
  );

  await run('rename', () =>
    transfer.fileOperations.rename(
      endpointId,
      { payload: { old_path: testDir, new_path: renamedDir }, headers },
      sdkOptions(),
    ),
  );

  await run('stat.renamed', () =>
    transfer.fileOperations.stat(endpointId, { query: { path: renamedDir }, headers }, sdkOptions()),
  );

  await run('ls.parent.no-hidden', () =>
    transfer.fileOperations.ls(
      endpointId,
      { query: { path: parentDir, show_hidden: false }, headers },
      sdkOptions(),
    ),
  );

  await run('stat.missing', () =>
    transfer.fileOperations.stat(endpointId, { query: { path: missingPath }, headers }, sdkOptions()),
  );
}

main().then(
  // Exit explicitly (idle keep-alive sockets must not hold the process), after stdout drains.
  () => process.stdout.write('', () => process.exit(0)),
  (err) => {
    // A crash is anything that produced no HTTP response; say what it was on stderr.
    const cause = err?.cause ? ` (cause: ${err.cause.code ?? err.cause.message ?? err.cause})` : '';
    process.stderr.write(`driver crashed: ${err?.code ?? ''} ${err?.message ?? err}${cause}\n`);
    process.exit(1);
  },
);
