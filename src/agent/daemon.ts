import { readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { loadConfigFile } from '../common/config-file.js';
import type { Logger } from '../common/logger.js';
import { FERRY_VERSION } from '../common/version.js';
import { AgentConfig } from './config.js';
import { ControlLink } from './link/client.js';
import { createFileOps, runFileOp } from './ops/index.js';
import { createPathPolicy } from './policy/index.js';
import { inDataDir } from './paths.js';

export interface AgentDaemonOptions {
  configFile: string;
  log: Logger;
  /** For tests: no jitter. */
  random?: () => number;
}

/**
 * The long-running agent: loads its config and credentials, applies local policy to every
 * request, and keeps the control link up. open() and close() are idempotent.
 */
export class AgentDaemon {
  readonly config: AgentConfig;
  private readonly link: ControlLink;

  constructor(private readonly opts: AgentDaemonOptions) {
    this.config = loadConfigFile(opts.configFile, AgentConfig);
    const dataDir = dirname(opts.configFile);
    const read = (f: string) => readFileSync(inDataDir(dataDir, f), 'utf8');
    const credentials = { ca: read(this.config.caFile), cert: read(this.config.certFile), key: read(this.config.keyFile) };
    const ops = createFileOps(createPathPolicy(this.config.roots));
    const log = opts.log.child({ component: 'agent', nodeId: this.config.nodeId, endpointId: this.config.endpointId });
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
    }, { onOp: (req) => runFileOp(ops, req) }, log.child({ component: 'link' }));
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
