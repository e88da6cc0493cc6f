import { mkdirSync, readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { isIP } from 'node:net';
import { join } from 'node:path';
import type { Logger } from '../common/logger.js';
import { FERRY_VERSION } from '../common/version.js';
import { certFingerprint, loadOrCreateCa, loadOrCreateServerCertificate } from '../pki/index.js';
import { buildApi } from './api/app.js';
import type { Api, ApiContext } from './api/context.js';
import { OperationLimiter } from './api/user-limits.js';
import { authFor, tuningFromEnv } from './auth/service.js';
import type { ControlConfig } from './config.js';
import { AgentHub } from './hub/hub.js';
import { ControlStore } from './store/index.js';
import { TaskOrchestrator } from './tasks/index.js';
import { OutboxMailer, smtpTransport } from './sharing/mailer.js';
import { SharingPublisher } from './sharing/publisher.js';
import { SharingService } from './sharing/service.js';
import { storeTaskEndpoints } from './sharing/task-endpoints.js';

export interface ControlPaths {
  dataDir: string;
  database: string;
  pkiDir: string;
  caCert: string;
}

export function controlPaths(dataDir: string): ControlPaths {
  const pkiDir = join(dataDir, 'pki');
  return { dataDir, database: join(dataDir, 'control.db'), pkiDir, caCert: join(pkiDir, 'ca.crt') };
}

/** Timeouts and limits of the agent link that tests may shorten (STYLE §11). */
export interface ControlTuning {
  helloTimeoutMs: number;
  heartbeatMisses: number;
  maxInvalidMessages: number;
}

const DEFAULT_TUNING: ControlTuning = { helloTimeoutMs: 10_000, heartbeatMisses: 3, maxInvalidMessages: 20 };

function serverNames(config: ControlConfig): string[] {
  const names = new Set(['localhost', '127.0.0.1', '::1', hostname(), ...config.tls.extraNames]);
  const host = config.listen.host;
  if (host !== '0.0.0.0' && host !== '::') names.add(host);
  if (config.publicUrl) names.add(new URL(config.publicUrl).hostname.replace(/^\[|\]$/g, ''));
  return [...names];
}

function urlHost(host: string): string {
  if (host === '0.0.0.0' || host === '::') return hostname();
  return isIP(host) === 6 ? `[${host}]` : host;
}

/**
 * The control service: CA and server certificate, SQLite store, agent hub and REST API on
 * one HTTPS port. open() starts in that order; close() stops in reverse.
 */
export class ControlService {
  readonly paths: ControlPaths;
  private store: ControlStore | undefined;
  private hub: AgentHub | undefined;
  private tasks: TaskOrchestrator | undefined;
  private mailer: OutboxMailer | undefined;
  private api: Api | undefined;
  url = '';
  port = 0;
  caFingerprint = '';

  constructor(private readonly config: ControlConfig, private readonly log: Logger, private readonly tuning: ControlTuning = DEFAULT_TUNING) {
    this.paths = controlPaths(config.dataDir);
  }

  async open(): Promise<void> {
    mkdirSync(this.paths.dataDir, { recursive: true, mode: 0o700 });
    const ca = loadOrCreateCa(this.paths.pkiDir);
    this.caFingerprint = certFingerprint(ca.certPem);
    const server = this.config.tls.certFile && this.config.tls.keyFile
      ? { certPem: readFileSync(this.config.tls.certFile, 'utf8'), keyPem: readFileSync(this.config.tls.keyFile, 'utf8') }
      : loadOrCreateServerCertificate(this.paths.pkiDir, ca, serverNames(this.config));
    const store = ControlStore.open(this.paths.database);
    this.store = store;
    // Ferry Auth first, so the API's bearer check and Auth routes share this one, tuned by
    // control.json's `auth` (and FERRY_AUTH_TUNING, which tests set, on top).
    authFor(store.db, tuningFromEnv(process.env, this.config.auth));
    const hub = new AgentHub(store.nodes, {
      helloTimeoutMs: this.tuning.helloTimeoutMs,
      heartbeatIntervalMs: this.config.heartbeatIntervalMs,
      heartbeatMisses: this.tuning.heartbeatMisses,
      opTimeoutMs: this.config.opTimeoutMs,
      maxInvalidMessages: this.tuning.maxInvalidMessages,
      controlVersion: FERRY_VERSION,
    }, this.log.child({ component: 'hub' }));
    this.hub = hub;
    // Before any agent can connect: every hello gets its sharing snapshot first.
    const publisher = new SharingPublisher(store, hub, this.log.child({ component: 'sharing' }));
    publisher.open();
    const smtp = this.config.smtp;
    if (smtp) {
      this.mailer = new OutboxMailer(store.outbox, smtpTransport(smtp), smtp.from, {
        retryInitialMs: smtp.retryInitialMs, maxAttempts: smtp.maxAttempts, pollMs: smtp.pollMs, batch: 50,
      }, this.log.child({ component: 'mailer' }));
    }
    const mailer = this.mailer;
    const sharing = new SharingService(store, publisher, () => mailer?.kick());
    const t = this.config.tasks;
    const tasks = new TaskOrchestrator({
      repo: store.tasks, hub, log: this.log, endpoints: storeTaskEndpoints(store),
      limits: {
        retryBaseMs: t.retryInitialMs, retryMaxMs: t.retryMaxMs, stallTimeoutMs: t.stallTimeoutMs, tickMs: t.tickMs,
        unexpectedErrorRetries: t.unexpectedErrorRetries,
      },
    });
    this.tasks = tasks;
    const ctx: ApiContext = {
      store, hub, tasks, ca, caFingerprint: this.caFingerprint, publicUrl: this.config.publicUrl ?? '',
      setupKeyTtlSeconds: this.config.setupKeyTtlSeconds, log: this.log, sharing,
      userLimits: this.config.limits, opLimiter: new OperationLimiter(this.config.limits),
    };
    const api = buildApi(ctx, { key: server.keyPem, cert: server.certPem, ca: ca.certPem }, this.config.http);
    this.api = api;
    await api.listen({ host: this.config.listen.host, port: this.config.listen.port });
    const addr = api.server.address();
    this.port = typeof addr === 'object' && addr ? addr.port : this.config.listen.port;
    this.url = this.config.publicUrl ?? `https://${urlHost(this.config.listen.host)}:${this.port}`;
    ctx.publicUrl = this.url;
    // After listen: resumed tasks find their agents as they reconnect.
    tasks.open();
    this.mailer?.open();
    this.log.info({ url: this.url, caFile: this.paths.caCert, caFingerprint: this.caFingerprint, version: FERRY_VERSION }, 'control ready');
  }

  async close(): Promise<void> {
    // Tasks first, so agents dropping during shutdown are not counted as faults.
    await this.tasks?.close();
    await this.mailer?.close();
    await this.hub?.close();
    await this.api?.close();
    this.store?.close();
    this.tasks = undefined;
    this.mailer = undefined;
    this.hub = undefined;
    this.api = undefined;
    this.store = undefined;
  }
}
