import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { isAbsolute, join, resolve } from 'node:path';
import { Type, type Static } from '@sinclair/typebox';
import { loadConfigFile, parseConfig } from '../common/config-file.js';
import { FerryError } from '../common/errors.js';
import { checkSchema } from '../common/validate.js';
import { ApiClient } from './api-client.js';
import { processIo, type CommandIo } from './output.js';

/**
 * Where the client commands find control: FERRY_URL, FERRY_TOKEN and FERRY_CA, each of which
 * overrides the same setting in `$FERRY_HOME/client.json` (written by `ferry quickstart`).
 */

export const CLIENT_CONFIG_FILE = 'client.json';

export const ClientConfig = Type.Object({
  version: Type.Literal(1),
  /** Control's base URL. */
  url: Type.String({ minLength: 9, maxLength: 1024, pattern: '^https://' }),
  /** OAuth2 bearer token (secret: the file is written 0600). */
  token: Type.String({ minLength: 1, maxLength: 4096, pattern: '^[\\x21-\\x7e]+$' }),
  /**
   * PEM file of the CA that issued control's certificate; relative names are resolved against
   * FERRY_HOME. Absent when control's certificate chains to a CA the system already trusts.
   */
  caFile: Type.Optional(Type.String({ minLength: 1, maxLength: 4096 })),
}, { additionalProperties: false });
export type ClientConfig = Static<typeof ClientConfig>;

export interface ResolvedClientConfig {
  url: string;
  token: string;
  /** Absolute path, or undefined to use the system trust store. */
  caFile: string | undefined;
}

type Env = Record<string, string | undefined>;

export function ferryHome(env: Env = process.env): string {
  const home = env['FERRY_HOME'];
  return home ? resolve(home) : join(homedir(), '.ferry');
}

export function clientConfigPath(home: string): string {
  return join(home, CLIENT_CONFIG_FILE);
}

const HOW_TO_CONFIGURE =
  'run `ferry quickstart` (it writes $FERRY_HOME/client.json), or set FERRY_URL, FERRY_TOKEN and FERRY_CA';

function fromEnv(env: Env, name: string, key: 'url' | 'token'): string | undefined {
  const value = env[name];
  if (value === undefined || value === '') return undefined;
  const problem = checkSchema(ClientConfig.properties[key], value);
  if (problem !== null) {
    throw new FerryError('Config.Invalid', key === 'url' ? `${name} must be an https:// URL, got '${value}'` : `${name} is not a valid token (${problem})`);
  }
  return value;
}

/** Resolve {url, token, caFile}; environment first, then the client config file. */
export function resolveClientConfig(env: Env = process.env): ResolvedClientConfig {
  const url = fromEnv(env, 'FERRY_URL', 'url');
  const token = fromEnv(env, 'FERRY_TOKEN', 'token');
  const envCa = env['FERRY_CA'] || undefined;

  const home = ferryHome(env);
  const file = clientConfigPath(home);
  // Only read the file when the environment leaves something open, so a broken file cannot
  // get in the way of a fully specified environment.
  const needFile = url === undefined || token === undefined || envCa === undefined;
  const cfg = needFile && existsSync(file) ? loadConfigFile(file, ClientConfig) : undefined;

  const resolved = {
    url: url ?? cfg?.url,
    token: token ?? cfg?.token,
    caFile: envCa !== undefined ? resolve(envCa) : cfg?.caFile === undefined ? undefined : isAbsolute(cfg.caFile) ? cfg.caFile : resolve(home, cfg.caFile),
  };
  if (resolved.url === undefined || resolved.token === undefined) {
    // The file's schema requires url and token, so something is missing only when there is no file.
    const missing = [resolved.url === undefined ? 'control URL (FERRY_URL)' : '', resolved.token === undefined ? 'token (FERRY_TOKEN)' : '']
      .filter(Boolean).join(' and no ');
    throw new FerryError('Config.NotFound', `no ${missing} is set and ${file} does not exist: ${HOW_TO_CONFIGURE}`);
  }
  return { url: resolved.url.replace(/\/+$/, ''), token: resolved.token, caFile: resolved.caFile };
}

/** Read the CA PEM named by the resolved config (undefined: use the system trust store). */
export function readCaFile(caFile: string | undefined): string | undefined {
  if (caFile === undefined) return undefined;
  let pem: string;
  try {
    pem = readFileSync(caFile, 'utf8');
  } catch (err) {
    throw new FerryError('Config.NotFound', `cannot read the CA certificate ${caFile} (${(err as NodeJS.ErrnoException).code ?? String(err)}); ${HOW_TO_CONFIGURE}`);
  }
  if (!pem.includes('-----BEGIN CERTIFICATE-----')) {
    throw new FerryError('Config.Invalid', `${caFile} holds no PEM certificate (-----BEGIN CERTIFICATE-----)`);
  }
  return pem;
}

/** An ApiClient for the settings found in the environment and client config. */
export function clientFromEnvironment(env: Env = process.env): ApiClient {
  const cfg = resolveClientConfig(env);
  const ca = readCaFile(cfg.caFile);
  return new ApiClient({ url: cfg.url, token: cfg.token, ...(ca === undefined ? {} : { ca }) });
}

/**
 * Write `$home/client.json` atomically with mode 0600 (it holds a token); the directory is
 * created 0700 if missing. The value is validated first, so no invalid file is ever written.
 */
export function writeClientConfig(home: string, cfg: ClientConfig): string {
  const value = parseConfig(structuredClone(cfg), ClientConfig, 'client config');
  mkdirSync(home, { recursive: true, mode: 0o700 });
  const file = clientConfigPath(home);
  const tmp = `${file}.${process.pid}.tmp`;
  try {
    writeFileSync(tmp, JSON.stringify(value, null, 2) + '\n', { mode: 0o600, flag: 'w' });
    // `mode` only applies when the file is created; a leftover temp file keeps its own mode.
    chmodSync(tmp, 0o600);
    renameSync(tmp, file);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw new FerryError('Config.Invalid', `cannot write ${file} (${(err as NodeJS.ErrnoException).code ?? String(err)})`, { cause: err });
  }
  return file;
}

/** What the client commands need; tests pass their own. */
export interface ClientCommandDeps {
  connect(): ApiClient;
  io: CommandIo;
}

export const defaultClientDeps: ClientCommandDeps = {
  connect: () => clientFromEnvironment(),
  io: processIo,
};

/** Run `fn` with a connected client and drop its keep-alive sockets afterwards. */
export async function withClient<T>(deps: ClientCommandDeps, fn: (client: ApiClient) => Promise<T>): Promise<T> {
  const client = deps.connect();
  try {
    return await fn(client);
  } finally {
    client.close();
  }
}
