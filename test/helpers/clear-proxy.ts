import { createServer, connect, type Server, type Socket } from 'node:net';

/**
 * A TCP proxy between two agents' data connections that reads what crosses it: it tells TLS
 * connections (first byte 0x16) from Ferry's clear-text streams (first byte 0x00), looks for
 * a marker the test planted in a file, and can flip one byte of that marker on a clear stream
 * on its way to the destination (a man in the middle altering a chunk).
 */
export class ClearProxy {
  /** Connections seen, by kind of first byte. */
  tls = 0;
  clear = 0;
  /** Times the marker was seen in the source-to-destination bytes, per kind of connection. */
  markerSeen = { tls: 0, clear: 0 };
  /** Flip one byte of the next marker seen on a clear stream (then disarm). */
  tamper = 0;
  tampered = 0;
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();
  port = 0;

  constructor(private readonly targetPort: number, private readonly marker: Buffer) {}

  async open(): Promise<number> {
    this.server = createServer((client) => {
      const upstream = connect(this.targetPort, '127.0.0.1');
      for (const s of [client, upstream]) {
        this.sockets.add(s);
        s.on('close', () => this.sockets.delete(s));
        s.on('error', () => { client.destroy(); upstream.destroy(); });
      }
      let kind: 'tls' | 'clear' | undefined;
      // The tail of what came before, so a marker split across reads is still found.
      let tail = Buffer.alloc(0);
      client.on('data', (d: Buffer) => {
        if (kind === undefined) {
          kind = d[0] === 0x16 ? 'tls' : 'clear';
          this[kind] += 1;
        }
        const seen = Buffer.concat([tail, d]);
        let at = seen.indexOf(this.marker);
        while (at >= 0) {
          this.markerSeen[kind] += 1;
          if (kind === 'clear' && this.tamper > 0 && at >= tail.length) {
            this.tamper -= 1;
            this.tampered += 1;
            const k = at - tail.length + 3;
            d[k] = d[k]! ^ 0x20;
          }
          at = seen.indexOf(this.marker, at + 1);
        }
        tail = seen.subarray(Math.max(0, seen.length - this.marker.length + 1));
        upstream.write(d);
      });
      client.on('end', () => upstream.end());
      upstream.pipe(client);
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.address() as { port: number }).port;
    return this.port;
  }

  reset(): void {
    this.tls = 0;
    this.clear = 0;
    this.markerSeen = { tls: 0, clear: 0 };
    this.tampered = 0;
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}
