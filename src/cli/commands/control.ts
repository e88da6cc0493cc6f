import { join } from 'node:path';
import type { Command } from 'commander';
import { FerryError } from '../../common/errors.js';
import type { ControlConfig, TokenInfo } from '../../control/index.js';
import { ferryHome } from '../client-config.js';
import { safeText, table } from '../output.js';
import { registerAuthAdminCommands } from './auth-admin.js';

// Heavy modules (fastify, SQLite, forge) load only when a command needs them, so that
// `ferry --help` and the client commands start fast.
const loadControl = () => import('../../control/index.js');
const DEFAULT_TOKEN_TTL_SECONDS = 48 * 3600;

export function parseListen(value: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d{1,5})$/.exec(value);
  const port = m ? Number(m[3]) : NaN;
  if (!m || port > 65535) throw new FerryError('Config.Invalid', `--listen ${value}: expected HOST:PORT, e.g. 127.0.0.1:7750 or [::1]:7750`);
  return { host: (m[1] ?? m[2])!, port };
}

function defaultDataDir(): string {
  return join(ferryHome(), 'control');
}

interface RunOptions { config?: string; dataDir?: string; listen?: string; publicUrl?: string; logLevel?: string }

/** Build the effective config: the file (if any), then command-line overrides. */
async function controlConfigFrom(opts: RunOptions): Promise<ControlConfig> {
  const { loadConfigFile, parseConfig } = await import('../../common/config-file.js');
  const { ControlConfig } = await loadControl();
  const base: Record<string, unknown> = opts.config
    ? structuredClone(loadConfigFile(opts.config, ControlConfig)) as Record<string, unknown>
    : { version: 1, dataDir: opts.dataDir ?? defaultDataDir() };
  if (opts.config && opts.dataDir) base['dataDir'] = opts.dataDir;
  if (opts.listen) base['listen'] = parseListen(opts.listen);
  if (opts.publicUrl) base['publicUrl'] = opts.publicUrl;
  if (opts.logLevel) base['log'] = { level: opts.logLevel };
  return parseConfig(base, ControlConfig, opts.config ?? 'command line');
}

export function registerControlCommands(program: Command): void {
  const control = program.command('control').description('run and administer the control service (REST API, agent hub, CA)');

  control.command('run')
    .description('run the control service: HTTPS REST API (Globus Transfer v0.10 subset) and the agent WebSocket on one port')
    .option('--config <file>', 'control config file (see config/control.example.json)')
    .option('--data-dir <dir>', 'state directory: CA, certificates, SQLite database (default $FERRY_HOME/control)')
    .option('--listen <host:port>', 'address to listen on (default 127.0.0.1:7750)')
    .option('--public-url <url>', 'URL agents and clients use to reach control (goes into setup keys)')
    .option('--log-level <level>', 'trace|debug|info|warn|error')
    .addHelpText('after', '\nExample:\n  ferry control run --data-dir /var/lib/ferry/control --listen 0.0.0.0:7750 --public-url https://ferry.example.org:7750\n')
    .action(async (opts: RunOptions) => {
      const config = await controlConfigFrom(opts);
      const { ControlService } = await loadControl();
      const { createLogger } = await import('../../common/logger.js');
      const { runUntilSignalled } = await import('../daemon-runner.js');
      const log = createLogger({ level: config.log.level, name: 'ferry-control' });
      const service = new ControlService(config, log);
      await service.open();
      process.stdout.write(
        `Ferry control listening on ${service.url}\n` +
        `CA certificate: ${service.paths.caCert}\n` +
        `CA SHA-256 fingerprint: ${service.caFingerprint}\n`,
      );
      await runUntilSignalled([service], log);
    });

  registerAuthAdminCommands(control, defaultDataDir);

  const token = control.command('token').description('manage bearer tokens (offline, on the data directory)');
  token.command('issue')
    .description('issue a bearer token for the transfer API and print it (shown once; stored only as a hash)')
    .requiredOption('--username <name>', 'identity that owns the token')
    .option('--expires-in <seconds>', `lifetime in seconds, at least 1 (default ${DEFAULT_TOKEN_TTL_SECONDS})`)
    .option('--never-expires', 'issue a token that never expires (revoke it with `ferry control token revoke` when it is no longer needed)')
    .option('--resource-server <name>', 'the service the token is for: transfer.api.globus.org (default), auth.globus.org (identities, userinfo) or groups.api.globus.org', 'transfer.api.globus.org')
    .option('--format <format>', 'text (just the token) or json', 'text')
    .option('--data-dir <dir>', 'control data directory (default $FERRY_HOME/control)')
    .addHelpText('after', '\nA token that never expires must be asked for explicitly with --never-expires; --expires-in 0 is refused.\nAs with Globus, a token is for one service: issue one per service a program calls.\n')
    .action(async (opts: { username: string; expiresIn?: string; neverExpires?: boolean; resourceServer: string; format: string; dataDir?: string }) => {
      const { issueToken } = await loadControl();
      const ttl = tokenTtl(opts);
      const issued = issueToken(opts.dataDir ?? defaultDataDir(), opts.username, ttl, opts.resourceServer);
      if (opts.format === 'json') {
        process.stdout.write(`${JSON.stringify({
          access_token: issued.token, token_type: 'Bearer', identity_id: issued.identity.id,
          expires_in: ttl, resource_server: opts.resourceServer, scope: issued.scopes.join(' '),
        }, null, 2)}\n`);
      } else {
        process.stdout.write(`${issued.token}\n`);
        if (ttl === null) process.stderr.write('ferry: note: this token never expires; revoke it with `ferry control token revoke` when it is no longer needed\n');
      }
    });

  token.command('list')
    .description('list tokens without their secrets: id (a prefix of the token\'s SHA-256), owner, scopes, created, expires, revoked')
    .option('--username <name>', 'only the tokens of this identity')
    .option('--format <format>', 'text or json', 'text')
    .option('--data-dir <dir>', 'control data directory (default $FERRY_HOME/control)')
    .action(async (opts: { username?: string; format: string; dataDir?: string }) => {
      const { listTokens } = await loadControl();
      const tokens = listTokens(opts.dataDir ?? defaultDataDir(), opts.username === undefined ? {} : { username: opts.username });
      process.stdout.write(opts.format === 'json' ? `${JSON.stringify(tokens.map(tokenJson), null, 2)}\n` : formatTokens(tokens));
    });

  token.command('revoke')
    .description('revoke a token at once: by its id from `token list` (8 or more leading hex digits), or by the token itself with --token')
    .argument('[id]', 'token id (hash prefix) as `ferry control token list` shows it')
    .option('--token <token>', 'the token itself; "-" reads it from standard input (keeps it out of the process list)')
    .option('--data-dir <dir>', 'control data directory (default $FERRY_HOME/control)')
    .addHelpText('after', '\nA running control refuses the token from its next request on.\n\nExamples:\n  ferry control token list --username alice@example.org\n  ferry control token revoke 3f9a2c41d07b5e88\n  echo "$TOKEN" | ferry control token revoke --token -\n')
    .action(async (id: string | undefined, opts: { token?: string; dataDir?: string }) => {
      if ((id === undefined) === (opts.token === undefined)) throw new FerryError('ClientError.BadRequest', 'name the token to revoke: give its id, or --token TOKEN (not both)');
      const { revokeToken } = await loadControl();
      const secret = opts.token === '-' ? (await readStdin()).trim() : opts.token;
      const result = revokeToken(opts.dataDir ?? defaultDataDir(), secret !== undefined ? { token: secret } : { id: id! });
      process.stdout.write(result.revoked ? `Revoked token ${result.id}\n` : `Token ${result.id} was already revoked\n`);
    });
}

/** --expires-in / --never-expires as a lifetime in seconds, or null for never. */
export function tokenTtl(opts: { expiresIn?: string; neverExpires?: boolean }): number | null {
  if (opts.neverExpires) {
    if (opts.expiresIn !== undefined) throw new FerryError('Config.Invalid', '--never-expires and --expires-in exclude each other');
    return null;
  }
  if (opts.expiresIn === undefined) return DEFAULT_TOKEN_TTL_SECONDS;
  if (!/^\d+$/.test(opts.expiresIn)) throw new FerryError('Config.Invalid', '--expires-in must be a whole number of seconds');
  const ttl = Number(opts.expiresIn);
  if (ttl === 0) throw new FerryError('Config.Invalid', '--expires-in 0 is refused: for a token that never expires, say --never-expires');
  return ttl;
}

function isoOrNull(ms: number | null): string | null {
  return ms === null ? null : new Date(ms).toISOString();
}

function tokenJson(t: TokenInfo): Record<string, unknown> {
  return {
    id: t.id, identity_id: t.identityId, username: t.username, scopes: t.scopes, status: t.status,
    created: isoOrNull(t.createdAt), expires: isoOrNull(t.expiresAt), revoked: isoOrNull(t.revokedAt),
  };
}

/** One row per token; secrets are never stored, so they cannot be shown. */
export function formatTokens(tokens: readonly TokenInfo[]): string {
  if (tokens.length === 0) return 'No tokens.\n';
  const time = (ms: number | null, none: string) => (ms === null ? none : new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z'));
  const scope = (s: string) => (s === TRANSFER_SCOPE_URN ? 'transfer' : s);
  const rows = [['ID', 'USERNAME', 'STATUS', 'SCOPES', 'CREATED', 'EXPIRES', 'REVOKED']];
  for (const t of tokens) {
    rows.push([t.id, safeText(t.username ?? t.identityId), t.status, t.scopes.map(scope).join(','), time(t.createdAt, '-'), time(t.expiresAt, 'never'), time(t.revokedAt, '-')]);
  }
  return table(rows);
}

const TRANSFER_SCOPE_URN = 'urn:globus:auth:scope:transfer.api.globus.org:all';

function readStdin(): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    process.stdin.setEncoding('utf8');
    process.stdin.on('data', (d: string) => { text += d; if (text.length > 8192) reject(new FerryError('ClientError.BadRequest', 'standard input is too long for a token')); });
    process.stdin.on('end', () => resolve(text));
    process.stdin.on('error', reject);
  });
}
