import { WebSocket, type RawData } from 'ws';
import type { Logger } from '../../common/logger.js';
import { FerryError, isFerryError, safetyCatch } from '../../common/errors.js';
import { checkSchema } from '../../common/validate.js';
import {
  ControlToAgent, HelloResult, LINK_MAGIC, LINK_PROTOCOL_VERSION, LINK_ROUTE, MAX_LINK_MESSAGE_BYTES,
  type HelloMessage, type HelloUpdateMessage, type OpRequest, type SessionDoneMessage, type SessionEventMessage, type SessionFilesMessage,
  type SessionOpenResult, type SessionProgressMessage, type SessionSpec, type SharingAck, type SharingSnapshotMessage,
  type SharingUpdateMessage,
} from '../../protocol/index.js';
import { Backoff } from './backoff.js';

export interface LinkCredentials {
  ca: string;
  cert: string;
  key: string;
}

export interface LinkOptions {
  controlUrl: string;
  credentials: LinkCredentials;
  /** Everything in hello except type/id/magic/version. */
  hello: Omit<HelloMessage, 'type' | 'id' | 'magic' | 'version'>;
  reconnect: { initialDelayMs: number; maxDelayMs: number; random?: () => number };
  handshakeTimeoutMs?: number;
}

export interface LinkHandler {
  onOp(request: OpRequest): Promise<unknown>;
  onSessionOpen(spec: SessionSpec): Promise<SessionOpenResult>;
  onSessionCancel(sessionId: string, keepPartials: boolean): Promise<void>;
  onTaskCleanup(taskId: string): Promise<void>;
  /** A sharing snapshot or update: applied before the next message is read (synchronously); the ack may come later. */
  onSharing?(message: SharingSnapshotMessage | SharingUpdateMessage): SharingAck | Promise<SharingAck>;
  /** The link went down (rules may change unseen until the next snapshot). */
  onLinkDown?(): void;
}

/** Agent -> control notices about transfer sessions. */
export type SessionNotice = SessionProgressMessage | SessionFilesMessage | SessionEventMessage | SessionDoneMessage;

/** Notices kept while the link is down, beyond which the oldest non-final ones are dropped. */
const MAX_QUEUED_NOTICES = 10_000;

export type LinkState = 'idle' | 'connecting' | 'ready' | 'waiting' | 'closed';

/**
 * The agent's side of the control link: mutual-TLS WebSocket, hello, heartbeats, file
 * operation requests; reconnects forever with capped exponential backoff and jitter.
 */
export class ControlLink {
  state: LinkState = 'idle';
  private ws: WebSocket | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private heartbeatTimer: NodeJS.Timeout | undefined;
  private readonly backoff: Backoff;
  private helloSeq = 0;
  private readyWaiters: Array<() => void> = [];
  private queued: SessionNotice[] = [];

  constructor(private readonly opts: LinkOptions, private readonly handler: LinkHandler, private readonly log: Logger) {
    this.backoff = new Backoff(opts.reconnect);
  }

  open(): void {
    if (this.state !== 'idle') return;
    this.connect();
  }

  /**
   * Send a session notice now, or keep it until the link is back. Progress notices replace
   * older progress of the same session; files/events/done are kept in order.
   */
  notify(notice: SessionNotice): void {
    if (this.state === 'ready' && this.ws) return this.send(this.ws, notice);
    if (notice.type === 'session.progress') {
      this.queued = this.queued.filter((q) => !(q.type === 'session.progress' && q.sessionId === notice.sessionId));
    }
    this.queued.push(notice);
    if (this.queued.length > MAX_QUEUED_NOTICES) {
      const i = this.queued.findIndex((q) => q.type === 'session.progress' || q.type === 'session.event');
      this.queued.splice(i >= 0 ? i : 0, 1);
      this.log.warn('notice queue full while the link is down; dropped the oldest notice');
    }
  }

  /** Resolves once the link is up (hello accepted). */
  whenReady(): Promise<void> {
    if (this.state === 'ready') return Promise.resolve();
    return new Promise((resolve) => this.readyWaiters.push(resolve));
  }

  async close(): Promise<void> {
    if (this.state === 'closed') return;
    this.state = 'closed';
    clearTimeout(this.retryTimer);
    clearInterval(this.heartbeatTimer);
    const ws = this.ws;
    if (!ws || ws.readyState === ws.CLOSED) return;
    await new Promise<void>((resolve) => {
      const force = setTimeout(() => { ws.terminate(); resolve(); }, 2000);
      ws.once('close', () => { clearTimeout(force); resolve(); });
      ws.close(1001, 'agent shutting down');
    });
  }

  private connect(): void {
    this.state = 'connecting';
    const url = new URL(LINK_ROUTE, this.opts.controlUrl.replace(/^https:/, 'wss:'));
    const { ca, cert, key } = this.opts.credentials;
    const ws = new WebSocket(url, {
      ca, cert, key, maxPayload: MAX_LINK_MESSAGE_BYTES, handshakeTimeout: this.opts.handshakeTimeoutMs ?? 10_000,
    });
    this.ws = ws;
    ws.on('open', () => this.sendHello(ws));
    ws.on('message', (data, isBinary) => this.onMessage(ws, data, isBinary));
    ws.on('unexpected-response', (_req, res) => {
      const status = res.statusCode ?? 0;
      if (status === 401 || status === 403) {
        this.log.error({ code: 'Agent.CertificateRejected', status }, 'control refused this agent certificate (revoked or not issued by it); will keep retrying');
      } else {
        this.log.warn({ status }, 'control answered the link upgrade with an unexpected status');
      }
      ws.terminate();
    });
    ws.on('error', (err) => this.log.warn({ reason: err.message }, 'link error'));
    ws.on('close', (code, reason) => this.onClose(ws, code, reason.toString()));
  }

  /** The config was reloaded: later hellos carry these, and control hears them now if the link is up. */
  updateHello(update: Pick<HelloMessage, 'capabilities' | 'roots'>): void {
    this.opts.hello = { ...this.opts.hello, ...update };
    if (this.state === 'ready' && this.ws) this.send(this.ws, { type: 'hello.update', ...update } satisfies HelloUpdateMessage);
  }

  private sendHello(ws: WebSocket): void {
    const id = `hello-${++this.helloSeq}`;
    const hello: HelloMessage = { type: 'hello', id, magic: LINK_MAGIC, version: LINK_PROTOCOL_VERSION, ...this.opts.hello };
    ws.send(JSON.stringify(hello));
  }

  private send(ws: WebSocket, msg: unknown): void {
    if (ws.readyState === ws.OPEN) ws.send(JSON.stringify(msg));
  }

  private onMessage(ws: WebSocket, data: RawData, isBinary: boolean): void {
    let msg: unknown;
    try {
      if (isBinary) throw new Error('binary');
      msg = JSON.parse(data.toString());
    } catch {
      this.log.warn('control sent a message that is not JSON text');
      return this.send(ws, { type: 'error', error: { code: 'Link.BadMessage', message: 'message is not JSON text' } });
    }
    const problems = checkSchema(ControlToAgent, msg);
    if (problems !== null) {
      this.log.warn({ reason: problems }, 'control sent an invalid message');
      const re = typeof (msg as { id?: unknown }).id === 'string' ? (msg as { id: string }).id : undefined;
      return this.send(ws, { type: 'error', ...(re === undefined ? {} : { re }), error: { code: 'Link.BadMessage', message: problems } });
    }
    const m = msg as ControlToAgent;
    switch (m.type) {
      case 'reply':
        if (m.re.startsWith('hello-')) return this.onHelloReply(ws, m);
        return;
      case 'error':
        this.log.warn({ code: m.error.code, reason: m.error.message }, 'control refused a message');
        return;
      case 'op':
        return this.runOp(ws, m);
      case 'session.open':
        return this.answer(ws, m.id, 'session.open', () => this.handler.onSessionOpen(m.session));
      case 'session.cancel':
        return this.answer(ws, m.id, 'session.cancel', () => this.handler.onSessionCancel(m.sessionId, m.keepPartials === true).then(() => ({})));
      case 'task.cleanup':
        return this.answer(ws, m.id, 'task.cleanup', () => this.handler.onTaskCleanup(m.taskId).then(() => ({})));
      case 'sharing.snapshot':
      case 'sharing.update': {
        // Applied now, not on a later turn: ops that follow on this socket see the new rules.
        const onSharing = this.handler.onSharing;
        let ack: SharingAck | Promise<SharingAck> | FerryError;
        try {
          if (!onSharing) throw new FerryError('Link.BadMessage', 'this agent does not host guest collections');
          ack = onSharing(m);
        } catch (err) {
          ack = isFerryError(err) ? err : new FerryError('InternalError', 'the agent failed to apply sharing rules');
          if (!isFerryError(err)) this.log.error({ err }, 'sharing message crashed');
        }
        return this.answer(ws, m.id, m.type, () => (ack instanceof FerryError ? Promise.reject(ack) : Promise.resolve(ack)));
      }
    }
  }

  private onHelloReply(ws: WebSocket, m: { ok: true; result: unknown } | { ok: false; error: { code: string; message: string } }): void {
    if (!m.ok) {
      this.log.error({ code: m.error.code, reason: m.error.message }, 'control refused hello');
      return;
    }
    const problems = checkSchema(HelloResult, m.result);
    if (problems !== null) {
      this.log.error({ reason: problems }, 'control answered hello with an invalid result');
      ws.close(4002, 'bad hello result');
      return;
    }
    const result = m.result as HelloResult;
    this.state = 'ready';
    this.backoff.reset();
    clearInterval(this.heartbeatTimer);
    this.heartbeatTimer = setInterval(() => this.send(ws, { type: 'heartbeat', time: Date.now() }), result.heartbeatIntervalMs);
    this.log.info({ controlVersion: result.controlVersion }, 'connected to control');
    for (const notice of this.queued.splice(0)) this.send(ws, notice);
    for (const w of this.readyWaiters.splice(0)) w();
  }

  private runOp(ws: WebSocket, req: OpRequest): void {
    this.answer(ws, req.id, req.op, () => this.handler.onOp(req));
  }

  /** Run a request's handler and send its reply (an error reply for a FerryError). */
  private answer(ws: WebSocket, id: string, what: string, run: () => Promise<unknown>): void {
    const started = Date.now();
    run().then(
      (result) => {
        this.log.debug({ what, ms: Date.now() - started }, 'request done');
        this.send(ws, { type: 'reply', re: id, ok: true, result });
      },
      safetyCatch((err) => {
        const e = isFerryError(err) ? err : new FerryError('InternalError', 'the agent failed unexpectedly');
        if (!isFerryError(err)) this.log.error({ err }, 'request crashed');
        else this.log.info({ what, code: e.code }, 'request refused');
        this.send(ws, { type: 'reply', re: id, ok: false, error: { code: e.code, message: e.message } });
      }),
    );
  }

  private onClose(ws: WebSocket, code: number, reason: string): void {
    if (ws !== this.ws) return;
    clearInterval(this.heartbeatTimer);
    this.handler.onLinkDown?.();
    if (this.state === 'closed') return;
    const delay = this.backoff.next();
    this.state = 'waiting';
    this.log.warn({ code, reason, retryInMs: delay, attempt: this.backoff.attempts }, 'link down; reconnecting');
    this.retryTimer = setTimeout(() => this.connect(), delay);
  }
}
