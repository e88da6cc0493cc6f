import type { Db } from '../store/db.js';
import { AccountRepo } from './accounts.js';
import { ClientRepo } from './clients.js';
import { GrantRepo } from './grants.js';
import { GroupRepo } from './groups.js';
import { SigningKeys } from './keys.js';
import { scopeInfo } from './scopes.js';
import { DEFAULT_AUTH_TUNING, tuningFromEnv, type AuthTuning } from './tuning.js';

export { DEFAULT_AUTH_TUNING, tuningFromEnv, type AuthTuning } from './tuning.js';

/** Ferry Auth's state over control's SQLite database; one per database. */
export class AuthService {
  readonly accounts: AccountRepo;
  readonly clients: ClientRepo;
  readonly grants: GrantRepo;
  readonly groups: GroupRepo;
  readonly keys: SigningKeys;
  /** Control's public URL; the routes set it once control listens. */
  issuer = '';

  constructor(readonly db: Db, readonly tuning: Readonly<AuthTuning> = DEFAULT_AUTH_TUNING) {
    this.accounts = new AccountRepo(db);
    this.clients = new ClientRepo(db);
    this.grants = new GrantRepo(db);
    this.groups = new GroupRepo(db);
    this.keys = new SigningKeys(db);
    this.accounts.ensureBuiltins();
    this.clients.ensureCliClient();
  }

  /** The resource server of a scope, or undefined when the scope is unknown. */
  resourceServerOf(scope: string): string | undefined {
    return scopeInfo(scope, (id) => {
      const c = this.clients.byId(id);
      return c && c.resourceServer && !c.disabled ? c.name : undefined;
    })?.resourceServer;
  }

  scopeDescription(scope: string): string {
    return scopeInfo(scope, (id) => this.clients.byId(id)?.name)?.description ?? scope;
  }
}

const services = new WeakMap<Db, AuthService>();

/**
 * The AuthService of a database, created on first use (Transfer's bearer check and the Auth
 * routes share it). The control service calls it first, with control.json's `auth` tuning;
 * later calls get that service whatever they pass. Without a first call that passes tuning,
 * the defaults with FERRY_AUTH_TUNING on top.
 */
export function authFor(db: Db, tuning?: AuthTuning): AuthService {
  let s = services.get(db);
  if (!s) {
    s = new AuthService(db, tuning ?? tuningFromEnv());
    services.set(db, s);
  }
  return s;
}
