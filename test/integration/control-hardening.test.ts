import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { connect as netConnect, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { connect as tlsConnect, createServer as createTlsServer, type ConnectionOptions, type TLSSocket } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startControl, tempDir, type ControlHandle } from '../helpers/cluster.js';
import { runFerry } from '../helpers/process.js';

/**
 * Control's HTTPS server against hostile or careless clients (issue "Agent containment and
 * durability", point 6): TLS policy, slow and surplus connections, security headers, no
 * secrets in logs, token revocation, owner-only state files. Real control processes, real
 * sockets on 127.0.0.1, real TLS.
 */

interface Res { status: number; headers: Record<string, string | string[] | undefined>; body: string }

function call(control: ControlHandle, method: string, path: string, headers: Record<string, string> = {}): Promise<Res> {
  return new Promise((resolve, reject) => {
    const req = request(new URL(path, control.url), { method, ca: control.caPem, headers, agent: false }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => { body += d.toString(); });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

const portOf = (control: ControlHandle) => Number(new URL(control.url).port);

/** A TLS connection to 127.0.0.1:port: resolves once the handshake is done, rejects if it fails or the server hangs up first. */
function tlsTo(port: number, opts: ConnectionOptions): Promise<TLSSocket> {
  return new Promise((resolve, reject) => {
    const socket = tlsConnect({ host: '127.0.0.1', port, servername: 'localhost', ...opts });
    socket.once('secureConnect', () => resolve(socket));
    socket.once('error', (err) => { socket.destroy(); reject(err); });
    socket.once('close', () => reject(new Error('closed before the TLS handshake completed')));
  });
}

// Already closed counts: on a loaded machine the handshake's end and the server's close can be
// read in one go, and 'close' is then emitted before the caller gets the socket.
const closed = (socket: { destroyed: boolean; once(event: 'close', cb: () => void): unknown }) => new Promise<void>((resolve) => {
  if (socket.destroyed) resolve();
  else socket.once('close', () => resolve());
});

describe('control HTTPS hardening', () => {
  const dir = tempDir('ferry-hardening-');
  let control: ControlHandle;
  let alice: { token: string };

  beforeAll(async () => {
    const config = join(dir.path, 'control.json');
    // Short header, handshake and keep-alive timeouts, so a slow-loris or an idle client is cut within the test
    // (not so short that a loaded machine's legitimate handshakes and requests in the other tests run into them).
    writeFileSync(config, JSON.stringify({ version: 1, dataDir: join(dir.path, 'control'), http: { headersTimeoutMs: 1500, requestTimeoutMs: 3000, tlsHandshakeTimeoutMs: 1500, keepAliveTimeoutMs: 1000 } }));
    control = await startControl(join(dir.path, 'control'), ['--config', config]);
    alice = await control.user('alice@example.org');
  });
  afterAll(async () => {
    await control?.stop();
    dir.cleanup();
  });

  describe('TLS 1.2+ with forward-secret AEAD suites only', () => {
    /** A server that accepts anything, to show the client below could connect if control let it. */
    async function permissive<T>(fn: (port: number) => Promise<T>): Promise<T> {
      const server = createTlsServer({
        key: readFileSync(join(control.dataDir, 'pki', 'server.key')), cert: readFileSync(join(control.dataDir, 'pki', 'server.crt')),
        minVersion: 'TLSv1', ciphers: 'ALL:@SECLEVEL=0',
      }, (s) => s.end());
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      try {
        return await fn((server.address() as AddressInfo).port);
      } finally {
        await new Promise((r) => server.close(r));
      }
    }

    it('speaks TLS 1.3 to a default client, and ECDHE with an AEAD cipher to a TLS 1.2 one', async () => {
      const s13 = await tlsTo(portOf(control), { ca: control.caPem });
      expect(s13.getProtocol()).toBe('TLSv1.3');
      s13.destroy();
      const s12 = await tlsTo(portOf(control), { ca: control.caPem, maxVersion: 'TLSv1.2' });
      expect(s12.getProtocol()).toBe('TLSv1.2');
      expect(s12.getCipher().name).toMatch(/^ECDHE-(RSA|ECDSA)-(AES(128|256)-GCM-SHA(256|384)|CHACHA20-POLY1305)$/);
      s12.destroy();
    });

    it('refuses TLS 1.1 and TLS 1.2 suites without forward secrecy or without AEAD', async () => {
      const weak: ConnectionOptions[] = [
        { minVersion: 'TLSv1.1', maxVersion: 'TLSv1.1', ciphers: 'DEFAULT:@SECLEVEL=0' },
        { maxVersion: 'TLSv1.2', ciphers: 'AES128-GCM-SHA256:@SECLEVEL=0' },
        { maxVersion: 'TLSv1.2', ciphers: 'AES128-SHA256:@SECLEVEL=0' },
        { maxVersion: 'TLSv1.2', ciphers: 'ECDHE-RSA-AES128-SHA256:@SECLEVEL=0' },
        { maxVersion: 'TLSv1.2', ciphers: 'ECDHE-RSA-AES128-SHA:@SECLEVEL=0' },
      ];
      for (const opts of weak) {
        // The client itself can do it ...
        await permissive(async (port) => { (await tlsTo(port, { ...opts, rejectUnauthorized: false })).destroy(); });
        // ... control will not.
        await expect(tlsTo(portOf(control), { ...opts, ca: control.caPem }), JSON.stringify(opts)).rejects.toThrow();
      }
    });
  });

  describe('slow and idle connections', () => {
    it('closes a slow-loris that keeps sending header lines and never finishes', async () => {
      const socket = await tlsTo(portOf(control), { ca: control.caPem });
      const gone = closed(socket);
      let answer = '';
      socket.on('data', (d: Buffer) => { answer += d.toString(); });
      socket.on('error', () => undefined);
      socket.write('GET /v0.10/submission_id HTTP/1.1\r\nHost: localhost\r\n');
      let n = 0;
      const drip = setInterval(() => { if (!socket.destroyed) socket.write(`X-Drip-${n++}: a\r\n`); }, 50);
      try {
        await gone;
      } finally {
        clearInterval(drip);
      }
      expect(answer === '' || answer.startsWith('HTTP/1.1 408')).toBe(true);
    });

    it('closes a connection that completes TLS and then sends nothing', async () => {
      const socket = await tlsTo(portOf(control), { ca: control.caPem });
      socket.on('error', () => undefined);
      await closed(socket);
    });

    it('closes a keep-alive connection left idle after a complete answer', async () => {
      // A real client: one request on a kept-alive connection, answered in full, then nothing.
      // Only http.keepAliveTimeoutMs can end it (the header timer stops once a request has
      // begun, and the answer offers to keep the connection): with no keep-alive timeout the
      // socket stays open and the test times out.
      const socket = await tlsTo(portOf(control), { ca: control.caPem });
      socket.on('error', () => undefined);
      let answer = '';
      let answeredWhole: () => void = () => undefined;
      const whole = new Promise<void>((resolve) => { answeredWhole = resolve; });
      socket.on('data', (d: Buffer) => {
        answer += d.toString();
        const split = answer.indexOf('\r\n\r\n');
        const length = /\r\ncontent-length: *(\d+)/i.exec(answer);
        if (split >= 0 && length && answer.length - split - 4 >= Number(length[1])) answeredWhole();
      });
      const gone = closed(socket);
      socket.write(`GET /v0.10/submission_id HTTP/1.1\r\nHost: localhost\r\nConnection: keep-alive\r\nAuthorization: Bearer ${alice.token}\r\n\r\n`);
      await whole;
      expect(answer).toMatch(/^HTTP\/1\.1 200 /);
      // Kept alive by the server (no "Connection: close"): what closes it next is the idle timer.
      expect(answer).toMatch(/\r\nconnection: keep-alive\r\n/i);
      expect(answer).toMatch(/\r\nkeep-alive: timeout=\d+/i);
      await gone;
      expect(socket.destroyed).toBe(true);
    }, 15_000);

    it('closes a connection that never starts its TLS handshake', async () => {
      const socket = netConnect(portOf(control), '127.0.0.1');
      socket.on('error', () => undefined);
      await closed(socket);
    });
  });

  describe('responses', () => {
    it('carry HSTS, nosniff and Cache-Control: no-store, on success, errors and unknown routes', async () => {
      const auth = { authorization: `Bearer ${alice.token}` };
      const answers = [
        await call(control, 'GET', '/v0.10/endpoint_search?filter_scope=my-endpoints', auth),
        await call(control, 'GET', '/v0.10/endpoint_search?filter_scope=my-endpoints'),
        await call(control, 'GET', '/v0.10/no/such/route', auth),
      ];
      expect(answers.map((a) => a.status)).toEqual([200, 401, 404]);
      for (const a of answers) {
        expect(a.headers['strict-transport-security']).toBe('max-age=31536000; includeSubDomains');
        expect(a.headers['x-content-type-options']).toBe('nosniff');
        expect(a.headers['cache-control']).toBe('no-store');
      }
    });

    it('still answers CORS preflights and cross-origin calls for browser apps', async () => {
      const pre = await call(control, 'OPTIONS', '/v0.10/endpoint_search', {
        origin: 'https://app.example.org', 'access-control-request-method': 'GET', 'access-control-request-headers': 'authorization,x-globus-client-info',
      });
      expect(pre.status).toBe(204);
      expect(pre.headers['access-control-allow-origin']).toBe('*');
      expect(String(pre.headers['access-control-allow-headers'])).toMatch(/authorization/);
      const res = await call(control, 'GET', '/v0.10/endpoint_search?filter_scope=my-endpoints', { origin: 'https://app.example.org', authorization: `Bearer ${alice.token}` });
      expect(res.status).toBe(200);
      expect(res.headers['access-control-allow-origin']).toBe('*');
      expect(res.headers['cross-origin-resource-policy']).toBe('cross-origin');
    });
  });

  it('never logs a token sent in the query string or the Authorization header', async () => {
    await call(control, 'GET', '/v0.10/endpoint_search?filter_scope=my-endpoints&access_token=SECRET123', { authorization: `Bearer ${alice.token}` });
    await call(control, 'GET', '/v0.10/task_list?access_token=SECRET123', { authorization: 'Bearer SECRET123SECRET123SECRET123' });
    await call(control, 'GET', '/v0.10/nowhere?access_token=SECRET123');
    // The requests were logged (path only, the query marked redacted) ...
    await control.proc.waitForLog(/"url":"\/v0.10\/nowhere","query":"\[redacted\]"/);
    const log = control.proc.stderr();
    expect(log).toMatch(/"url":"\/v0.10\/endpoint_search","query":"\[redacted\]"/);
    // ... and no secret is anywhere in the log.
    expect(log).not.toContain('SECRET123');
    expect(log).not.toContain(alice.token);
  });

  it('keeps control.db, its -wal and -shm, and the data directory owner-only', () => {
    const db = join(control.dataDir, 'control.db');
    expect(statSync(db).mode & 0o777).toBe(0o600);
    for (const extra of ['-wal', '-shm']) if (existsSync(db + extra)) expect(statSync(db + extra).mode & 0o777).toBe(0o600);
    expect(statSync(control.dataDir).mode & 0o777).toBe(0o700);
  });

  describe('tokens', () => {
    const admin = (args: string[]) => runFerry(['control', 'token', ...args, '--data-dir', control.dataDir]);

    it('lists tokens without secrets and revokes one so that the running control refuses it at once', async () => {
      const issued = await admin(['issue', '--username', 'alice@example.org']);
      const token = issued.stdout.trim();
      expect((await call(control, 'GET', '/v0.10/submission_id', { authorization: `Bearer ${token}` })).status).toBe(200);

      const listed = await admin(['list', '--username', 'alice@example.org', '--format', 'json']);
      expect(listed.code).toBe(0);
      expect(listed.stdout).not.toContain(token);
      const rows = JSON.parse(listed.stdout) as Array<{ id: string; username: string; status: string; expires: string | null }>;
      expect(rows.length).toBeGreaterThanOrEqual(2);
      expect(rows.every((r) => r.username === 'alice@example.org' && r.status === 'active' && /^[0-9a-f]{16}$/.test(r.id))).toBe(true);
      const text = await admin(['list']);
      expect(text.stdout).toMatch(/^ID +USERNAME +STATUS/);
      expect(text.stdout).not.toContain(token);

      // A token's id is the start of its SHA-256, so the issuer can find it in the list.
      const { createHash } = await import('node:crypto');
      const id = createHash('sha256').update(token).digest('hex').slice(0, 16);
      expect(rows.map((r) => r.id)).toContain(id);
      const revoked = await admin(['revoke', id.slice(0, 10)]);
      expect(revoked.code).toBe(0);
      expect(revoked.stdout).toContain(`Revoked token ${id}`);
      // No polling: the very next request is refused.
      const after = await call(control, 'GET', '/v0.10/submission_id', { authorization: `Bearer ${token}` });
      expect(after.status).toBe(401);
      expect(JSON.parse(after.body)).toMatchObject({ code: 'ClientError.AuthenticationFailed', message: 'Token is revoked' });
      // Other tokens of the same identity still work.
      expect((await call(control, 'GET', '/v0.10/submission_id', { authorization: `Bearer ${alice.token}` })).status).toBe(200);
      expect((await admin(['revoke', '--token', token])).stdout).toContain('was already revoked');
      expect(JSON.parse((await admin(['list', '--format', 'json'])).stdout).find((r: { id: string }) => r.id === id)).toMatchObject({ status: 'revoked' });
    });

    it('refuses --expires-in 0 and issues a never-expiring token only with --never-expires', async () => {
      const zero = await admin(['issue', '--username', 'alice@example.org', '--expires-in', '0']);
      expect(zero.code).not.toBe(0);
      expect(zero.stderr).toMatch(/--never-expires/);
      const forever = await admin(['issue', '--username', 'alice@example.org', '--never-expires']);
      expect(forever.code).toBe(0);
      expect(forever.stderr).toMatch(/never expires/);
      const rows = JSON.parse((await admin(['list', '--format', 'json'])).stdout) as Array<{ expires: string | null; status: string }>;
      expect(rows.some((r) => r.expires === null && r.status === 'active')).toBe(true);
    });
  });
});

describe('control connection cap', () => {
  const dir = tempDir('ferry-maxconn-');
  let control: ControlHandle;

  beforeAll(async () => {
    const config = join(dir.path, 'control.json');
    writeFileSync(config, JSON.stringify({ version: 1, dataDir: join(dir.path, 'control'), http: { maxConnections: 2 } }));
    control = await startControl(join(dir.path, 'control'), ['--config', config]);
  });
  afterAll(async () => {
    await control?.stop();
    dir.cleanup();
  });

  it('refuses the connection beyond http.maxConnections, and accepts again once one closes', async () => {
    const port = portOf(control);
    const held = [await tlsTo(port, { ca: control.caPem }), await tlsTo(port, { ca: control.caPem })];
    await expect(tlsTo(port, { ca: control.caPem })).rejects.toThrow();
    await control.proc.waitForLog(/connections refused: too many open connections/);
    const gone = held.shift()!;
    gone.end();
    await closed(gone);
    // The server notices the close on its own schedule: try until it has (the test timeout bounds this).
    let next: TLSSocket | undefined;
    while (!next) {
      next = await tlsTo(port, { ca: control.caPem }).catch(() => undefined);
      if (!next) await new Promise((r) => setTimeout(r, 20));
    }
    expect(next.getProtocol()).toBe('TLSv1.3');
    next.destroy();
    for (const s of held) s.destroy();
  });
});
