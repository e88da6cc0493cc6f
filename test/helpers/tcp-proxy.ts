import { createServer, connect, type Server, type Socket } from 'node:net';

/**
 * A TCP proxy on 127.0.0.1 that the test controls: counts bytes each way, can cut every
 * connection, and can hold the upstream flow still. Used to measure control's traffic and to
 * inject connection faults at a moment the test chooses rather than one it races for.
 */
export class TcpProxy {
  bytesUp = 0;
  bytesDown = 0;
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();
  private readonly pairs = new Set<{ client: Socket; upstream: Socket }>();
  private held = false;
  private repliesHeld = false;
  port = 0;

  constructor(private readonly targetPort: number, private readonly targetHost = '127.0.0.1') {}

  async open(port = 0): Promise<number> {
    this.server = createServer((client) => {
      const upstream = connect(this.targetPort, this.targetHost);
      for (const s of [client, upstream]) {
        this.sockets.add(s);
        s.on('close', () => this.sockets.delete(s));
        s.on('error', () => { client.destroy(); upstream.destroy(); });
      }
      const pair = { client, upstream };
      this.pairs.add(pair);
      client.on('close', () => this.pairs.delete(pair));
      client.on('data', (d: Buffer) => { this.bytesUp += d.length; });
      upstream.on('data', (d: Buffer) => { this.bytesDown += d.length; });
      if (this.held) client.pause();
      else client.pipe(upstream);
      if (this.repliesHeld) upstream.pause();
      else upstream.pipe(client);
    });
    await new Promise<void>((resolve) => this.server!.listen(port, '127.0.0.1', resolve));
    this.port = (this.server.address() as { port: number }).port;
    return this.port;
  }

  get bytes(): number {
    return this.bytesUp + this.bytesDown;
  }

  /**
   * Stop forwarding client-to-upstream bytes on every connection, present and future, until
   * release(): the receiver's files stop growing at a point the test has seen.
   */
  hold(): void {
    this.held = true;
    for (const { client, upstream } of this.pairs) {
      client.unpipe(upstream);
      client.pause();
    }
  }

  release(): void {
    this.held = false;
    for (const { client, upstream } of this.pairs) client.pipe(upstream);
  }

  /**
   * The other way: stop forwarding upstream-to-client bytes on every connection, present and
   * future, until releaseReplies(). In front of control, an agent's messages keep reaching
   * control while control's to the agent wait (a message the test must see arrive late).
   */
  holdReplies(): void {
    this.repliesHeld = true;
    for (const { client, upstream } of this.pairs) {
      upstream.unpipe(client);
      upstream.pause();
    }
  }

  releaseReplies(): void {
    this.repliesHeld = false;
    for (const { client, upstream } of this.pairs) upstream.pipe(client);
  }

  /** Reset every proxied connection (both sides see a cut). */
  cutAll(): void {
    for (const s of this.sockets) s.resetAndDestroy();
  }

  async close(): Promise<void> {
    this.cutAll();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}
