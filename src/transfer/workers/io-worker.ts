import { parentPort } from 'node:worker_threads';
import { readFiles, readInto } from './batch-read.js';
import { commit } from './durable-commit.js';
import { hashFile, hashRange, makeHasher, needXxh, type Hasher } from './hashing.js';
import { ioError, type AnsweredOp, type IoReplyMessage, type IoReplyOf, type IoRequest } from './messages.js';
import { lstatMany } from './stat.js';
import { fullCollection } from '../util/full-collection.js';

/**
 * Entry of the I/O worker threads of io-pool.ts: takes the requests of messages.ts and hands
 * each op to its module. The pool starts it from the compiled file (dist/), also when the
 * pool itself runs from the TypeScript sources (tests): io-pool.ts says how it finds it.
 *
 * Two kinds of work, both kept off the event loop:
 *  - hashing (hashing.ts): streaming hashes fed by the parent (bytes in SharedArrayBuffers are
 *    hashed in place and acknowledged), and whole files read here;
 *  - batched file-system work with synchronous calls: a run of lstats (stat.ts), reading a
 *    batch of small files (batch-read.ts), committing a group of files (durable-commit.ts). A
 *    thread making plain syscalls costs a fraction of the CPU that one promise per operation
 *    costs on the event loop (measured about 6x for small files), and one message carries
 *    hundreds of files.
 */

const port = parentPort!;

/** This isolate's full collection, for the pool's 'collect' (null: the runtime has none; then a no-op). */
const collectGarbage = fullCollection();

/** Streaming hashes by stream number: each update chains on the one before, so they stay in order. */
const streams = new Map<number, Promise<Hasher>>();

/**
 * Keep the newest link of a stream's chain. A link that rejects (a hasher that could not be
 * made, an update that threw) is marked handled here, so it cannot end the whole worker as an
 * unhandled rejection (taking other sessions' pending calls with it); whoever waits on the
 * stream next (update with an id, updateFile, digest) is answered with the error instead.
 */
function chain(stream: number, link: Promise<Hasher>): void {
  link.catch(() => undefined);
  streams.set(stream, link);
}

function reply<O extends AnsweredOp>(_op: O, id: number, value: IoReplyOf<O>, transfer?: ArrayBuffer[]): void {
  port.postMessage({ id, ...value } as IoReplyMessage, transfer ?? []);
}

function replyError(id: number | undefined, err: unknown): void {
  port.postMessage({ id, error: ioError(err) } as IoReplyMessage);
}

port.on('message', async (m: IoRequest) => {
  try {
    switch (m.op) {
      case 'open':
        chain(m.stream, makeHasher(m.algorithm));
        return;
      case 'update': {
        const p = streams.get(m.stream);
        if (!p) { if (m.id !== undefined) replyError(m.id, new Error('unknown hash stream')); return; }
        const next = p.then((h) => {
          h.update(m.data);
          if (m.id !== undefined) reply('update', m.id, {});
          return h;
        });
        if (m.id !== undefined) {
          const id = m.id;
          next.catch((err: unknown) => replyError(id, err));
        }
        chain(m.stream, next);
        return;
      }
      case 'updateFile': {
        const p = streams.get(m.stream);
        if (!p) { replyError(m.id, new Error('unknown hash stream')); return; }
        const next = p.then((h) => {
          try {
            reply('updateFile', m.id, { direct: hashRange(h, m.path, m.offset, m.length, m.direct === true) });
          } catch (err) {
            replyError(m.id, err);
          }
          return h;
        });
        // The stream itself had failed before: this call is answered with that failure.
        next.catch((err: unknown) => replyError(m.id, err));
        chain(m.stream, next);
        return;
      }
      case 'digest': {
        const p = streams.get(m.stream);
        streams.delete(m.stream);
        if (!p) { replyError(m.id, new Error('unknown hash stream')); return; }
        reply('digest', m.id, { checksum: (await p).digest() });
        return;
      }
      case 'drop':
        streams.delete(m.stream);
        return;
      case 'collect':
        // Twice: a collection leaves freeing dead ArrayBuffers' memory to a background task,
        // which the next collection finishes first (seen: 40 of 96 MiB still held after one).
        collectGarbage?.();
        collectGarbage?.();
        return;
      case 'file':
        reply('file', m.id, await hashFile(m.path, m.algorithm));
        return;
      case 'lstat':
        reply('lstat', m.id, { stats: lstatMany(m.paths) });
        return;
      case 'read': {
        await needXxh(m.algorithm);
        const r = readFiles(m.files, m.algorithm);
        reply('read', m.id, r, [r.buffer]);
        return;
      }
      case 'readInto':
        await needXxh(m.algorithm);
        reply('readInto', m.id, { results: readInto(m.files, m.target, m.algorithm) });
        return;
      case 'commit':
        await needXxh(m.files.some((f) => f.verify === 'xxh128') ? 'xxh128' : null);
        reply('commit', m.id, await commit(m.files, m.durable, m.data));
        return;
      default: {
        const unknown = m as { op: string; id?: number };
        replyError(unknown.id, new Error('unknown op ' + unknown.op));
      }
    }
  } catch (err) {
    const id = (m as { id?: number }).id;
    if (id !== undefined) replyError(id, err);
  }
});
