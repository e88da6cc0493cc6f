import net, { type AddressInfo, type Socket } from 'node:net';
import tls, { type TLSSocket } from 'node:tls';
import { FerryError, isFerryError, isProgrammerError } from '../../common/errors.js';
import { silentLogger, type Logger } from '../../common/logger.js';
import { parseAgentIdentity } from '../../pki/agent-identity.js';
import { ClearHello, DATA_PROTOCOL_VERSION, HandshakeFrameType } from '../../protocol/frames.js';
import { answerClearJoin } from './clear-join.js';
import { clearSessionSecret } from './clear-keys.js';
import { classifySocketError, errorFrame, helloOkFrame, parseHandshakeJson, parseHello, readFirstFrame } from './handshake-io.js';
import { bindFirstFreePort, checkPortRange } from './ports.js';
import {
  baseTlsOptions, checkExpectation, DEFAULT_HANDSHAKE_TIMEOUT_MS, DEFAULT_SESSION_TIMEOUT_MS, tuneSocket,
  type ChannelCredentials, type ChannelExpectation, type SessionExpectation,
} from './options.js';
import { proofMatches } from './proof.js';
import { StreamSet } from './stream-set.js';

export interface DataListenerOptions {
  host: string;
  /** Inclusive. [0, 0] asks the OS for any free port (tests). */
  portRange: [number, number];
  /** Per phase: TLS handshake, then HELLO. */
  handshakeTimeoutMs?: number;
  log?: Logger;
}

interface ExpectOptions {
  timeoutMs?: number;
  signal?: AbortSignal;
}

interface Expected {
  exp: ChannelExpectation;
  set: StreamSet;
}

/**
 * The reachable side of a session: one TLS server on a port from the data port range,
 * shared by every session of this agent. Each connection must carry a certificate chained
 * to control's CA (checked by OpenSSL), name the node control paired with the session, and
 * prove the session secret, bound to that very connection; anything else gets an ERROR
 * frame, a log line and a closed socket, and never touches the session.
 * The port also takes the plain-TCP data streams of clear-text sessions (encrypt_data false):
 * the first byte tells them apart (a TLS record starts with 0x16, a Ferry frame with 0x00),
 * and such a stream joins only by proving keys exported from its session's TLS control
 * stream (clear-join.ts).
 */
export class DataListener {
  /** Plain TCP on the data port; TLS connections are handed to `tlsServer`, which never listens itself. */
  private readonly server: net.Server;
  private readonly tlsServer: tls.Server;
  private readonly handshakeTimeoutMs: number;
  private readonly log: Logger;
  private readonly sessions = new Map<string, Expected>();
  /**
   * Connections close() must cut: raw ones still in the TLS handshake (keyed by remote
   * address, which is unique per listening socket; Node gives no other link from the raw
   * socket to its TLS socket), and TLS ones still in HELLO or being refused.
   */
  private readonly inTls = new Map<string, Socket>();
  private readonly handshaking = new Set<Socket>();
  /** Connections whose first byte has not arrived yet. */
  private readonly sniffing = new Set<Socket>();
  private address: { host: string; port: number } | undefined;
  private closed = false;

  constructor(creds: ChannelCredentials, private readonly opts: DataListenerOptions) {
    checkPortRange(opts.portRange);
    this.handshakeTimeoutMs = opts.handshakeTimeoutMs ?? DEFAULT_HANDSHAKE_TIMEOUT_MS;
    this.log = (opts.log ?? silentLogger()).child({ component: 'data-listener' });
    this.server = net.createServer((raw) => this.route(raw));
    this.tlsServer = tls.createServer({
      ...baseTlsOptions(creds),
      requestCert: true,
      // OpenSSL ends the TLS handshake of a client whose certificate does not chain to control's CA.
      rejectUnauthorized: true,
      handshakeTimeout: this.handshakeTimeoutMs,
    });
    this.tlsServer.on('connection', (raw: Socket) => {
      const key = remoteOf(raw);
      this.inTls.set(key, raw);
      raw.once('close', () => {
        if (this.inTls.get(key) === raw) this.inTls.delete(key);
      });
    });
    this.tlsServer.on('secureConnection', (socket: TLSSocket) => {
      this.inTls.delete(remoteOf(socket));
      this.admit(socket, 'data connection', (s) => this.handshake(s));
    });
    this.tlsServer.on('tlsClientError', (err: Error, socket: TLSSocket) => {
      // A certificate OpenSSL could not chain to control's CA shows up as a reset here; authorizationError says why.
      const certError = socket.authorizationError === undefined ? {} : { certError: String(socket.authorizationError) };
      this.log.warn({ remote: remoteOf(socket), code: (err as NodeJS.ErrnoException).code, err: err.message, ...certError }, 'refused data connection: TLS handshake failed');
      // Node reports a handshake timeout here but leaves the connection open.
      socket.destroy();
    });
  }

  /** Bind the first free port in the range (EADDRINUSE -> next); throws Channel.NoPort if none. */
  async open(): Promise<{ host: string; port: number }> {
    if (this.closed) throw new FerryError('Channel.Closed', 'data listener is closed');
    if (this.address) return this.address;
    await bindFirstFreePort(this.server, this.opts.host, this.opts.portRange);
    this.server.on('error', (err: Error) => this.log.error({ err: err.message }, 'data listener error'));
    const port = (this.server.address() as AddressInfo).port;
    this.address = { host: this.opts.host, port };
    this.log.info({ host: this.opts.host, port }, 'listening for data connections');
    return this.address;
  }

  /**
   * Register a session; resolves with its `streams` sockets ordered by stream index once all
   * have passed the handshake. Registration is synchronous, so a caller may tell control
   * (and so the dialer) where to connect right after calling this.
   */
  expect(exp: SessionExpectation & { clear?: false }, opts?: ExpectOptions): Promise<TLSSocket[]>;
  expect(exp: ChannelExpectation, opts?: ExpectOptions): Promise<Socket[]>;
  expect(exp: ChannelExpectation, opts: ExpectOptions = {}): Promise<Socket[]> {
    if (this.closed) return Promise.reject(new FerryError('Channel.Closed', 'data listener is closed'));
    if (this.sessions.has(exp.sessionId)) {
      return Promise.reject(new FerryError('ClientError.Conflict', `session ${exp.sessionId} already awaits data connections`));
    }
    try {
      checkExpectation(exp);
    } catch (err) {
      return Promise.reject(err);
    }
    const set = new StreamSet(exp.streams, {
      timeoutMs: opts.timeoutMs ?? DEFAULT_SESSION_TIMEOUT_MS,
      timeoutMessage: `session ${exp.sessionId}`,
      ...(opts.signal ? { signal: opts.signal } : {}),
    });
    const entry: Expected = { exp, set };
    this.sessions.set(exp.sessionId, entry);
    const forget = (): void => {
      if (this.sessions.get(exp.sessionId) === entry) this.sessions.delete(exp.sessionId);
    };
    set.done.then(forget, forget);
    return set.done;
  }

  /** Stops listening, fails every pending expectation and cuts connections still in handshake. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const { set } of this.sessions.values()) set.fail(new FerryError('Channel.Closed', 'data listener closed'));
    for (const raw of this.sniffing) raw.destroy();
    this.sniffing.clear();
    for (const raw of this.inTls.values()) raw.destroy();
    this.inTls.clear();
    for (const socket of this.handshaking) socket.destroy();
    this.handshaking.clear();
    if (this.server.listening) await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  /** First byte 0x16 (a TLS handshake record): TLS, as ever; anything else: a clear stream's frame. */
  private route(raw: Socket): void {
    if (this.closed) {
      raw.destroy();
      return;
    }
    this.sniffing.add(raw);
    const onError = (err: Error): void => this.log.debug({ remote: remoteOf(raw), err: err.message }, 'data connection error before its first byte');
    const timer = setTimeout(() => {
      this.log.warn({ remote: remoteOf(raw), code: 'Channel.HandshakeTimeout', timeoutMs: this.handshakeTimeoutMs }, 'refused data connection: nothing received');
      raw.destroy();
    }, this.handshakeTimeoutMs);
    const done = (): void => {
      clearTimeout(timer);
      this.sniffing.delete(raw);
      raw.off('readable', onReadable);
      raw.off('close', done);
    };
    const onReadable = (): void => {
      const first = raw.read(1) as Buffer | null;
      if (first === null) return;
      done();
      raw.unshift(first);
      if (first[0] === TLS_HANDSHAKE_RECORD) {
        // The TLS socket reads through the raw one's handle; late errors surface there.
        this.tlsServer.emit('connection', raw);
      } else {
        raw.off('error', onError);
        this.admit(raw, 'clear data connection', (s) => this.handshakeClear(s));
      }
    };
    raw.on('error', onError);
    raw.on('close', done);
    raw.on('readable', onReadable);
  }

  /**
   * Runs `handshake` on a new connection (TLS or clear); `label` names its kind in the log.
   * The socket is tracked (close() cuts it) until the handshake hands it to its session.
   */
  private admit<S extends Socket>(socket: S, label: string, handshake: (socket: S) => Promise<boolean>): void {
    this.handshaking.add(socket);
    // Until hand-over, a reset must not become an unhandled 'error' event.
    const swallow = (err: Error): void => this.log.debug({ remote: remoteOf(socket), err: err.message }, `${label} error during handshake`);
    socket.on('error', swallow);
    socket.once('close', () => this.handshaking.delete(socket));
    tuneSocket(socket);
    handshake(socket).then((ok) => {
      if (ok) {
        socket.off('error', swallow);
        this.handshaking.delete(socket);
      }
    }, (err: unknown) => {
      if (isProgrammerError(err)) process.nextTick(() => { throw err; });
    });
  }

  /** A clear stream: CLEAR_HELLO naming a clear session whose control stream is in, then the key proofs (clear-join.ts). */
  private async handshakeClear(socket: Socket): Promise<boolean> {
    const ctx: Record<string, unknown> = { remote: remoteOf(socket), clear: true };
    try {
      const frame = await readFirstFrame(socket, { what: 'CLEAR_HELLO', timeoutMs: this.handshakeTimeoutMs });
      const hello = parseHandshakeJson(frame, HandshakeFrameType.CLEAR_HELLO, ClearHello, 'CLEAR_HELLO');
      if (hello.version !== DATA_PROTOCOL_VERSION) {
        throw new FerryError('Channel.VersionMismatch', `peer speaks data protocol version ${hello.version}, this agent ${DATA_PROTOCOL_VERSION}`);
      }
      ctx['sessionId'] = hello.sessionId;
      ctx['streamIndex'] = hello.streamIndex;
      const { exp, set } = this.expected(hello.sessionId);
      if (exp.clear !== true) throw new FerryError('Channel.PeerRejected', `session ${exp.sessionId} is encrypted: it takes no clear-text streams`);
      checkStreamFits(exp, hello);
      const control = set.get(0) as TLSSocket | undefined;
      if (control === undefined) throw new FerryError('Channel.BadHandshake', `clear stream ${hello.streamIndex} of session ${exp.sessionId} came before its control stream`);
      const secret = clearSessionSecret(control, exp.sessionId);
      await answerClearJoin(socket, hello, secret, this.handshakeTimeoutMs);
      if (set.isSettled) throw new FerryError('Channel.UnknownSession', `session ${exp.sessionId} stopped waiting for connections`);
      this.join(socket, exp, set, hello.streamIndex, ctx, 'clear data connection accepted');
      return true;
    } catch (err) {
      return this.refused(socket, err, ctx, 'during the clear-stream handshake');
    }
  }

  /** True once the socket belongs to a session; false when it was refused. */
  private async handshake(socket: TLSSocket): Promise<boolean> {
    const ctx: Record<string, unknown> = { remote: remoteOf(socket) };
    try {
      const identity = parseAgentIdentity(socket.getPeerCertificate().raw);
      if (identity === null) throw new FerryError('Channel.PeerRejected', 'peer certificate names no Ferry node');
      ctx['peerNodeId'] = identity.nodeId;
      const hello = parseHello(await readFirstFrame(socket, { what: 'HELLO', timeoutMs: this.handshakeTimeoutMs }));
      ctx['sessionId'] = hello.sessionId;
      ctx['streamIndex'] = hello.streamIndex;
      const { exp, set } = this.expected(hello.sessionId);
      if (identity.nodeId !== exp.peerNodeId) {
        throw new FerryError('Channel.PeerRejected', `node ${identity.nodeId} is not the peer of session ${exp.sessionId}`);
      }
      if (!proofMatches(exp.secret, socket, hello.proof)) {
        throw new FerryError('Channel.PeerRejected', `wrong session proof for session ${exp.sessionId}`);
      }
      checkStreamFits(exp, hello);
      if (exp.clear === true && hello.streamIndex > 0) {
        throw new FerryError('Channel.BadHandshake', `session ${exp.sessionId} is clear-text: only its control stream uses TLS`);
      }
      this.join(socket, exp, set, hello.streamIndex, ctx, 'data connection accepted');
      return true;
    } catch (err) {
      return this.refused(socket, err, ctx, 'during the handshake');
    }
  }

  /** The session still waiting for connections under `sessionId`; Channel.UnknownSession if none. */
  private expected(sessionId: string): Expected {
    const entry = this.sessions.get(sessionId);
    if (entry === undefined || entry.set.isSettled) {
      throw new FerryError('Channel.UnknownSession', `no data connections are expected for session ${sessionId}`);
    }
    return entry;
  }

  /** The last step of a handshake that passed every check: HELLO_OK, then the socket is the session's. */
  private join(socket: Socket, exp: ChannelExpectation, set: StreamSet, streamIndex: number, ctx: Record<string, unknown>, accepted: string): void {
    if (set.has(streamIndex)) {
      throw new FerryError('Channel.BadHandshake', `stream ${streamIndex} of session ${exp.sessionId} is already connected`);
    }
    socket.write(helloOkFrame());
    this.log.debug(ctx, accepted);
    set.put(streamIndex, socket);
  }

  /** A failed handshake: programmer errors go up; anything else refuses the socket. Always false (not handed over). */
  private refused(socket: Socket, err: unknown, ctx: Record<string, unknown>, during: string): false {
    if (isProgrammerError(err)) throw err;
    if (this.closed) return false; // close() cut it; nothing to refuse
    this.refuse(socket, isFerryError(err) ? err : classifySocketError(err as Error, during), ctx);
    return false;
  }

  /** ERROR frame, then a graceful close; a peer that never reads it is cut after the handshake timeout. */
  private refuse(socket: Socket, err: FerryError, ctx: Record<string, unknown>): void {
    this.log.warn({ ...ctx, code: err.code, reason: err.message }, 'refused data connection');
    if (socket.destroyed) return;
    socket.end(errorFrame(err));
    // The peer may have queued more bytes; drain them so they cannot hold the buffer open.
    socket.resume();
    const cut = setTimeout(() => socket.destroy(), this.handshakeTimeoutMs);
    cut.unref();
    socket.once('close', () => clearTimeout(cut));
  }
}

/** TLS record content type "handshake": the first byte of every ClientHello. */
const TLS_HANDSHAKE_RECORD = 0x16;

/** Both HELLOs name the stream count and index: both must fit the session. */
function checkStreamFits(exp: ChannelExpectation, hello: { streams: number; streamIndex: number }): void {
  if (hello.streams !== exp.streams || hello.streamIndex >= exp.streams) {
    throw new FerryError('Channel.BadHandshake', `stream ${hello.streamIndex} of ${hello.streams} does not fit session ${exp.sessionId}, which has ${exp.streams} streams`);
  }
}

function remoteOf(socket: Socket | undefined): string {
  if (!socket?.remoteAddress) return 'unknown';
  return socket.remoteAddress.includes(':') ? `[${socket.remoteAddress}]:${socket.remotePort}` : `${socket.remoteAddress}:${socket.remotePort}`;
}
