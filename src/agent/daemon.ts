import { readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { loadConfigFile } from '../common/config-file.js';
import { createLogger, type Logger } from '../common/logger.js';
import { FerryError } from '../common/errors.js';
import { FERRY_VERSION } from '../common/version.js';
import { AgentConfig } from './config.js';
import { ControlLink } from './link/client.js';
import { createFileOps, runFileOp, type FileOps } from './ops/index.js';
import { createPathPolicy } from './policy/index.js';
import { inDataDir } from './paths.js';

export interface AgentDaemonOptions {
  configFile: string;
  /** Defaults to a pino logger at the config's log level. */
  log?: Logger;
  /** For tests: no jitter. */
  random?: () => number;
}

/**
 * The long-running agent: loads its config and credentials, applies local policy to every
 * request, and keeps the control link up. open() and close() are idempotent.
 */
export class AgentDaemon {
  config: AgentConfig;
  private readonly link: ControlLink;
  private ops: FileOps;
  private readonly log: Logger;
  /** The root logger, for the process around the daemon. */
  readonly logger: Logger;

  constructor(private readonly opts: AgentDaemonOptions) {
    this.config = loadConfigFile(opts.configFile, AgentConfig);
    const dataDir = dirname(opts.configFile);
    const read = (f: string) => readFileSync(inDataDir(dataDir, f), 'utf8');
    const credentials = { ca: read(this.config.caFile), cert: read(this.config.certFile), key: read(this.config.keyFile) };
    this.ops = createFileOps(createPathPolicy(this.config.roots));
    const root = opts.log ?? createLogger({ name: 'ferry-agent', level: process.env['FERRY_LOG_LEVEL'] ?? this.config.log.level });
    const log = root.child({ component: 'agent', nodeId: this.config.nodeId, endpointId: this.config.endpointId });
    this.log = log;
    this.logger = root;
    this.link = new ControlLink({
      controlUrl: this.config.controlUrl,
      credentials,
      hello: {
        nodeId: this.config.nodeId,
        endpointId: this.config.endpointId,
        agentVersion: FERRY_VERSION,
        capabilities: ['fileops'],
        dataAddresses: [],
        roots: this.config.roots.map((r) => ({ path: r.path, writable: r.writable, sharing: r.sharing })),
      },
      reconnect: { ...this.config.reconnect, ...(opts.random ? { random: opts.random } : {}) },
    }, { onOp: (req) => runFileOp(this.ops, req) }, log.child({ component: 'link' }));
  }

  /**
   * SIGHUP: re-read the config and apply new roots to every later request, keeping the link
   * up. A config that no longer validates, or that names another node, is refused and the
   * running config stays.
   */
  reload(): boolean {
    try {
      const next = loadConfigFile(this.opts.configFile, AgentConfig);
      if (next.nodeId !== this.config.nodeId || next.endpointId !== this.config.endpointId || next.controlUrl !== this.config.controlUrl) {
        throw new FerryError('Config.Invalid', `${this.opts.configFile}: nodeId, endpointId and controlUrl cannot change on reload; restart the agent`);
      }
      this.ops = createFileOps(createPathPolicy(next.roots));
      this.config = next;
      this.log.info({ roots: next.roots.map((r) => r.path) }, 'config reloaded');
      return true;
    } catch (err) {
      this.log.error({ code: (err as FerryError).code, reason: (err as Error).message }, 'config reload refused; keeping the running config');
      return false;
    }
  }

  open(): void {
    this.link.open();
  }

  whenConnected(): Promise<void> {
    return this.link.whenReady();
  }

  async close(): Promise<void> {
    await this.link.close();
  }
}
