import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { hostname } from 'node:os';
import { FerryError, isErrorCode } from '../common/errors.js';
import { checkSchema } from '../common/validate.js';
import { certFingerprint, createCsr, decodeSetupKey, generateKeyPair, writePrivateFile } from '../pki/index.js';
import { CA_ROUTE, REGISTER_ROUTE, RegisterResponse, type RegisterRequest } from '../protocol/index.js';
import { FERRY_VERSION } from '../common/version.js';
import type { AgentConfig, AgentRootConfig } from './config.js';
import { agentConfigPath, inDataDir } from './paths.js';
import { parseConfig } from '../common/config-file.js';
import { AgentConfig as AgentConfigSchema } from './config.js';

interface HttpResult { status: number; body: string }

function httpsCall(url: URL, opts: { method: 'GET' | 'POST'; ca?: string; body?: string }): Promise<HttpResult> {
  return new Promise((resolve, reject) => {
    const req = request(url, {
      method: opts.method,
      // Before the CA is known and checked, the first fetch cannot verify the server; the
      // CA it returns is then checked against the hash in the setup key.
      ...(opts.ca ? { ca: opts.ca } : { rejectUnauthorized: false }),
      headers: opts.body ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(opts.body) } : {},
      timeout: 15_000,
    }, (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (c: Buffer) => {
        size += c.length;
        if (size > 1024 * 1024) { req.destroy(new Error('response too large')); return; }
        chunks.push(c);
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', (err) => reject(new FerryError('ServiceUnavailable', `cannot reach control at ${url.origin}: ${err.message}`)));
    if (opts.body) req.write(opts.body);
    req.end();
  });
}

export interface AgentSetupOptions {
  setupKey: string;
  dataDir: string;
  roots: AgentRootConfig[];
  /** Replace an existing setup in dataDir. */
  force?: boolean;
}

/**
 * `ferry agent setup`: trust control through the CA hash in the setup key, create a key pair,
 * register with a CSR, and write the credentials (0600) and agent.json.
 */
export async function setupAgent(opts: AgentSetupOptions): Promise<AgentConfig> {
  const key = decodeSetupKey(opts.setupKey.trim());
  const configFile = agentConfigPath(opts.dataDir);
  if (existsSync(configFile) && !opts.force) {
    throw new FerryError('ClientError.Conflict', `${configFile} already exists: this data directory is set up (use --force to replace it)`);
  }
  const base = new URL(key.u);
  const caRes = await httpsCall(new URL(CA_ROUTE, base), { method: 'GET' });
  if (caRes.status !== 200) throw new FerryError('ServiceUnavailable', `control at ${base.origin} did not return its CA (HTTP ${caRes.status})`);
  const caPem = caRes.body;
  let fingerprint: string;
  try {
    fingerprint = certFingerprint(caPem);
  } catch {
    throw new FerryError('SetupKey.CaMismatch', `control at ${base.origin} returned something that is not a certificate`);
  }
  if (fingerprint !== key.h) {
    throw new FerryError('SetupKey.CaMismatch', `the CA served by ${base.origin} has SHA-256 ${fingerprint}, but the setup key expects ${key.h}; refusing to talk to it`);
  }
  const keys = generateKeyPair();
  const body: RegisterRequest = { setup_key: opts.setupKey.trim(), csr: createCsr(keys, hostname()), hostname: hostname(), agent_version: FERRY_VERSION };
  const reg = await httpsCall(new URL(REGISTER_ROUTE, base), { method: 'POST', ca: caPem, body: JSON.stringify(body) });
  let parsed: unknown;
  try { parsed = JSON.parse(reg.body); } catch { parsed = undefined; }
  if (reg.status !== 201) {
    const e = parsed as { code?: unknown; message?: unknown } | undefined;
    const code = isErrorCode(e?.code) ? e.code : 'ServiceUnavailable';
    throw new FerryError(code, typeof e?.message === 'string' ? e.message : `registration failed with HTTP ${reg.status}`);
  }
  const problems = checkSchema(RegisterResponse, parsed);
  if (problems !== null) throw new FerryError('ServiceUnavailable', `control sent an invalid registration response: ${problems}`);
  const res = parsed as RegisterResponse;

  mkdirSync(opts.dataDir, { recursive: true, mode: 0o700 });
  const config = parseConfig({
    version: 1, controlUrl: key.u, nodeId: res.node_id, endpointId: res.endpoint_id,
    caFile: 'ca.crt', certFile: 'agent.crt', keyFile: 'agent.key', roots: opts.roots,
  }, AgentConfigSchema, 'agent setup');
  writePrivateFile(inDataDir(opts.dataDir, config.keyFile), keys.privateKeyPem);
  writeFileSync(inDataDir(opts.dataDir, config.certFile), res.certificate, { mode: 0o600 });
  writeFileSync(inDataDir(opts.dataDir, config.caFile), caPem, { mode: 0o644 });
  writePrivateFile(configFile, `${JSON.stringify(config, null, 2)}\n`);
  return config;
}
