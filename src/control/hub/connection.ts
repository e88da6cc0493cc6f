import type { WebSocket, RawData } from 'ws';
import type { Logger } from '../../common/logger.js';
import { FerryError, errorFromWire, type ErrorCode } from '../../common/errors.js';
import { checkSchema } from '../../common/validate.js';
import type { TSchema } from '@sinclair/typebox';
import type { SessionDoneMessage, SessionEventMessage, SessionFilesMessage, SessionProgressMessage } from '../../protocol/session.js';
import {
  AgentToControl, FILE_OPS, HelloMessage, LINK_PROTOCOL_VERSION,
  type FileOpArgs, type FileOpName, type FileOpResult, type HelloResult, type Principals,
} from '../../protocol/index.js';

export interface ConnectionLimits {
  helloTimeoutMs: number;
  heartbeatIntervalMs: number;
  /** Missed heartbeats (in intervals) before control considers the agent gone. */
  heartbeatMisses: number;
  opTimeoutMs: number;
  /** Invalid messages tolerated before the link is closed. */
  maxInvalidMessages: number;
  controlVersion: string;
}

interface Pending {
  what: string;
  resultSchema: TSchema;
  resolve: (value: unknown) => void;
  reject: (err: FerryError) => void;
  timer: NodeJS.Timeout;
}

export type SessionNotice = SessionProgressMessage | SessionFilesMessage | SessionEventMessage | SessionDoneMessage;

export interface ConnectionEvents {
  onReady(conn: AgentConnection): void;
  onClose(conn: AgentConnection): void;
  /** Transfer-session notices from the agent (already schema-checked). */
  onSessionNotice(conn: AgentConnection, notice: SessionNotice): void;
}

/**
 * One agent's WebSocket, already authenticated by its client certificate. Expects `hello`
 * first, then heartbeats and replies; sends file operations and matches their replies.
 */
export class AgentConnection {
  ready = false;
  hello: HelloMessage | undefined;
  /**
   * The sharing version this agent last acknowledged (src/control/sharing/publisher.ts sets
   * it); undefined until it acks its first snapshot. A read-only view for logs and tests.
   */
  sharingVersion: number | undefined;
  private nextId = 1;
  private invalid = 0;
  private readonly pending = new Map<string, Pending>();
  private helloTimer: NodeJS.Timeout | undefined;
  private livenessTimer: NodeJS.Timeout | undefined;
  private closed = false;
  private markClosed: () => void = () => {};
  /** Settles once the socket has closed and the hub was told. */
  readonly whenClosed: Promise<void> = new Promise((resolve) => { this.markClosed = resolve; });

  constructor(
    private readonly ws: WebSocket,
    readonly nodeId: string,
    readonly endpointId: string,
    private readonly limits: ConnectionLimits,
    private readonly events: ConnectionEvents,
    private readonly log: Logger,
  ) {
    ws.on('message', (data, isBinary) => this.onMessage(data, isBinary));
    ws.on('close', (code) => this.onClose(code));
    ws.on('error', (err) => this.log.warn({ err: err.message }, 'agent link socket error'));
    this.helloTimer = setTimeout(() => this.fail(4001, 'no hello in time'), limits.helloTimeoutMs);
  }

  /**
   * Run a file operation. `endpointId` is this agent's own endpoint, or a guest collection it
   * hosts (the agent then decides from its replica of the collection's rules).
   */
  request<K extends FileOpName>(op: K, args: FileOpArgs<K>, principals: Principals, timeoutMs?: number, endpointId = this.endpointId): Promise<FileOpResult<K>> {
    return this.call({ type: 'op', endpointId, principals, op, args }, FILE_OPS[op].result, op, timeoutMs) as Promise<FileOpResult<K>>;
  }

  /** Whether the agent's hello lists this capability ('sharing', 'transfer', …). */
  supports(capability: string): boolean {
    return this.hello?.capabilities.includes(capability) === true;
  }

  /**
   * Send a request message (an `id` is added) and resolve with its reply's result, checked
   * against `resultSchema`. Rejects with GCDisconnected when the link is down or drops, and
   * Timeout when no reply comes in time.
   */
  call(message: Record<string, unknown>, resultSchema: TSchema, what: string, timeoutMs = this.limits.opTimeoutMs): Promise<unknown> {
    if (!this.ready || this.closed) return Promise.reject(new FerryError('ExternalError.GCDisconnected', 'the endpoint agent is not connected'));
    const id = String(this.nextId++);
    return new Promise<unknown>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new FerryError('ExternalError.Timeout', `the endpoint agent did not answer ${what} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(id, { what, resultSchema, resolve, reject, timer });
      this.send({ ...message, id });
    });
  }

  close(code = 1000, reason = 'closing'): void {
    if (this.closed) return;
    this.ws.close(code, reason);
    // A peer that never answers the close handshake must not keep the socket alive.
    setTimeout(() => this.ws.terminate(), 2000).unref();
  }

  private send(msg: unknown): void {
    if (this.ws.readyState === this.ws.OPEN) this.ws.send(JSON.stringify(msg));
  }

  private refuse(code: ErrorCode, message: string, re?: string): void {
    this.invalid++;
    this.log.warn({ code, reason: message }, 'refused agent link message');
    this.send({ type: 'error', ...(re === undefined ? {} : { re }), error: { code, message } });
    if (this.invalid > this.limits.maxInvalidMessages) this.fail(4002, 'too many invalid messages');
  }

  private onMessage(data: RawData, isBinary: boolean): void {
    if (isBinary) return this.refuse('Link.BadMessage', 'binary messages are not part of the link protocol');
    let msg: unknown;
    try {
      msg = JSON.parse(data.toString());
    } catch {
      return this.refuse('Link.BadMessage', 'message is not valid JSON');
    }
    const problems = checkSchema(AgentToControl, msg);
    if (problems !== null) return this.refuse('Link.BadMessage', `message does not match the link schema: ${problems}`);
    const m = msg as AgentToControl;
    switch (m.type) {
      case 'hello': return this.onHello(m);
      case 'hello.update':
        if (!this.ready || this.hello === undefined) return this.refuse('Link.BadMessage', 'hello.update before hello');
        this.hello = { ...this.hello, capabilities: m.capabilities, roots: m.roots };
        this.log.info({ capabilities: m.capabilities, roots: m.roots.length }, 'agent updated its hello (config reloaded)');
        return;
      case 'heartbeat': return this.bumpLiveness();
      case 'reply': return this.onReply(m);
      case 'session.progress':
      case 'session.files':
      case 'session.event':
      case 'session.done':
        if (!this.ready) return this.refuse('Link.BadMessage', 'session notice before hello');
        return this.events.onSessionNotice(this, m);
      case 'error':
        this.log.warn({ code: m.error.code, reason: m.error.message, re: m.re }, 'agent reported a link error');
        if (m.re !== undefined) this.settle(m.re, { ok: false, error: m.error });
        return;
    }
  }

  private onHello(hello: HelloMessage): void {
    if (this.ready) return this.refuse('Link.BadMessage', 'hello was already received', hello.id);
    if (hello.version !== LINK_PROTOCOL_VERSION) {
      this.send({ type: 'reply', re: hello.id, ok: false, error: { code: 'Link.VersionMismatch', message: `control speaks link version ${LINK_PROTOCOL_VERSION}, agent sent ${hello.version}` } });
      return this.fail(4003, 'link version mismatch');
    }
    if (hello.nodeId !== this.nodeId || hello.endpointId !== this.endpointId) {
      this.send({ type: 'reply', re: hello.id, ok: false, error: { code: 'Agent.CertificateRejected', message: 'hello names another node or endpoint than the certificate' } });
      return this.fail(4004, 'hello does not match certificate');
    }
    clearTimeout(this.helloTimer);
    this.hello = hello;
    this.ready = true;
    const result: HelloResult = { controlVersion: this.limits.controlVersion, heartbeatIntervalMs: this.limits.heartbeatIntervalMs };
    this.send({ type: 'reply', re: hello.id, ok: true, result });
    this.bumpLiveness();
    this.events.onReady(this);
  }

  private bumpLiveness(): void {
    if (!this.ready) return;
    clearTimeout(this.livenessTimer);
    this.livenessTimer = setTimeout(() => this.fail(4005, 'heartbeats stopped'), this.limits.heartbeatIntervalMs * this.limits.heartbeatMisses);
  }

  private onReply(m: { re: string; ok: true; result: unknown } | { re: string; ok: false; error: { code: string; message: string } }): void {
    if (!this.pending.has(m.re)) return this.refuse('Link.BadMessage', `reply to unknown request '${m.re}'`);
    this.settle(m.re, m);
  }

  private settle(re: string, m: { ok: true; result: unknown } | { ok: false; error: { code: string; message: string } }): void {
    const p = this.pending.get(re);
    if (!p) return;
    this.pending.delete(re);
    clearTimeout(p.timer);
    if (!m.ok) return p.reject(errorFromWire(m.error));
    const problems = checkSchema(p.resultSchema, m.result);
    if (problems !== null) {
      this.log.warn({ what: p.what, reason: problems }, 'agent reply does not match the result schema');
      return p.reject(new FerryError('Link.BadMessage', `the endpoint agent sent a malformed ${p.what} result`));
    }
    p.resolve(m.result);
  }

  private fail(code: number, reason: string): void {
    this.log.warn({ reason }, 'closing agent link');
    this.close(code, reason);
  }

  private onClose(code: number): void {
    if (this.closed) return;
    this.closed = true;
    this.ready = false;
    clearTimeout(this.helloTimer);
    clearTimeout(this.livenessTimer);
    for (const [id, p] of this.pending) {
      clearTimeout(p.timer);
      p.reject(new FerryError('ExternalError.GCDisconnected', 'the endpoint agent disconnected before answering'));
      this.pending.delete(id);
    }
    this.log.info({ code }, 'agent link closed');
    this.events.onClose(this);
    this.markClosed();
  }
}
