import { join } from 'node:path';
import type { Command } from 'commander';
import { FerryError } from '../../common/errors.js';
import type { ControlConfig } from '../../control/index.js';
import { ferryHome } from '../client-config.js';

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

  const identity = control.command('identity').description('manage identities (offline, on the data directory)');
  identity.command('create')
    .description('create an identity and print it as JSON')
    .requiredOption('--username <name>', 'unique user name, e.g. alice@example.org')
    .option('--email <email>', 'e-mail address')
    .option('--display-name <name>', 'full name')
    .option('--organization <org>', 'organization')
    .option('--data-dir <dir>', 'control data directory (default $FERRY_HOME/control)')
    .action(async (opts: { username: string; email?: string; displayName?: string; organization?: string; dataDir?: string }) => {
      const { createIdentity, identityDocument } = await loadControl();
      const rec = createIdentity(opts.dataDir ?? defaultDataDir(), {
        username: opts.username,
        ...(opts.email ? { email: opts.email } : {}),
        ...(opts.displayName ? { name: opts.displayName } : {}),
        ...(opts.organization ? { organization: opts.organization } : {}),
      });
      process.stdout.write(`${JSON.stringify(identityDocument(rec), null, 2)}\n`);
    });

  const token = control.command('token').description('manage bearer tokens (offline, on the data directory)');
  token.command('issue')
    .description('issue a bearer token for the transfer API and print it (shown once; stored only as a hash)')
    .requiredOption('--username <name>', 'identity that owns the token')
    .option('--expires-in <seconds>', `lifetime in seconds (default ${DEFAULT_TOKEN_TTL_SECONDS}; 0 = never expires)`)
    .option('--format <format>', 'text (just the token) or json', 'text')
    .option('--data-dir <dir>', 'control data directory (default $FERRY_HOME/control)')
    .action(async (opts: { username: string; expiresIn?: string; format: string; dataDir?: string }) => {
      const { issueToken } = await loadControl();
      let ttl: number | null = DEFAULT_TOKEN_TTL_SECONDS;
      if (opts.expiresIn !== undefined) {
        if (!/^\d+$/.test(opts.expiresIn)) throw new FerryError('Config.Invalid', '--expires-in must be a whole number of seconds');
        ttl = Number(opts.expiresIn) === 0 ? null : Number(opts.expiresIn);
      }
      const issued = issueToken(opts.dataDir ?? defaultDataDir(), opts.username, ttl);
      if (opts.format === 'json') {
        process.stdout.write(`${JSON.stringify({
          access_token: issued.token, token_type: 'Bearer', identity_id: issued.identity.id,
          expires_in: ttl, resource_server: 'transfer.api.globus.org', scope: 'urn:globus:auth:scope:transfer.api.globus.org:all',
        }, null, 2)}\n`);
      } else {
        process.stdout.write(`${issued.token}\n`);
      }
    });
}
