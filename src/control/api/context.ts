import type { Logger } from '../../common/logger.js';
import type { CertAndKey } from '../../pki/index.js';
import type { AgentHub } from '../hub/hub.js';
import type { ControlStore } from '../store/index.js';
import type { SharingService } from '../sharing/service.js';
import type { TaskOrchestrator } from '../tasks/index.js';
import type { OperationLimiter, UserLimits } from './user-limits.js';

/** What the REST routes need from the control service. */
export interface ApiContext {
  store: ControlStore;
  hub: AgentHub;
  /** Runs submitted tasks; routes tell it about new ones and cancels. */
  tasks: Pick<TaskOrchestrator, 'kick' | 'cancel' | 'limits'>;
  ca: CertAndKey;
  caFingerprint: string;
  /** Base URL put into setup keys, e.g. https://ferry.example.org:7750 */
  publicUrl: string;
  setupKeyTtlSeconds: number;
  log: Logger;
  /** Guest collections, access rules and roles: commits changes and publishes them to agents. */
  sharing: SharingService;
  /** Per-identity limits; DEFAULT_USER_LIMITS when absent. */
  userLimits?: UserLimits;
  /** Counts file operations in flight per identity; the operation routes make one from userLimits when absent. */
  opLimiter?: OperationLimiter;
}

/** The fastify instance type every route module registers on (HTTPS server, pino logger). */
export type Api = import('fastify').FastifyInstance<import('node:https').Server>;
