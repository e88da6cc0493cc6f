import { Argument, InvalidArgumentError, Option, type Command } from 'commander';
import { isUuid } from '../common/ids.js';
import { MAX_PATH_BYTES } from '../protocol/limits.js';
import type { AccessPermissions, AccessPrincipalType } from './api-client.js';
import { authIdentityLookup, type IdentityLookup } from './auth-api.js';
import { defaultClientDeps, type ClientCommandDeps } from './client-config.js';

/**
 * Arguments of `ferry share | acl | role` (globus-api.md §1.4, §1.5, §3). Everything here is
 * checked while commander parses, or by checkPrincipal before the first request, so a bad
 * value is a usage error (exit 2) and never reaches control.
 */

export const EXAMPLE_HOST_ID = '2f4e7a3c-0d5b-4b8e-9c4a-1e2f3a4b5c6d';
export const EXAMPLE_SHARE_ID = '7c9d2e1f-3a4b-4c5d-8e6f-0a1b2c3d4e5f';
export const EXAMPLE_GROUP_ID = '5b6c7d8e-9f0a-4b1c-8d2e-3f4a5b6c7d8e';
export const EXAMPLE_RULE_ID = '0c1d2e3f-4a5b-4c6d-8e7f-9a0b1c2d3e4f';

export const ACCESS_PERMISSIONS: readonly AccessPermissions[] = ['r', 'rw'];
export const ENDPOINT_ROLES = ['administrator', 'access_manager', 'activity_manager', 'activity_monitor'] as const;

/** What the sharing commands need: control, output, and username lookups through Auth. */
export interface SharingCommandDeps extends ClientCommandDeps {
  identities: IdentityLookup;
}

export const defaultSharingDeps: SharingCommandDeps = { ...defaultClientDeps, identities: authIdentityLookup };

/** `<NAME>` (or `[NAME]`) that must be a UUID; lower-cased. */
export function uuidArg(name: string, description: string, what: string, opts: { optional?: boolean; example?: string } = {}): Argument {
  return new Argument(opts.optional ? `[${name}]` : `<${name}>`, description).argParser((value: string) => {
    if (!isUuid(value)) throw new InvalidArgumentError(`'${value}' is not ${what} (a UUID such as ${opts.example ?? EXAMPLE_SHARE_ID})`);
    return value.toLowerCase();
  });
}

/** An access rule's path: absolute within the guest collection (its `/` is the shared directory). */
export function parseRulePath(value: string): string {
  if (!value.startsWith('/')) {
    throw new InvalidArgumentError(`'${value}' is not a path inside the collection: it must start with / (the shared directory itself is /, a folder in it /${value.replace(/^\.?\/*/, '')})`);
  }
  if (value.includes('\0')) throw new InvalidArgumentError('the path contains a NUL byte');
  if (Buffer.byteLength(value, 'utf8') > MAX_PATH_BYTES) throw new InvalidArgumentError(`the path is longer than ${MAX_PATH_BYTES} bytes`);
  return value;
}

const DATE_ONLY = /^\d{4}-\d{2}-\d{2}$/;
const DATE_TIME = /^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})$/i;

/**
 * `--expiration-date`: a date (midnight UTC) or a date and time with its zone; sent in the
 * Globus form `2026-05-01T12:00:00+00:00`. A time without a zone is refused rather than
 * guessed from this machine's clock.
 */
export function parseExpiration(value: string): string {
  const v = value.trim();
  if (!DATE_ONLY.test(v) && !DATE_TIME.test(v)) {
    const why = /^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?$/.test(v)
      ? 'it has a time but no zone; add Z for UTC or an offset such as +02:00'
      : 'expected an ISO 8601 date such as 2026-05-01 or 2026-05-01T12:00:00Z';
    throw new InvalidArgumentError(`'${value}': ${why}`);
  }
  // Date.parse rolls 2026-02-30 over into March; a calendar date must name a real day.
  const [y, m, d] = v.slice(0, 10).split('-').map(Number) as [number, number, number];
  const day = new Date(Date.UTC(y, m - 1, d));
  const ms = Date.parse(DATE_ONLY.test(v) ? `${v}T00:00:00Z` : v.replace(' ', 'T'));
  if (Number.isNaN(ms) || day.getUTCFullYear() !== y || day.getUTCMonth() !== m - 1 || day.getUTCDate() !== d) {
    throw new InvalidArgumentError(`'${value}' is not a real date`);
  }
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, '+00:00');
}

export function parseEmail(value: string): string {
  if (!/^[^\s@]+@[^\s@]+$/.test(value)) throw new InvalidArgumentError(`'${value}' is not an email address`);
  return value;
}

// ---- who a rule or role is for ----

export interface PrincipalOptions {
  identity?: string;
  group?: string;
  allAuthenticated?: boolean;
  anonymous?: boolean;
}

/** What the user named, before a username is looked up. */
export type PrincipalChoice =
  | { type: 'identity'; value: string }
  | { type: 'group'; value: string }
  | { type: 'all_authenticated_users' }
  | { type: 'anonymous' };

function groupIdParser(value: string): string {
  if (!isUuid(value)) throw new InvalidArgumentError(`'${value}' is not a group ID (a UUID such as ${EXAMPLE_GROUP_ID}; \`ferry group list\` shows yours)`);
  return value.toLowerCase();
}

function identityParser(value: string): string {
  if (value.trim() === '' || /\s/.test(value)) throw new InvalidArgumentError(`'${value}' is neither a username (alice@example.org) nor an identity UUID`);
  return isUuid(value) ? value.toLowerCase() : value;
}

const FLAG = { identity: 'identity', group: 'group', allAuthenticated: 'all-authenticated', anonymous: 'anonymous' } as const;
type FlagKey = keyof typeof FLAG;

/**
 * Add the principal flags. They exclude one another (commander refuses two of them); that one
 * is given at all is checked by checkPrincipal in the action.
 */
export function addPrincipalOptions(cmd: Command, everyone: boolean): Command {
  const keys: FlagKey[] = everyone ? ['identity', 'group', 'allAuthenticated', 'anonymous'] : ['identity', 'group'];
  const others = (k: FlagKey): string[] => keys.filter((o) => o !== k);
  cmd.addOption(new Option('--identity <USERNAME_OR_ID>', 'one person: a username (alice@example.org) or an identity UUID')
    .argParser(identityParser).conflicts(others('identity')));
  cmd.addOption(new Option('--group <GROUP_ID>', 'every active member of a group (its UUID; see `ferry group list`)')
    .argParser(groupIdParser).conflicts(others('group')));
  if (everyone) {
    cmd.addOption(new Option('--all-authenticated', 'anyone who is signed in to this Ferry').conflicts(others('allAuthenticated')));
    cmd.addOption(new Option('--anonymous', 'anyone at all, signed in or not').conflicts(others('anonymous')));
  }
  return cmd;
}

/** The one principal named, or a usage message when none is. */
export function checkPrincipal(opts: PrincipalOptions, everyone: boolean): PrincipalChoice | string {
  if (opts.identity !== undefined) return { type: 'identity', value: opts.identity };
  if (opts.group !== undefined) return { type: 'group', value: opts.group };
  if (opts.allAuthenticated) return { type: 'all_authenticated_users' };
  if (opts.anonymous) return { type: 'anonymous' };
  const flags = (everyone ? ['identity', 'group', 'allAuthenticated', 'anonymous'] as const : ['identity', 'group'] as const)
    .map((k) => `--${FLAG[k]}`);
  return `say who this is for: give one of ${flags.slice(0, -1).join(', ')} or ${flags.at(-1)}`;
}

/** principal_type and principal for the API; a username is looked up through Auth. */
export async function resolvePrincipal(choice: PrincipalChoice, identities: IdentityLookup): Promise<{ principal_type: AccessPrincipalType; principal: string }> {
  switch (choice.type) {
    case 'identity':
      return { principal_type: 'identity', principal: isUuid(choice.value) ? choice.value : await identities.idOf(choice.value) };
    case 'group':
      return { principal_type: 'group', principal: choice.value };
    default:
      return { principal_type: choice.type, principal: '' };
  }
}
