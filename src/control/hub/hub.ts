import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { TLSSocket } from 'node:tls';
import { WebSocketServer } from 'ws';
import type { Logger } from '../../common/logger.js';
import { FerryError } from '../../common/errors.js';
import { certFingerprint } from '../../pki/index.js';
import { LINK_ROUTE, MAX_LINK_MESSAGE_BYTES, type FileOpArgs, type FileOpName, type FileOpResult, type Principals } from '../../protocol/index.js';
import type { NodeRepo, NodeRecord } from '../store/nodes.js';
import { AgentConnection, type ConnectionLimits, type SessionNotice } from './connection.js';
import type { TSchema } from '@sinclair/typebox';

export type { SessionNotice } from './connection.js';

/** Who hears about agents coming and going and about their transfer sessions. */
export interface HubListener {
  onAgentReady?(endpointId: string, nodeId: string): void;
  onAgentGone?(endpointId: string, nodeId: string): void;
  onSessionNotice?(endpointId: string, nodeId: string, notice: SessionNotice): void;
}

export type HubLimits = ConnectionLimits;

/**
 * The agent hub: accepts agents' WebSocket upgrades on the HTTPS port (mutual TLS: the
 * agent's certificate must chain to control's CA and belong to a node that is not revoked),
 * keeps one live connection per node, and routes file operations to an endpoint's agent.
 */
export class AgentHub {
  private readonly wss = new WebSocketServer({ noServer: true, maxPayload: MAX_LINK_MESSAGE_BYTES });
  /** Ready connections by endpoint id (one endpoint may have several nodes). */
  private readonly byEndpoint = new Map<string, Set<AgentConnection>>();
  private readonly all = new Set<AgentConnection>();
  private closing = false;
  private readonly listeners: HubListener[] = [];
  private readonly readyHooks: Array<(conn: AgentConnection) => void> = [];

  constructor(private readonly nodes: NodeRepo, private readonly limits: HubLimits, private readonly log: Logger) {}

  /** Wire this into the HTTPS server's 'upgrade' event. */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    if (this.closing) return rejectUpgrade(socket, 503, 'Service Unavailable');
    const path = (req.url ?? '').split('?')[0];
    if (path !== LINK_ROUTE) return rejectUpgrade(socket, 404, 'Not Found');
    const tls = req.socket as TLSSocket;
    const peer = typeof tls.getPeerCertificate === 'function' ? tls.getPeerCertificate(false) : undefined;
    if (!tls.authorized || !peer || !peer.raw) {
      this.log.warn({ remote: req.socket.remoteAddress, reason: tls.authorizationError ?? 'no client certificate' }, 'agent link refused: certificate not issued by this control');
      return rejectUpgrade(socket, 401, 'Unauthorized');
    }
    const node = this.nodes.byFingerprint(certFingerprint(peer.raw));
    if (!node || node.revokedAt !== null) {
      this.log.warn({ remote: req.socket.remoteAddress, nodeId: node?.id, revoked: node ? true : undefined }, 'agent link refused: unknown or revoked node');
      return rejectUpgrade(socket, 403, 'Forbidden');
    }
    this.wss.handleUpgrade(req, socket, head, (ws) => this.attach(ws, node));
  }

  private attach(ws: import('ws').WebSocket, node: NodeRecord): void {
    const log = this.log.child({ nodeId: node.id, endpointId: node.endpointId });
    const conn = new AgentConnection(ws, node.id, node.endpointId, this.limits, {
      onReady: (c) => {
        // A reconnecting agent may race its own stale connection: keep only the newest.
        for (const other of this.byEndpoint.get(c.endpointId) ?? []) {
          if (other !== c && other.nodeId === c.nodeId) other.close(4006, 'replaced by a newer connection');
        }
        let set = this.byEndpoint.get(c.endpointId);
        if (!set) this.byEndpoint.set(c.endpointId, (set = new Set()));
        set.add(c);
        this.nodes.touch(c.nodeId);
        log.info({ agentVersion: c.hello?.agentVersion }, 'agent connected');
        // Hooks first (the sharing snapshot): what they send precedes any op or session.open on this socket.
        for (const h of this.readyHooks) h(c);
        for (const l of this.listeners) l.onAgentReady?.(c.endpointId, c.nodeId);
      },
      onSessionNotice: (c, notice) => {
        for (const l of this.listeners) l.onSessionNotice?.(c.endpointId, c.nodeId, notice);
      },
      onClose: (c) => {
        this.all.delete(c);
        const set = this.byEndpoint.get(c.endpointId);
        set?.delete(c);
        if (set && set.size === 0) this.byEndpoint.delete(c.endpointId);
        // During shutdown the store may already be closing; last-seen is best effort.
        if (!this.closing) this.nodes.touch(c.nodeId);
        if (c.ready || c.hello) for (const l of this.listeners) l.onAgentGone?.(c.endpointId, c.nodeId);
      },
    }, log);
    this.all.add(conn);
  }

  addListener(listener: HubListener): void {
    this.listeners.push(listener);
  }

  /**
   * Run `hook` on every newly ready connection, synchronously and before the listeners hear of
   * it, so whatever it sends is the first thing on the socket after the hello reply.
   */
  addReadyHook(hook: (conn: AgentConnection) => void): void {
    this.readyHooks.push(hook);
  }

  /** The connected agent with this node id, if any. */
  node(nodeId: string): AgentConnection | undefined {
    for (const c of this.all) if (c.nodeId === nodeId && c.ready) return c;
    return undefined;
  }

  /** Send a request to a specific node and check its reply against `resultSchema`. */
  call(nodeId: string, message: Record<string, unknown>, resultSchema: TSchema, what: string, timeoutMs?: number): Promise<unknown> {
    const conn = this.node(nodeId);
    if (!conn) return Promise.reject(new FerryError('ExternalError.GCDisconnected', 'that agent is not connected'));
    return conn.call(message, resultSchema, what, timeoutMs);
  }

  isConnected(endpointId: string): boolean {
    return (this.byEndpoint.get(endpointId)?.size ?? 0) > 0;
  }

  connectedNodes(endpointId: string): AgentConnection[] {
    return [...(this.byEndpoint.get(endpointId) ?? [])];
  }

  /**
   * Run a file operation on one of the endpoint's connected agents; fails fast when none is.
   * With `collectionId`, `endpointId` is the host of that guest collection and the operation
   * names the collection; only agents that speak sharing may take it.
   */
  request<K extends FileOpName>(endpointId: string, op: K, args: FileOpArgs<K>, principals: Principals, timeoutMs?: number, collectionId?: string): Promise<FileOpResult<K>> {
    const nodes = this.connectedNodes(endpointId);
    if (nodes.length === 0) return Promise.reject(new FerryError('ExternalError.GCDisconnected', 'the endpoint has no connected agent; start it with `ferry agent run`'));
    if (collectionId === undefined) return nodes[0]!.request(op, args, principals, timeoutMs);
    const conn = nodes.find((n) => n.supports('sharing'));
    if (!conn) return Promise.reject(new FerryError('Sharing.CollectionRefused', "the host endpoint's agent does not support guest collections; upgrade it"));
    return conn.request(op, args, principals, timeoutMs, collectionId);
  }

  /** Drop an endpoint's agents (after delete/revoke). */
  disconnectEndpoint(endpointId: string, reason: string): void {
    for (const c of [...this.all]) if (c.endpointId === endpointId) c.close(4007, reason);
  }

  /** Close every agent link (agents will reconnect to the next control) and wait for them. */
  async close(): Promise<void> {
    this.closing = true;
    const conns = [...this.all];
    for (const c of conns) c.close(1001, 'control shutting down');
    await Promise.all(conns.map((c) => c.whenClosed));
    this.wss.close();
  }
}

function rejectUpgrade(socket: Duplex, status: number, text: string): void {
  socket.end(`HTTP/1.1 ${status} ${text}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
}
