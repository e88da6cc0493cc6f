import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import tls from 'node:tls';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  agentIdentityCheck, certFingerprint, createCa, createCsr, generateKeyPair, issueServerCertificate, parseAgentIdentity,
  signAgentCsr, type CertAndKey,
} from '../../../src/pki/index.js';

interface ServerSide { authorized: boolean; authorizationError: string | undefined; raw: Buffer | undefined }
interface ClientSide { authorized: boolean; raw: Buffer }
interface Outcome { server?: ServerSide; client?: ClientSide; clientError?: Error }

const servers: tls.Server[] = [];
const sockets: tls.TLSSocket[] = [];
afterEach(async () => {
  for (const s of sockets.splice(0)) s.destroy();
  await Promise.all(servers.splice(0).map((s) => new Promise((resolve) => s.close(resolve))));
});

/**
 * One real TLS handshake on 127.0.0.1. The server never rejects (rejectUnauthorized: false)
 * so the test can read `authorized` for every client; the client side rejects as it would in
 * production, and its failure is returned rather than thrown.
 */
async function handshake(serverOpts: tls.TlsOptions, clientOpts: tls.ConnectionOptions): Promise<Outcome> {
  const server = tls.createServer({ ...serverOpts, requestCert: true, rejectUnauthorized: false });
  servers.push(server);
  const serverSide = new Promise<ServerSide>((resolve) => {
    server.once('secureConnection', (socket: tls.TLSSocket) => {
      sockets.push(socket);
      const peer = socket.getPeerCertificate();
      resolve({ authorized: socket.authorized, authorizationError: socket.authorizationError?.toString(), raw: peer.raw });
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;

  const client = tls.connect({ host: '127.0.0.1', port, ...clientOpts });
  sockets.push(client);
  const clientSide = await new Promise<ClientSide | Error>((resolve) => {
    client.once('secureConnect', () => resolve({ authorized: client.authorized, raw: client.getPeerCertificate().raw }));
    client.once('error', resolve);
  });
  if (clientSide instanceof Error) return { clientError: clientSide };
  return { client: clientSide, server: await serverSide };
}

function agent(ca: CertAndKey, nodeId: string, endpointId: string): { certPem: string; keyPem: string; fingerprint: string } {
  const keys = generateKeyPair();
  const issued = signAgentCsr(ca, createCsr(keys, 'agent-host'), { nodeId, endpointId });
  return { certPem: issued.certPem, keyPem: keys.privateKeyPem, fingerprint: issued.fingerprint };
}

const NODE_A = '0b7f6c1e-4a7e-4a55-9d6e-7d1f3b2c9a01';
const NODE_B = '5d0c2f9a-1b3e-4c8d-8e7f-60a1b2c3d4e5';
const ENDPOINT = 'c3a9e1f0-2d4b-4e6a-8b1c-9f0e1d2c3b4a';

describe('certificates in real node:tls handshakes', () => {
  let ca: CertAndKey;
  let otherCa: CertAndKey;
  let sameNameCa: CertAndKey;
  let server: CertAndKey;

  beforeAll(() => {
    ca = createCa({ commonName: 'Test CA', keyBits: 2048 });
    otherCa = createCa({ keyBits: 2048 });
    // Same subject name as `ca`: only the signature tells them apart.
    sameNameCa = createCa({ commonName: 'Test CA', keyBits: 2048 });
    server = issueServerCertificate(ca, ['localhost', '127.0.0.1', '::1']);
  });

  for (const maxVersion of ['TLSv1.3', 'TLSv1.2'] as const) {
    it(`control server and agent client verify each other (${maxVersion})`, async () => {
      const a = agent(ca, NODE_A, ENDPOINT);
      const out = await handshake(
        { key: server.keyPem, cert: server.certPem, ca: [ca.certPem], maxVersion },
        { ca: [ca.certPem], key: a.keyPem, cert: a.certPem, maxVersion },
      );
      expect(out.clientError).toBeUndefined();
      expect(out.client?.authorized).toBe(true);
      expect(out.server?.authorized).toBe(true);
      expect(out.server?.authorizationError).toBeUndefined();
      const raw = out.server?.raw;
      expect(raw).toBeInstanceOf(Buffer);
      expect(certFingerprint(raw!)).toBe(certFingerprint(a.certPem));
      expect(certFingerprint(raw!)).toBe(a.fingerprint);
      expect(parseAgentIdentity(raw!)).toEqual({ nodeId: NODE_A, endpointId: ENDPOINT });
      expect(certFingerprint(out.client!.raw)).toBe(certFingerprint(server.certPem));
    });
  }

  it('an agent certificate from another CA is not authorized', async () => {
    for (const foreign of [otherCa, sameNameCa]) {
      const a = agent(foreign, NODE_A, ENDPOINT);
      const out = await handshake(
        { key: server.keyPem, cert: server.certPem, ca: [ca.certPem] },
        { ca: [ca.certPem], key: a.keyPem, cert: a.certPem },
      );
      expect(out.server?.authorized).toBe(false);
      expect(out.server?.authorizationError).toMatch(/ISSUER|SIGNATURE|LOCAL/);
    }
  });

  it('a server certificate from another CA is refused by the agent', async () => {
    const foreignServer = issueServerCertificate(otherCa, ['127.0.0.1']);
    const a = agent(ca, NODE_A, ENDPOINT);
    const out = await handshake(
      { key: foreignServer.keyPem, cert: foreignServer.certPem, ca: [ca.certPem] },
      { ca: [ca.certPem], key: a.keyPem, cert: a.certPem },
    );
    expect(out.clientError).toBeInstanceOf(Error);
    expect(out.client).toBeUndefined();
  });

  it('the server certificate names only what it was issued for', async () => {
    const narrow = issueServerCertificate(ca, ['control.example.org']);
    const out = await handshake({ key: narrow.keyPem, cert: narrow.certPem }, { ca: [ca.certPem] });
    expect((out.clientError as NodeJS.ErrnoException | undefined)?.code).toBe('ERR_TLS_CERT_ALTNAME_INVALID');
  });

  it('agent to agent: both sides verify and the dialer checks the node id', async () => {
    const listener = agent(ca, NODE_A, ENDPOINT);
    const dialer = agent(ca, NODE_B, ENDPOINT);
    const serverOpts = { key: listener.keyPem, cert: listener.certPem, ca: [ca.certPem] };
    const clientOpts = { ca: [ca.certPem], key: dialer.keyPem, cert: dialer.certPem };

    const ok = await handshake(serverOpts, { ...clientOpts, checkServerIdentity: agentIdentityCheck(NODE_A) });
    expect(ok.client?.authorized).toBe(true);
    expect(ok.server?.authorized).toBe(true);
    expect(parseAgentIdentity(ok.server!.raw!)).toEqual({ nodeId: NODE_B, endpointId: ENDPOINT });

    const wrongPeer = await handshake(serverOpts, { ...clientOpts, checkServerIdentity: agentIdentityCheck(NODE_B) });
    expect(wrongPeer.clientError?.message).toMatch(`peer is node ${NODE_A}, expected ${NODE_B}`);

    // Without the custom check Node compares the host name, which an agent cert never carries.
    const defaultCheck = await handshake(serverOpts, clientOpts);
    expect((defaultCheck.clientError as NodeJS.ErrnoException | undefined)?.code).toBe('ERR_TLS_CERT_ALTNAME_INVALID');
  });
});
