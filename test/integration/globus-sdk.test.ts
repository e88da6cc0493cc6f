import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAgent, startControl, tempDir, type AgentHandle, type ControlHandle } from '../helpers/cluster.js';

const DRIVER = fileURLToPath(new URL('./globus-sdk/driver.mjs', import.meta.url));
const TRANSFER_DRIVER = fileURLToPath(new URL('./globus-sdk/transfer-driver.mjs', import.meta.url));

interface Line { step: string; status: number; ok: boolean; body: Record<string, unknown> | null }

/** Run the @globus/sdk driver in its own process (NODE_EXTRA_CA_CERTS is read at start-up). */
function runDriver(env: Record<string, string>, driver = DRIVER): Promise<{ code: number | null; lines: Line[]; stderr: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [driver], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    p.stdout.on('data', (d: Buffer) => { out += d.toString(); });
    p.stderr.on('data', (d: Buffer) => { err += d.toString(); });
    p.on('exit', (code) => resolve({ code, stderr: err, lines: out.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as Line) }));
  });
}

describe('@globus/sdk against Ferry control', () => {
  const dir = tempDir();
  const home = join(dir.path, 'home');
  let control: ControlHandle;
  let agent: AgentHandle;
  let token: string;
  let other: AgentHandle;

  beforeAll(async () => {
    mkdirSync(home);
    writeFileSync(join(home, '.dotfile'), 'x');
    control = await startControl(join(dir.path, 'control'));
    const user = await control.user('sdk@example.org');
    token = user.token;
    agent = await startAgent(user.client, join(dir.path, 'agent'), [`${home}:rw`], 'Ferry SDK endpoint');
    mkdirSync(join(dir.path, 'other'));
    other = await startAgent(user.client, join(dir.path, 'agent-other'), [`${join(dir.path, 'other')}:rw`], 'Ferry SDK destination');
  });
  afterAll(async () => {
    await agent?.stop();
    await other?.stop();
    await control?.stop();
    dir.cleanup();
  });

  it('gets and searches endpoints, and runs ls, mkdir, rename and stat', async () => {
    const { code, lines, stderr } = await runDriver({
      GLOBUS_SDK_SERVICE_URL_TRANSFER: control.url,
      NODE_EXTRA_CA_CERTS: control.caFile,
      FERRY_TEST_TOKEN: token,
      FERRY_TEST_ENDPOINT: agent.endpointId,
      FERRY_TEST_DIR: '/~/sdk-test',
    });
    expect(code, stderr).toBe(0);
    const step = (name: string) => lines.find((l) => l.step === name)!;

    expect(step('endpoint.get')).toMatchObject({ status: 200, body: { DATA_TYPE: 'endpoint', id: agent.endpointId, display_name: 'Ferry SDK endpoint', gcp_connected: true } });
    const search = step('endpointSearch');
    expect(search.body).toMatchObject({ DATA_TYPE: 'endpoint_list' });
    expect((search.body!['DATA'] as Array<{ id: string }>).map((e) => e.id)).toContain(agent.endpointId);

    expect(step('mkdir')).toMatchObject({ ok: true, body: { DATA_TYPE: 'mkdir_result', code: 'DirectoryCreated' } });
    const ls = step('ls.parent');
    expect(ls.body).toMatchObject({ DATA_TYPE: 'file_list', path: '/~/' });
    const names = (ls.body!['DATA'] as Array<{ name: string }>).map((f) => f.name);
    expect(names).toEqual(expect.arrayContaining(['sdk-test', '.dotfile']));

    expect(step('rename')).toMatchObject({ ok: true, body: { DATA_TYPE: 'result', code: 'FileRenamed' } });
    expect(existsSync(join(home, 'sdk-test-renamed'))).toBe(true);
    expect(step('stat.renamed')).toMatchObject({ status: 200, body: { DATA_TYPE: 'file', name: 'sdk-test-renamed', type: 'dir' } });
    const noHidden = (step('ls.parent.no-hidden').body!['DATA'] as Array<{ name: string }>).map((f) => f.name);
    expect(noHidden).not.toContain('.dotfile');
    expect(step('stat.missing')).toMatchObject({ status: 404, ok: false, body: { code: 'NotFound' } });
    expect(typeof step('stat.missing').body!['request_id']).toBe('string');
  });

  it('submits a transfer, follows the task, reads events and successful transfers, and is idempotent', async () => {
    mkdirSync(join(home, 'dataset', 'part'), { recursive: true });
    writeFileSync(join(home, 'dataset', 'a.csv'), 'a,b\n1,2\n');
    writeFileSync(join(home, 'dataset', 'part', 'b.bin'), Buffer.alloc(100_000, 7));
    const { code, lines, stderr } = await runDriver({
      GLOBUS_SDK_SERVICE_URL_TRANSFER: control.url,
      NODE_EXTRA_CA_CERTS: control.caFile,
      FERRY_TEST_TOKEN: token,
      FERRY_TEST_SRC_EP: agent.endpointId,
      FERRY_TEST_DST_EP: other.endpointId,
      FERRY_TEST_SRC_PATH: '/~/dataset/',
      FERRY_TEST_DST_PATH: '/~/dataset-copy/',
    }, TRANSFER_DRIVER);
    expect(code, stderr).toBe(0);
    const step = (name: string) => lines.find((l) => l.step === name)!;
    expect(step('submissionId').body).toMatchObject({ DATA_TYPE: 'submission_id' });
    const submitted = step('submitTransfer');
    expect(submitted.body).toMatchObject({ DATA_TYPE: 'transfer_result', code: 'Accepted' });
    expect(step('task.get').body).toMatchObject({ DATA_TYPE: 'task', status: 'SUCCEEDED', label: 'sdk transfer', files_transferred: 2 });
    const codes = (step('getEventList').body!['DATA'] as Array<{ code: string }>).map((e) => e.code);
    expect(codes).toEqual(expect.arrayContaining(['STARTED', 'SUCCEEDED']));
    const files = (step('getSuccessfulTransfers').body!['DATA'] as Array<{ destination_path: string }>).map((f) => f.destination_path).sort();
    expect(files).toEqual(['/~/dataset-copy/a.csv', '/~/dataset-copy/part/b.bin']);
    expect(step('resubmit').body).toMatchObject({ code: 'Duplicate', task_id: submitted.body!['task_id'] });
    expect(readFileSync(join(dir.path, 'other', 'dataset-copy', 'part', 'b.bin')).equals(Buffer.alloc(100_000, 7))).toBe(true);
  });
});
