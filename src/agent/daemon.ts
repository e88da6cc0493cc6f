import { readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { isIP } from 'node:net';
import { loadConfigFile } from '../common/config-file.js';
import { FerryError } from '../common/errors.js';
import { createLogger, type Logger } from '../common/logger.js';
import { FERRY_VERSION } from '../common/version.js';
import { DataListener, expectedCongestion, type ChannelCredentials } from '../transfer/channel/index.js';
import { AgentConfig } from './config.js';
import { ControlLink } from './link/client.js';
import { createFileOps, createOwnerNames, LsEntryBudget, runFileOp, type FileOps, type OwnerNames } from './ops/index.js';
import { AgentSharing, SharingReplica, SqliteReplicaStore } from './sharing/index.js';
import { createPathPolicy, type PathPolicy } from './policy/index.js';
import { inDataDir } from './paths.js';
import { IDLE_COLLECT_STAGES_MS, IdleCollector } from './transfer/idle-collect.js';
import { collectWorkerGarbage, fullCollection } from '../transfer/index.js';
import { SessionManager } from './transfer/session-manager.js';
import { removeStalePartials } from './transfer/partials.js';
import { SqliteMarkerStore } from '../transfer/markers/store.js';
import { rawFsFallbackReason, rawFsKind } from '../fs/load.js';
import { chooseMallocTrim } from '../fs/malloc-trim.js';
import { CONGESTION_CAPABILITY_PREFIX, type RootInfo } from '../protocol/link.js';

export interface AgentDaemonOptions {
  configFile: string;
  /** Defaults to a pino logger at the config's log level. */
  log?: Logger;
  /** For tests: no jitter. */
  random?: () => number;
}

function hostPort(host: string, port: number): string {
  return isIP(host) === 6 ? `[${host}]:${port}` : `${host}:${port}`;
}

/**
 * The long-running agent: loads its config and credentials, applies local policy to every
 * request, listens for peer agents' data connections, and keeps the control link up.
 * open() starts listener then link; close() stops them in reverse. Both are idempotent.
 */
export class AgentDaemon {
  config: AgentConfig;
  /** The root logger, for the process around the daemon. */
  readonly logger: Logger;
  private readonly log: Logger;
  private readonly credentials: ChannelCredentials & { linkCa: string };
  private policy: PathPolicy;
  private ops: FileOps;
  private link: ControlLink | undefined;
  private listener: DataListener | null = null;
  private sessions: SessionManager | undefined;
  private markers: SqliteMarkerStore | undefined;
  private replicaStore: SqliteReplicaStore | undefined;
  private readonly owners: OwnerNames = createOwnerNames();
  /** Entries each identity's listings hold (limits.lsEntriesPerUser), the host's and guest collections' together. */
  private readonly lsBudget: LsEntryBudget;
  private state: 'new' | 'opening' | 'open' | 'closed' = 'new';

  constructor(private readonly opts: AgentDaemonOptions) {
    this.config = loadConfigFile(opts.configFile, AgentConfig);
    const dataDir = dirname(opts.configFile);
    const read = (f: string) => readFileSync(inDataDir(dataDir, f), 'utf8');
    const ca = read(this.config.caFile);
    this.credentials = { ca, linkCa: ca, cert: read(this.config.certFile), key: read(this.config.keyFile), nodeId: this.config.nodeId };
    this.policy = createPathPolicy(this.config.roots);
    this.lsBudget = new LsEntryBudget(this.config.limits.lsEntriesPerUser);
    this.ops = createFileOps(this.policy, { owners: this.owners, lsBudget: this.lsBudget });
    this.logger = opts.log ?? createLogger({ name: 'ferry-agent', level: process.env['FERRY_LOG_LEVEL'] ?? this.config.log.level });
    this.log = this.logger.child({ component: 'agent', nodeId: this.config.nodeId, endpointId: this.config.endpointId });
  }

  async open(): Promise<void> {
    if (this.state !== 'new') return;
    this.state = 'opening';
    const cfg = this.config;
    // Which implementation of the descriptor-relative calls runs here (both are equivalent; the twin needs /proc).
    this.log.info({ fs: rawFsKind, ...(rawFsFallbackReason === undefined ? {} : { reason: rawFsFallbackReason }) }, 'file access layer');
    const stateFile = inDataDir(dirname(this.opts.configFile), cfg.stateFile);
    this.markers = new SqliteMarkerStore(stateFile);
    this.replicaStore = new SqliteReplicaStore(stateFile);
    const sharing = new AgentSharing(new SharingReplica(this.replicaStore, this.log.child({ component: 'sharing' })), () => this.policy, this.owners, this.log.child({ component: 'sharing' }), this.lsBudget);
    const policy = this.policy;
    const stale = await removeStalePartials(this.markers, cfg.transfer.partialRetentionDays, (d) => policy.openWritableHostDir(d));
    if (stale > 0) this.log.info({ removed: stale, days: cfg.transfer.partialRetentionDays }, 'removed partial files of tasks that never came back');
    let advertised: string | null = null;
    if (cfg.dataListen.enabled) {
      this.listener = new DataListener(this.credentials, {
        host: cfg.dataListen.host, portRange: cfg.dataPortRange, log: this.log.child({ component: 'data-listener' }),
      });
      const { port } = await this.listener.open();
      advertised = hostPort(cfg.dataListen.advertise ?? cfg.dataListen.host, cfg.dataListen.advertisePort ?? port);
      this.log.info({ address: advertised }, 'listening for peer data connections');
    }
    const link = new ControlLink({
      controlUrl: cfg.controlUrl,
      credentials: { ca: this.credentials.linkCa, cert: this.credentials.cert, key: this.credentials.key },
      hello: {
        nodeId: cfg.nodeId,
        endpointId: cfg.endpointId,
        agentVersion: FERRY_VERSION,
        ...configuredHello(cfg),
        dataAddresses: advertised ? [advertised] : [],
      },
      reconnect: { ...cfg.reconnect, ...(this.opts.random ? { random: this.opts.random } : {}) },
    }, {
      // The agent's own endpoint, or a guest collection it hosts (decided from the sharing replica).
      onOp: (req) => (req.endpointId === cfg.endpointId ? runFileOp(this.ops, req) : sharing.runOp(req)),
      onSharing: (m) => sharing.onMessage(m),
      onLinkDown: () => sharing.linkDown(),
      onSessionOpen: (spec) => this.sessions!.open(spec),
      onSessionCancel: (id, keepPartials) => this.sessions!.cancel(id, keepPartials),
      onTaskCleanup: (taskId) => this.sessions!.cleanupTask(taskId),
    }, this.log.child({ component: 'link' }));
    const trim = chooseMallocTrim().impl;
    // The I/O workers collect too: shared buffers the pools let go stay wrapped there until then.
    const idle = new IdleCollector(fullCollection(), IDLE_COLLECT_STAGES_MS, this.log.child({ component: 'memory' }), trim.kind === 'native' ? trim.trim : null, collectWorkerGarbage);
    this.sessions = new SessionManager({
      credentials: this.credentials,
      listener: this.listener,
      advertisedAddress: advertised,
      // Read at session start, so a SIGHUP reload applies to later sessions.
      resolver: () => this.policy,
      sessionResolver: (spec) => sharing.sessionResolver(spec),
      notify: (n) => link.notify(n),
      log: this.log.child({ component: 'sessions' }),
      markers: this.markers,
      idle,
      // Read at session start, like the roots.
      congestion: () => this.config.transfer.congestionControl,
      forceEncryption: () => this.config.transfer.forceEncryption,
      tuning: () => ({ durable: this.config.transfer.durable, flushBytes: this.config.transfer.flushMiB * 1024 * 1024, directIo: this.config.transfer.directIo }),
    });
    this.link = link;
    link.open();
    // Start-up (modules, config, TLS contexts) leaves garbage too: an agent that never transfers collects it once.
    idle.sessionsNow(0);
    this.state = 'open';
  }

  /**
   * SIGHUP: re-read the config and apply new roots to every later request, keeping the link
   * and running sessions up. A config that no longer validates, or that names another node,
   * is refused and the running config stays.
   */
  reload(): boolean {
    try {
      const next = loadConfigFile(this.opts.configFile, AgentConfig);
      if (next.nodeId !== this.config.nodeId || next.endpointId !== this.config.endpointId || next.controlUrl !== this.config.controlUrl) {
        throw new FerryError('Config.Invalid', `${this.opts.configFile}: nodeId, endpointId and controlUrl cannot change on reload; restart the agent`);
      }
      this.policy = createPathPolicy(next.roots);
      // One budget for the agent's life: listings in flight stay counted across a reload.
      this.lsBudget.perUser = next.limits.lsEntriesPerUser;
      this.ops = createFileOps(this.policy, { owners: this.owners, lsBudget: this.lsBudget });
      this.config = next;
      // Control learns the new capabilities and roots now, not at the next reconnect.
      this.link?.updateHello(configuredHello(next));
      this.log.info({ roots: next.roots.map((r) => r.path) }, 'config reloaded');
      return true;
    } catch (err) {
      this.log.error({ code: (err as FerryError).code, reason: (err as Error).message }, 'config reload refused; keeping the running config');
      return false;
    }
  }

  whenConnected(): Promise<void> {
    if (!this.link) return Promise.reject(new FerryError('ServiceUnavailable', 'the agent is not open'));
    return this.link.whenReady();
  }

  async close(): Promise<void> {
    if (this.state === 'closed') return;
    this.state = 'closed';
    await this.sessions?.close();
    await this.link?.close();
    await this.listener?.close();
    this.markers?.close();
    this.replicaStore?.close();
  }
}

/** The parts of the hello a config reload can change (sent again on SIGHUP). */
function configuredHello(cfg: AgentConfig): { capabilities: string[]; roots: RootInfo[] } {
  const congestion = expectedCongestion(cfg.transfer.congestionControl);
  return {
    // 'clear-data': this agent can run clear-text sessions (encrypt_data false); 'force-encryption': its config forbids them;
    // 'congestion:NAME': what its data streams send with (control offers spare streams to a loss-based one).
    capabilities: [
      'fileops', 'transfer', 'sharing', 'clear-data', ...(cfg.transfer.forceEncryption ? ['force-encryption'] : []),
      ...(congestion === '' ? [] : [`${CONGESTION_CAPABILITY_PREFIX}${congestion}`]),
    ],
    roots: cfg.roots.map((r) => ({ path: r.path, writable: r.writable, sharing: r.sharing })),
  };
}
