import { openDatabase, type Db } from './db.js';
import { IdentityRepo } from './identities.js';
import { TokenRepo } from './tokens.js';
import { EndpointRepo } from './endpoints.js';
import { SetupKeyRepo } from './setup-keys.js';
import { NodeRepo } from './nodes.js';
import { TaskRepo } from './tasks.js';
import { AccessRuleRepo } from './access-rules.js';
import { RoleRepo } from './roles.js';
import { SharingVersionRepo } from './sharing-versions.js';
import { OutboxRepo } from './outbox.js';

export { TRANSFER_SCOPE } from './tokens.js';
export type { IdentityRecord } from './identities.js';
export type { TokenRecord, TokenLookup } from './tokens.js';
export type { EndpointRecord, EndpointInput } from './endpoints.js';
export type { NodeRecord } from './nodes.js';
export type { TaskRecord, TaskStatus, TaskType } from './tasks.js';
export type { AccessRuleRecord, NewAccessRule, PrincipalSet } from './access-rules.js';
export { ENDPOINT_ROLES, type EndpointRole, type RoleRecord, type RolePrincipalType } from './roles.js';
export type { OutboxRecord } from './outbox.js';

/** Everything control persists, one repository per table group, over one SQLite file. */
export class ControlStore {
  readonly identities: IdentityRepo;
  readonly tokens: TokenRepo;
  readonly endpoints: EndpointRepo;
  readonly setupKeys: SetupKeyRepo;
  readonly nodes: NodeRepo;
  readonly tasks: TaskRepo;
  readonly accessRules: AccessRuleRepo;
  readonly roles: RoleRepo;
  readonly sharingVersions: SharingVersionRepo;
  readonly outbox: OutboxRepo;

  constructor(readonly db: Db) {
    this.identities = new IdentityRepo(db);
    this.tokens = new TokenRepo(db);
    this.endpoints = new EndpointRepo(db);
    this.setupKeys = new SetupKeyRepo(db);
    this.nodes = new NodeRepo(db);
    this.tasks = new TaskRepo(db);
    this.accessRules = new AccessRuleRepo(db);
    this.roles = new RoleRepo(db);
    this.sharingVersions = new SharingVersionRepo(db);
    this.outbox = new OutboxRepo(db);
  }

  static open(file: string): ControlStore {
    return new ControlStore(openDatabase(file));
  }

  close(): void {
    if (this.db.open) this.db.close();
  }
}
