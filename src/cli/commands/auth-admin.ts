import type { Command } from 'commander';
import { FerryError } from '../../common/errors.js';

/**
 * `ferry control identity create|link|passwd|disable`, `ferry control client create` and
 * `ferry control provider add-oidc`: offline administration of Ferry Auth on control's data
 * directory. Passwords are read from standard input (never from the command line, where `ps`
 * and shell history would keep them).
 */
const loadAdmin = () => import('../../control/auth/admin.js');

async function readPassword(): Promise<string> {
  if (process.stdin.isTTY) process.stderr.write('Password (then Enter, Ctrl-D): ');
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  const pw = Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
  if (pw === '') throw new FerryError('Config.Invalid', 'no password on standard input');
  return pw;
}

const print = (v: unknown) => process.stdout.write(`${JSON.stringify(v, null, 2)}\n`);

export function registerAuthAdminCommands(control: Command, defaultDataDir: () => string): void {
  const dataDirOpt = '--data-dir <dir>';
  const dataDirHelp = 'control data directory (default $FERRY_HOME/control)';

  const identity = control.command('identity').description('manage identities of the local provider, and linked accounts (offline, on the data directory)');
  identity.command('create')
    .description('create an identity and print it as JSON (Globus identity document)')
    .requiredOption('--username <name>', 'unique user name, e.g. alice@example.org')
    .option('--email <email>', 'e-mail address')
    .option('--display-name <name>', 'full name')
    .option('--organization <org>', 'organization')
    .option('--password-stdin', 'read a login password from standard input (hashed with argon2id)')
    .option(dataDirOpt, dataDirHelp)
    .action(async (opts: { username: string; email?: string; displayName?: string; organization?: string; passwordStdin?: boolean; dataDir?: string }) => {
      const { adminCreateIdentity } = await loadAdmin();
      const password = opts.passwordStdin ? await readPassword() : undefined;
      print(await adminCreateIdentity(opts.dataDir ?? defaultDataDir(), {
        username: opts.username,
        ...(opts.email ? { email: opts.email } : {}),
        ...(opts.displayName ? { name: opts.displayName } : {}),
        ...(opts.organization ? { organization: opts.organization } : {}),
        ...(password !== undefined ? { password } : {}),
      }));
    });
  identity.command('passwd')
    .description('set or reset the login password of a local identity (read from standard input); re-enables it')
    .requiredOption('--username <name>', 'the identity')
    .option(dataDirOpt, dataDirHelp)
    .action(async (opts: { username: string; dataDir?: string }) => {
      const { adminSetPassword } = await loadAdmin();
      print(await adminSetPassword(opts.dataDir ?? defaultDataDir(), opts.username, await readPassword()));
    });
  identity.command('disable')
    .description('disable an identity: no more logins, and its tokens stop working')
    .requiredOption('--username <name>', 'the identity')
    .option(dataDirOpt, dataDirHelp)
    .action(async (opts: { username: string; dataDir?: string }) => {
      const { adminDisableIdentity } = await loadAdmin();
      print(await adminDisableIdentity(opts.dataDir ?? defaultDataDir(), opts.username));
    });
  identity.command('link')
    .description("link another identity (and its account) into an identity's account; prints the account's identities")
    .requiredOption('--username <name>', 'an identity of the account to keep')
    .requiredOption('--other <name>', 'the identity to link in')
    .option(dataDirOpt, dataDirHelp)
    .action(async (opts: { username: string; other: string; dataDir?: string }) => {
      const { adminLinkIdentities } = await loadAdmin();
      print({ identities: await adminLinkIdentities(opts.dataDir ?? defaultDataDir(), opts.username, opts.other) });
    });

  const client = control.command('client').description('manage registered OAuth2 clients (offline, on the data directory)');
  client.command('create')
    .description('register an OAuth2 client; a confidential client\'s secret is printed once')
    .requiredOption('--name <name>', 'display name shown on the consent page')
    .option('--public', 'a native/public client (no secret; must use PKCE)')
    .option('--id <uuid>', "use this client id (e.g. an existing app's, such as globus-cli's native client id) instead of a new one")
    .option('--redirect-uri <uri...>', 'allowed redirect URIs (matched exactly)')
    .option('--resource-server', 'the client is a resource server: it owns the scope urn:globus:auth:scope:<id>:all and may use dependent tokens')
    .option('--dependent-scopes <scopes>', 'space-separated scopes a resource server may get dependent tokens for', '')
    .option(dataDirOpt, dataDirHelp)
    .action(async (opts: { name: string; public?: boolean; id?: string; redirectUri?: string[]; resourceServer?: boolean; dependentScopes: string; dataDir?: string }) => {
      const { adminCreateClient } = await loadAdmin();
      const made = await adminCreateClient(opts.dataDir ?? defaultDataDir(), {
        name: opts.name, public: !!opts.public, redirectUris: opts.redirectUri ?? [], resourceServer: !!opts.resourceServer, dependentScopes: opts.dependentScopes,
        ...(opts.id !== undefined ? { id: opts.id } : {}),
      });
      print(made.secret === undefined ? { client: made.client } : { client: made.client, included: { client_credential: { client: made.record.id, secret: made.secret } } });
    });

  const provider = control.command('provider').description('manage identity providers (offline, on the data directory)');
  provider.command('add-oidc')
    .description('add an upstream OpenID Connect provider; its users log in with it and get identities <user>@<domain>')
    .requiredOption('--domain <domain>', 'username suffix for its identities, e.g. example.edu')
    .requiredOption('--issuer <url>', 'the issuer URL (OIDC discovery at <issuer>/.well-known/openid-configuration)')
    .requiredOption('--client-id <id>', 'Ferry\'s client id at the provider')
    .option('--client-secret-stdin', 'read Ferry\'s client secret at the provider from standard input')
    .option('--display-name <name>', 'shown on the login page')
    .option('--scope <scopes>', 'scopes to ask for', 'openid profile email')
    .option('--claim-username <claim>', 'claim for the username (its part before @ is used)', 'preferred_username')
    .option('--claim-name <claim>', 'claim for the full name', 'name')
    .option('--claim-email <claim>', 'claim for the e-mail address', 'email')
    .option('--claim-organization <claim>', 'claim for the organization', 'organization')
    .option(dataDirOpt, dataDirHelp)
    .action(async (opts: { domain: string; issuer: string; clientId: string; clientSecretStdin?: boolean; displayName?: string; scope: string; claimUsername: string; claimName: string; claimEmail: string; claimOrganization: string; dataDir?: string }) => {
      const { adminAddOidcProvider } = await loadAdmin();
      const secret = opts.clientSecretStdin ? await readPassword() : '';
      const p = await adminAddOidcProvider(opts.dataDir ?? defaultDataDir(), {
        domain: opts.domain, displayName: opts.displayName ?? opts.domain,
        oidc: { issuer: opts.issuer, clientId: opts.clientId, clientSecret: secret, scope: opts.scope,
          claims: { username: opts.claimUsername, name: opts.claimName, email: opts.claimEmail, organization: opts.claimOrganization } },
      });
      print({ id: p.id, domain: p.domain, display_name: p.displayName, issuer: opts.issuer, redirect_uri: '<control public URL>/v2/web/oidc/callback' });
    });
}
