import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAgent, startControl, tempDir, type AgentHandle, type ControlHandle } from '../helpers/cluster.js';
import { IDENTITIES_SCOPE, TRANSFER_SCOPE, oauthTokens, person, personalToken, type Person } from '../helpers/sharing.js';
import { startSmtp, type ReceivedMail, type TestSmtp } from '../helpers/smtp.js';
import { treeDigest } from '../helpers/tasks.js';

/**
 * Issue 12 point 5, "the book's sharing example works": Figure 11.2 of Foster & Gannon's
 * chapter 11 (globus-api.md §8), written against the official @globus/sdk exactly as a user
 * would write it, with only the base URLs pointing at Ferry. The sharer makes a folder on her
 * host endpoint, creates a guest collection on it, reads her collaborator's e-mail address from
 * Auth and grants her `r` on `/` with a notification; the collaborator lists the share and
 * transfers it to her own endpoint; a third identity is refused. The flow runs twice: with
 * tokens Ferry Auth issued through OAuth2 (authorization code + PKCE, public client), and with
 * admin-minted personal tokens (`ferry control token issue`).
 */

const DRIVER = fileURLToPath(new URL('./globus-sdk/sharing-driver.mjs', import.meta.url));
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const TRANSFER_RS = 'transfer.api.globus.org';
const AUTH_RS = 'auth.globus.org';
const SMTP_USER = 'ferry-mailer';
const SMTP_PASSWORD = 'smtp-secret-sharing-sdk-1';
const NOTE = 'Here is the data we talked about.';

interface Line {
  step: string;
  status?: number;
  ok?: boolean;
  body?: any;
  text?: string;
  sent?: Record<string, unknown>;
  skipped?: boolean;
  reason?: string;
  polls?: number;
}

interface DriverRun { code: number | null; lines: Line[]; stderr: string }

/** Drivers still running (a hook that timed out leaves one behind): killed in afterAll. */
const running = new Set<ChildProcess>();

/** Run the @globus/sdk driver in its own process (NODE_EXTRA_CA_CERTS is read at start-up). */
function runDriver(control: ControlHandle, plan: Record<string, unknown>): Promise<DriverRun> {
  return new Promise((resolve) => {
    const env = {
      ...process.env,
      GLOBUS_SDK_SERVICE_URL_TRANSFER: control.url,
      GLOBUS_SDK_SERVICE_URL_AUTH: control.url,
      NODE_EXTRA_CA_CERTS: control.caFile,
      FERRY_SHARING_PLAN: JSON.stringify(plan),
    };
    const p = spawn(process.execPath, [DRIVER], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    running.add(p);
    let out = '';
    let err = '';
    p.stdout.on('data', (d: Buffer) => { out += d.toString(); });
    p.stderr.on('data', (d: Buffer) => { err += d.toString(); });
    p.on('exit', (code) => {
      running.delete(p);
      resolve({ code, stderr: err, lines: out.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as Line) });
    });
  });
}

/** The line of one step; a missing step fails with everything the driver printed. */
function stepOf(lines: Line[], name: string): Line {
  const line = lines.find((l) => l.step === name);
  if (!line) throw new Error(`the driver printed no step ${name}:\n${lines.map((l) => JSON.stringify(l)).join('\n')}`);
  return line;
}

/** What a step answered, for failure messages. */
const shown = (line: Line): string => JSON.stringify(line);

interface Tokens { sharerTransfer: string; sharerAuth: string; collaborator: string; stranger: string }

describe("the book's sharing example (Figure 11.2) through @globus/sdk", () => {
  const dir = tempDir('ferry-sharing-sdk-');
  const hostRoot = join(dir.path, 'host');
  const collabRoot = join(dir.path, 'collab');
  let control: ControlHandle;
  let sharer: Person;
  let collaborator: Person;
  let stranger: Person;
  let host: AgentHandle;
  let collabEp: AgentHandle;
  let smtp: TestSmtp;

  /** The first mail that arrived (or arrives) satisfying `match`. */
  async function mailWhere(match: (m: ReceivedMail) => boolean): Promise<ReceivedMail> {
    for (let n = 1; ; ) {
      const all = await smtp.waitForMails(n);
      const hit = all.find(match);
      if (hit) return hit;
      n = all.length + 1;
    }
  }

  beforeAll(async () => {
    mkdirSync(hostRoot);
    mkdirSync(collabRoot);
    // Something of hers that is not shared: it must not show through the share.
    writeFileSync(join(hostRoot, 'not-shared.txt'), 'private');
    // Control mails access-rule notifications (notify_email) through a real SMTP server on 127.0.0.1.
    smtp = await startSmtp(SMTP_USER, SMTP_PASSWORD);
    const controlDir = join(dir.path, 'control');
    const configFile = join(dir.path, 'control.json');
    writeFileSync(configFile, JSON.stringify({
      version: 1, dataDir: controlDir,
      smtp: { host: '127.0.0.1', port: smtp.port, from: 'Ferry <ferry@ferry.test>', user: SMTP_USER, password: SMTP_PASSWORD },
    }));
    control = await startControl(controlDir, ['--config', configFile]);
    sharer = await person(control, 'sharer');
    collaborator = await person(control, 'collaborator');
    stranger = await person(control, 'stranger');
    host = await startAgent(sharer.client, join(dir.path, 'agent-host'), [`${hostRoot}:rw:share`], 'sharer lab storage');
    collabEp = await startAgent(collaborator.client, join(dir.path, 'agent-collab'), [`${collabRoot}:rw`], 'collaborator laptop');
  }, 120_000);

  afterAll(async () => {
    for (const p of running) p.kill('SIGKILL');
    await host?.stop();
    await collabEp?.stop();
    await control?.stop();
    await smtp?.close();
    dir.cleanup();
  });

  const flows: Array<{ name: string; key: string; tokens: () => Promise<Tokens> }> = [
    {
      name: 'tokens Ferry Auth issued through OAuth2 (authorization code + PKCE, public client)',
      key: 'oauth',
      tokens: async () => {
        const scopes = [TRANSFER_SCOPE, IDENTITIES_SCOPE, 'openid', 'email'];
        const of = async (who: Person) => {
          const t = await oauthTokens(control, who, scopes);
          return { transfer: t.get(TRANSFER_RS)!, auth: t.get(AUTH_RS)! };
        };
        const s = await of(sharer);
        const c = await of(collaborator);
        const x = await of(stranger);
        for (const t of [s.transfer, s.auth, c.transfer, x.transfer]) expect(t).toBeTruthy();
        return { sharerTransfer: s.transfer, sharerAuth: s.auth, collaborator: c.transfer, stranger: x.transfer };
      },
    },
    {
      name: 'admin-minted personal tokens (ferry control token issue)',
      key: 'minted',
      // One token per service, as Globus issues them: the sharer's second one is for Auth (identities).
      tokens: async () => ({ sharerTransfer: sharer.token, sharerAuth: await personalToken(control, sharer, 'auth.globus.org'), collaborator: collaborator.token, stranger: stranger.token }),
    },
  ];

  for (const flow of flows) {
    describe(`with ${flow.name}`, () => {
      const folder = `/~/shared-${flow.key}/`;
      const folderOnDisk = join(hostRoot, `shared-${flow.key}`);
      const destination = `/~/from-share-${flow.key}/`;
      const displayName = `Shared data (${flow.key})`;
      const description = 'Folder shared with a collaborator, as in Figure 11.2';
      let shareRun: DriverRun;
      let useRun: DriverRun | undefined;
      let shareId: string | undefined;
      const share = (name: string) => stepOf(shareRun.lines, name);
      const use = (name: string) => {
        if (!useRun) throw new Error(`the collaborator's phase did not run: endpoint.create answered ${shown(share('endpoint.create'))}`);
        return stepOf(useRun.lines, name);
      };

      beforeAll(async () => {
        const tokens = await flow.tokens();
        shareRun = await runDriver(control, {
          phase: 'share', host_endpoint: host.endpointId, folder, display_name: displayName, description, permissions: 'r',
          notify_message: NOTE,
          sharer: { transfer: tokens.sharerTransfer, auth: tokens.sharerAuth }, collaborator: { id: collaborator.identityId },
        });
        if (shareRun.code !== 0) throw new Error(`sharing driver crashed: ${shareRun.stderr}\n${shareRun.lines.map(shown).join('\n')}`);
        const created = share('endpoint.create');
        shareId = created.ok && typeof created.body?.id === 'string' ? created.body.id : undefined;
        if (shareId === undefined) return;
        // The sharer puts her data into the folder she has shared (on her own disk, as a GCP user does).
        if (existsSync(folderOnDisk)) {
          mkdirSync(join(folderOnDisk, 'notes'));
          mkdirSync(join(folderOnDisk, 'raw', 'day-2'), { recursive: true });
          writeFileSync(join(folderOnDisk, 'a.csv'), 'x,y\n1,2\n3,4\n');
          writeFileSync(join(folderOnDisk, 'notes', 'readme.txt'), `shared through ${flow.key}\n`);
          writeFileSync(join(folderOnDisk, 'raw', 'run-1.bin'), randomBytes(300_000));
          writeFileSync(join(folderOnDisk, 'raw', 'day-2', 'run-2.bin'), randomBytes(1_200_000));
        }
        useRun = await runDriver(control, {
          phase: 'use', share: shareId,
          collaborator: { transfer: tokens.collaborator, endpoint: collabEp.endpointId, destination },
          stranger: { transfer: tokens.stranger },
        });
        if (useRun.code !== 0) throw new Error(`sharing driver crashed: ${useRun.stderr}\n${useRun.lines.map(shown).join('\n')}`);
      }, 120_000);

      it('makes the folder and creates a guest collection on it (fileOperations.mkdir, endpoint.create)', async () => {
        const mkdir = share('mkdir');
        expect(mkdir, shown(mkdir)).toMatchObject({ ok: true, body: { DATA_TYPE: 'mkdir_result', code: 'DirectoryCreated' } });
        expect(statSync(folderOnDisk).isDirectory()).toBe(true);

        const created = share('endpoint.create');
        expect(created, shown(created)).toMatchObject({
          status: 201,
          body: { DATA_TYPE: 'endpoint_create_result', code: 'Created', id: expect.stringMatching(UUID), message: 'Shared endpoint created' },
        });
        expect(typeof created.body.request_id, shown(created)).toBe('string');
        expect(created.body.resource, shown(created)).toMatch(/^(\/v0\.10)?\/shared_endpoint$/);
        // What was made: a GCP guest collection on her endpoint's folder, visible to the collaborator
        // (who is not told where it lies on the host: that is for its managers).
        const doc = await collaborator.client.get<Record<string, unknown>>(`/v0.10/endpoint/${shareId}`);
        expect(doc).toMatchObject({
          DATA_TYPE: 'endpoint', id: shareId, entity_type: 'GCP_guest_collection', host_endpoint_id: host.endpointId, host_path: null,
          display_name: displayName, description, owner_id: sharer.identityId, public: true,
        });
        expect((await sharer.client.get<Record<string, unknown>>(`/v0.10/endpoint/${shareId}`))['host_path']).toBe(folder);
      });

      it("reads the collaborator's e-mail address from Auth (auth.identities.getAll with ids) and she is notified there", async () => {
        // What a Globus user expects: her token for Auth (view_identities) finds the identity and its e-mail.
        const found = share('identities.getAll');
        expect(found, shown(found)).toMatchObject({ status: 200, ok: true });
        expect(found.body?.identities, shown(found)).toEqual([
          expect.objectContaining({ id: collaborator.identityId, username: collaborator.username, email: collaborator.username, status: 'used' }),
        ]);
        // ...and the book's rule carries that address to notify her.
        const rule = share('access.create');
        expect(rule.sent?.['notify_email'], shown(rule)).toBe(collaborator.username);
        expect(rule.sent?.['notify_message'], shown(rule)).toBe(NOTE);
        // Control mails her: which collection, and the sharer's own words.
        const unfolded = (m: ReceivedMail) => m.raw.replace(/=\r?\n/g, ''); // quoted-printable soft line breaks
        const mail = await mailWhere((m) => m.to.includes(collaborator.username) && unfolded(m).includes(shareId!));
        expect(mail.from).toBe('ferry@ferry.test');
        expect(unfolded(mail)).toContain(NOTE);
      });

      it("grants her r on '/' (transfer.access.create)", async () => {
        const rule = share('access.create');
        expect(rule.sent, shown(rule)).toMatchObject({ DATA_TYPE: 'access', principal_type: 'identity', principal: collaborator.identityId, path: '/', permissions: 'r' });
        expect(rule, shown(rule)).toMatchObject({
          status: 201,
          body: { DATA_TYPE: 'access_create_result', code: 'Created', message: 'Access rule created successfully.', access_id: expect.any(String) },
        });
        expect(typeof rule.body.request_id, shown(rule)).toBe('string');
        expect(rule.body.resource, shown(rule)).toMatch(new RegExp(`^(/v0\\.10)?/endpoint/${shareId}/access$`));
        const list = await sharer.client.get<{ DATA: Array<Record<string, unknown>> }>(`/v0.10/endpoint/${shareId}/access_list`);
        expect(list.DATA).toContainEqual(expect.objectContaining({
          DATA_TYPE: 'access', id: rule.body.access_id, principal_type: 'identity', principal: collaborator.identityId, path: '/', permissions: 'r',
        }));
      });

      it('lets her list the share and transfer it to her own endpoint, byte for byte', async () => {
        const ls = use('collaborator.ls');
        expect(ls, shown(ls)).toMatchObject({ status: 200, body: { DATA_TYPE: 'file_list', path: '/' } });
        const listed = (ls.body.DATA as Array<{ name: string; type: string }>).map((e) => `${e.name}:${e.type}`).sort();
        expect(listed).toEqual(['a.csv:file', 'notes:dir', 'raw:dir']);

        expect(use('collaborator.submissionId')).toMatchObject({ status: 200, body: { DATA_TYPE: 'submission_id', value: expect.any(String) } });
        const submitted = use('collaborator.submitTransfer');
        // Any 2xx: Globus's status for an accepted submission is not on record (globus-api.md §1.2).
        expect(submitted, shown(submitted)).toMatchObject({ ok: true, body: { DATA_TYPE: 'transfer_result', code: 'Accepted', task_id: expect.any(String) } });
        const task = use('collaborator.task.get');
        expect(task, shown(task)).toMatchObject({
          status: 200,
          body: { DATA_TYPE: 'task', task_id: submitted.body.task_id, status: 'SUCCEEDED', source_endpoint_id: shareId, destination_endpoint_id: collabEp.endpointId, files: 4, files_transferred: 4 },
        });
        const copy = join(collabRoot, `from-share-${flow.key}`);
        expect(await treeDigest(copy)).toEqual(await treeDigest(folderOnDisk));
        expect(existsSync(join(copy, 'not-shared.txt'))).toBe(false);
      });

      it('refuses a third identity listing the share (403)', () => {
        const ls = use('stranger.ls');
        expect(ls, shown(ls)).toMatchObject({ status: 403, ok: false, body: { code: expect.stringMatching(/PermissionDenied$/) } });
        expect(typeof ls.body.request_id, shown(ls)).toBe('string');
        expect(ls.body.DATA, shown(ls)).toBeUndefined();
      });
    });
  }
});
