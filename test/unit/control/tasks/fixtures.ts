import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { expect } from 'vitest';
import { FerryError } from '../../../../src/common/errors.js';
import { silentLogger } from '../../../../src/common/logger.js';
import { checkSchema } from '../../../../src/common/validate.js';
import { ControlToAgent, type DeleteResult, type FileOpArgs, type Principals, type SessionStats } from '../../../../src/protocol/index.js';
import type { HubListener, SessionNotice } from '../../../../src/control/hub/hub.js';
import { ControlStore, TRANSFER_SCOPE } from '../../../../src/control/store/index.js';
import type { NewTask, TaskRecord } from '../../../../src/control/store/tasks.js';
import { TaskOrchestrator, type TaskHub, type TaskLimits } from '../../../../src/control/tasks/index.js';
import { tempDir } from '../../../helpers/cluster.js';

interface Pending<T> { resolve(v: T): void; reject(e: unknown): void }
export interface SentCall extends Pending<unknown> { nodeId: string; message: Record<string, unknown> }
export interface SentDelete extends Pending<DeleteResult> { endpointId: string; args: FileOpArgs<'delete'>; principals: Principals }

/**
 * A stand-in for AgentHub with the four methods tasks use. Every message control sends is
 * checked against the link schema (as the real agent would); replies are given by the test.
 */
export class FakeHub implements TaskHub {
  private readonly listeners: HubListener[] = [];
  private readonly nodes = new Map<string, Array<{ nodeId: string; hello: { dataAddresses: string[]; capabilities?: string[] } }>>();
  readonly calls: SentCall[] = [];
  readonly deletes: SentDelete[] = [];
  private nextId = 1;

  addListener(l: HubListener): void { this.listeners.push(l); }
  connectedNodes(endpointId: string) { return this.nodes.get(endpointId) ?? []; }
  private endpointOf(nodeId: string): string | undefined {
    for (const [ep, list] of this.nodes) if (list.some((n) => n.nodeId === nodeId)) return ep;
    return undefined;
  }

  call(nodeId: string, message: Record<string, unknown>): Promise<unknown> {
    const withId = { ...message, id: String(this.nextId++) };
    expect(checkSchema(ControlToAgent, withId), JSON.stringify(withId)).toBeNull();
    if (this.endpointOf(nodeId) === undefined) return Promise.reject(new FerryError('ExternalError.GCDisconnected', 'that agent is not connected'));
    return new Promise((resolve, reject) => this.calls.push({ nodeId, message: withId, resolve, reject }));
  }

  request(endpointId: string, _op: 'delete', args: FileOpArgs<'delete'>, principals: Principals): Promise<DeleteResult> {
    if (this.connectedNodes(endpointId).length === 0) return Promise.reject(new FerryError('ExternalError.GCDisconnected', 'no agent'));
    return new Promise((resolve, reject) => this.deletes.push({ endpointId, args, principals, resolve, reject }));
  }

  connect(endpointId: string, nodeId: string, dataAddresses: string[] = [`127.0.0.1:${5000 + this.nextId}`], capabilities?: string[]): void {
    const list = this.nodes.get(endpointId) ?? [];
    list.push({ nodeId, hello: { dataAddresses, ...(capabilities ? { capabilities } : {}) } });
    this.nodes.set(endpointId, list);
    for (const l of this.listeners) l.onAgentReady?.(endpointId, nodeId);
  }

  /** The link drops: pending calls fail as they do on a real AgentConnection. */
  disconnect(nodeId: string): void {
    const ep = this.endpointOf(nodeId)!;
    this.nodes.set(ep, this.nodes.get(ep)!.filter((n) => n.nodeId !== nodeId));
    for (const c of this.calls.filter((x) => x.nodeId === nodeId)) {
      this.calls.splice(this.calls.indexOf(c), 1);
      c.reject(new FerryError('ExternalError.GCDisconnected', 'the endpoint agent disconnected before answering'));
    }
    for (const l of this.listeners) l.onAgentGone?.(ep, nodeId);
  }

  notice(nodeId: string, notice: SessionNotice): void {
    for (const l of this.listeners) l.onSessionNotice?.(this.endpointOf(nodeId) ?? '', nodeId, notice);
  }

  /** Remove and return the calls of one message type so far. */
  take(type: string): SentCall[] {
    const out = this.calls.filter((c) => c.message['type'] === type);
    for (const c of out) this.calls.splice(this.calls.indexOf(c), 1);
    return out;
  }
}

/** A stable node id (a UUID, as the link schema wants) for a short test name. */
export function nid(name: string): string {
  const h = createHash('md5').update(name).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-8${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

/** Let pending promise continuations run (no timers involved). */
export const settle = async (): Promise<void> => { for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r)); };

export const stats = (over: Partial<SessionStats> = {}): SessionStats => ({
  files: 0, directories: 0, symlinks: 0, filesTransferred: 0, filesSkipped: 0, bytesTransferred: 0, bytesChecksummed: 0, bytesExpected: 0, faults: 0, ...over,
});

/** A clock the test moves by hand. */
export class Clock {
  constructor(public t = Date.UTC(2030, 0, 1)) {}
  readonly now = (): number => this.t;
  advance(ms: number): void { this.t += ms; }
}

export interface World {
  store: ControlStore;
  hub: FakeHub;
  clock: Clock;
  owner: string;
  token: string;
  src: string;
  dst: string;
  orchestrator(limits?: Partial<TaskLimits>): TaskOrchestrator;
  transfer(over?: Partial<NewTask>): TaskRecord;
  del(paths: string[], over?: Partial<NewTask>): TaskRecord;
  task(id: string): TaskRecord;
  cleanup(): void;
}

export const FAST: Partial<TaskLimits> = { tickMs: 3_600_000, retryBaseMs: 1000, retryMaxMs: 8000, retryJitter: 0, stallTimeoutMs: 60_000 };

/** A real SQLite store in a temp dir with one owner and two endpoints. */
export function world(): World {
  const dir = tempDir('ferry-tasks-');
  const store = ControlStore.open(join(dir.path, 'control.db'));
  const clock = new Clock();
  const hub = new FakeHub();
  const owner = store.identities.create({ username: 'owner@example.org' }).id;
  const token = store.tokens.issue(owner, [TRANSFER_SCOPE], null).token;
  const ep = (name: string) => store.endpoints.create({
    ownerId: owner, displayName: name, description: null, organization: null, department: null, keywords: null, contactEmail: null,
    contactInfo: null, infoLink: null, defaultDirectory: null, isGlobusConnect: true, public: false,
  }).id;
  const src = ep('source ep');
  const dst = ep('destination ep');
  const orchestrators: TaskOrchestrator[] = [];
  let n = 0;
  return {
    store, hub, clock, owner, token, src, dst,
    orchestrator(limits = FAST) {
      const o = new TaskOrchestrator({ repo: store.tasks, hub, log: silentLogger(), now: clock.now, random: () => 0, limits });
      orchestrators.push(o);
      return o;
    },
    transfer(over = {}) {
      return store.tasks.submit({
        type: 'TRANSFER', ownerId: owner, submissionId: `s${++n}`, label: null, deadline: clock.t + 3600_000, sourceEndpointId: src, destinationEndpointId: dst,
        items: [{ sourcePath: '/~/a', destinationPath: '/~/b', recursive: null }],
        options: {
          session: { syncLevel: null, verifyChecksum: true, preserveTimestamp: false, deleteDestinationExtra: false, skipSourceErrors: false, failOnQuotaErrors: false, checksumAlgorithm: 'sha256', parallelism: 4 },
          encryptData: true, recursiveSymlinks: 'ignore', filterRules: null,
        },
        ...over,
      } as NewTask, clock.t).record;
    },
    del(paths, over = {}) {
      return store.tasks.submit({
        type: 'DELETE', ownerId: owner, submissionId: `s${++n}`, label: null, deadline: clock.t + 3600_000, sourceEndpointId: src, destinationEndpointId: null,
        items: paths.map((path) => ({ path })), options: { recursive: true, ignoreMissing: false, interpretGlobs: false }, ...over,
      } as NewTask, clock.t).record;
    },
    task(id) { return store.tasks.get(id)!; },
    cleanup() {
      for (const o of orchestrators) void o.close();
      store.close();
      dir.cleanup();
    },
  };
}
