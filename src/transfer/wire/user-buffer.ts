import net from 'node:net';
import type { Duplex } from 'node:stream';

/**
 * Makes a connected net or TLS socket read into buffers we choose, as Node's documented
 * `onread` option does for sockets it creates (net.connect, tls.connect without a socket).
 * Why: by default every read (TLS hands over at most one 16 KiB record at a time) allocates
 * a new ArrayBuffer and goes through the Readable machinery; at 2 GiB per transfer that was
 * 130,000 buffers a second for the garbage collector and a copy to join them, on the thread
 * that also decrypts. With user buffers, OpenSSL's plaintext lands directly in the frame's
 * pooled buffer.
 *
 * `onread` cannot be given for sockets a tls.Server accepts (the listener side of a session),
 * so this sets up, on any socket, the very state that option sets up: the socket's
 * kBuffer/kBufferCb/kBufferGen slots (found by their symbol descriptions) and
 * handle.useUserBuffer(). When they are not there (another Node, a socket without a native
 * handle, a test's plain Duplex) it returns false and the caller keeps to 'data' events.
 *
 * Contract while active: `onRead(n)` is called with n > 0 bytes written at the start of the
 * buffer `next()` returned last; next() is called right after to get the buffer for the
 * following read, and must never return an empty buffer. Bytes may still arrive after
 * socket.pause() (TLS delivers what it has decrypted already), so both must keep working.
 * pause()/resume() stop and restart reading as usual; 'end', 'close' and 'error' are
 * emitted as usual.
 */
export function readIntoOwnBuffers(socket: Duplex, next: () => Buffer, onRead: (n: number) => void): boolean {
  if (process.env['FERRY_NO_USER_BUFFER'] === '1') return false;
  if (!(socket instanceof net.Socket)) return false;
  // Someone else watches the bytes (a test's frame sniffer): they must keep seeing them.
  if (socket.listenerCount('data') > 0) return false;
  const handle = (socket as unknown as { _handle?: { useUserBuffer?: (buf: Uint8Array) => void } })._handle;
  if (!handle || typeof handle.useUserBuffer !== 'function') return false;
  const slots = new Map(Object.getOwnPropertySymbols(socket).map((s) => [s.description, s]));
  const kBuffer = slots.get('kBuffer');
  const kBufferCb = slots.get('kBufferCb');
  const kBufferGen = slots.get('kBufferGen');
  if (!kBuffer || !kBufferCb || !kBufferGen) return false;
  const own = socket as unknown as Record<symbol, unknown>;
  if (own[kBuffer] !== null) return false; // already in user-buffer mode (someone else's)
  const first = next();
  own[kBufferCb] = (n: number): void => onRead(n);
  own[kBufferGen] = next;
  own[kBuffer] = first;
  handle.useUserBuffer(first);
  return true;
}

/**
 * Bytes a socket has buffered in its Readable state (e.g. what the handshake unshifted behind
 * its frame), taken out before switching it to user buffers.
 */
export function takeBuffered(socket: Duplex): Buffer[] {
  const out: Buffer[] = [];
  for (;;) {
    const chunk = socket.read() as Buffer | null;
    if (chunk === null) return out;
    out.push(chunk);
  }
}
