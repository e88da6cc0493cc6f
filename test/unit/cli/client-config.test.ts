import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { clientConfigPath, clientFromEnvironment, readCaFile, resolveClientConfig, writeClientConfig } from '../../../src/cli/client-config.js';
import { makeTestPki, sendJson, startFakeControl } from './tls-fixture.js';

let home: string;
beforeEach(() => { home = mkdtempSync(join(tmpdir(), 'ferry-client-')); });
afterEach(() => { rmSync(home, { recursive: true, force: true }); });

const fileCfg = { version: 1 as const, url: 'https://control.example:7750', token: 'file-token', caFile: 'ca.crt' };

describe('resolveClientConfig', () => {
  it('reads $FERRY_HOME/client.json and resolves caFile against FERRY_HOME', () => {
    writeClientConfig(home, fileCfg);
    expect(resolveClientConfig({ FERRY_HOME: home })).toEqual({ url: 'https://control.example:7750', token: 'file-token', caFile: join(home, 'ca.crt') });
  });

  it('lets each environment variable override its setting alone', () => {
    writeClientConfig(home, fileCfg);
    expect(resolveClientConfig({ FERRY_HOME: home, FERRY_URL: 'https://127.0.0.1:9/' })).toEqual({ url: 'https://127.0.0.1:9', token: 'file-token', caFile: join(home, 'ca.crt') });
    expect(resolveClientConfig({ FERRY_HOME: home, FERRY_TOKEN: 'env-token' }).token).toBe('env-token');
    expect(resolveClientConfig({ FERRY_HOME: home, FERRY_CA: '/etc/ferry/ca.pem' }).caFile).toBe('/etc/ferry/ca.pem');
    // An empty variable counts as unset.
    expect(resolveClientConfig({ FERRY_HOME: home, FERRY_URL: '' }).url).toBe('https://control.example:7750');
  });

  it('needs no file when the environment gives everything, even if the file is broken', () => {
    writeFileSync(clientConfigPath(home), '{not json');
    expect(resolveClientConfig({ FERRY_HOME: home, FERRY_URL: 'https://h:1', FERRY_TOKEN: 't', FERRY_CA: '/ca.pem' })).toEqual({ url: 'https://h:1', token: 't', caFile: '/ca.pem' });
    expect(() => resolveClientConfig({ FERRY_HOME: home, FERRY_URL: 'https://h:1' })).toThrow(expect.objectContaining({ code: 'Config.Invalid' }));
  });

  it('allows no CA (system trust store) when neither the file nor FERRY_CA names one', () => {
    writeClientConfig(home, { version: 1, url: 'https://h:1', token: 't' });
    expect(resolveClientConfig({ FERRY_HOME: home }).caFile).toBeUndefined();
  });

  it('says how to configure when nothing is set', () => {
    const err = (() => { try { resolveClientConfig({ FERRY_HOME: home }); } catch (e) { return e as Error & { code: string }; } throw new Error('no error'); })();
    expect(err.code).toBe('Config.NotFound');
    expect(err.message).toContain('ferry quickstart');
    expect(err.message).toContain('FERRY_URL');
    expect(err.message).toContain(clientConfigPath(home));
    expect(() => resolveClientConfig({ FERRY_HOME: home, FERRY_URL: 'https://h:1' })).toThrow(/no token \(FERRY_TOKEN\)/);
  });

  it('validates the file: unknown keys, http URLs and a missing version are rejected', () => {
    const file = clientConfigPath(home);
    writeFileSync(file, JSON.stringify({ ...fileCfg, extra: 1 }));
    expect(() => resolveClientConfig({ FERRY_HOME: home })).toThrow(/unknown key 'extra'/);
    writeFileSync(file, JSON.stringify({ ...fileCfg, url: 'http://h:1' }));
    expect(() => resolveClientConfig({ FERRY_HOME: home })).toThrow(expect.objectContaining({ code: 'Config.Invalid' }));
    writeFileSync(file, JSON.stringify({ url: fileCfg.url, token: 't' }));
    expect(() => resolveClientConfig({ FERRY_HOME: home })).toThrow(/version/);
  });

  it('validates environment values with the same schema', () => {
    expect(() => resolveClientConfig({ FERRY_HOME: home, FERRY_URL: 'http://h:1', FERRY_TOKEN: 't' })).toThrow(/FERRY_URL must be an https:\/\/ URL/);
    expect(() => resolveClientConfig({ FERRY_HOME: home, FERRY_URL: 'https://h:1', FERRY_TOKEN: 'a b' })).toThrow(/FERRY_TOKEN is not a valid token/);
  });
});

describe('writeClientConfig', () => {
  it('creates the directory and writes the file 0600, replacing a looser one', () => {
    const nested = join(home, 'new', '.ferry');
    const file = writeClientConfig(nested, fileCfg);
    expect(file).toBe(clientConfigPath(nested));
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(statSync(nested).mode & 0o777).toBe(0o700);
    expect(JSON.parse(readFileSync(file, 'utf8'))).toEqual(fileCfg);
    chmodSync(file, 0o644);
    writeClientConfig(nested, { ...fileCfg, token: 'second' });
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(JSON.parse(readFileSync(file, 'utf8')).token).toBe('second');
    expect(readdirSync(nested)).toEqual(['client.json']);
  });

  it('refuses to write an invalid config', () => {
    expect(() => writeClientConfig(home, { ...fileCfg, url: 'ftp://x' })).toThrow(expect.objectContaining({ code: 'Config.Invalid' }));
    expect(readdirSync(home)).toEqual([]);
  });
});

describe('clientFromEnvironment', () => {
  it('reads the CA file and reaches control with the configured token', async () => {
    const pki = makeTestPki();
    const control = await startFakeControl(pki, (_req, res) => sendJson(res, 200, { DATA_TYPE: 'endpoint', id: 'x', display_name: 'x' }));
    try {
      writeFileSync(join(home, 'ca.crt'), pki.caPem);
      writeClientConfig(home, { version: 1, url: control.url, token: 'from-file', caFile: 'ca.crt' });
      const client = clientFromEnvironment({ FERRY_HOME: home });
      try {
        await client.endpointGet('x');
      } finally {
        client.close();
      }
      expect(control.requests[0]?.headers.authorization).toBe('Bearer from-file');
    } finally {
      await control.close();
    }
  });

  it('reports a missing or non-PEM CA file as a config error', () => {
    expect(() => readCaFile(join(home, 'nope.pem'))).toThrow(expect.objectContaining({ code: 'Config.NotFound', message: expect.stringContaining('ENOENT') }));
    writeFileSync(join(home, 'bad.pem'), 'hello');
    expect(() => readCaFile(join(home, 'bad.pem'))).toThrow(expect.objectContaining({ code: 'Config.Invalid' }));
    expect(readCaFile(undefined)).toBeUndefined();
  });
});
