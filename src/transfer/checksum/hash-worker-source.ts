/**
 * Source of the hashing worker, run with `new Worker(source, { eval: true })`: an eval'd
 * CommonJS script works the same from the TypeScript sources (tests) and from dist/, where a
 * separate worker file would need a build step of its own. Kept to plain, dependency-light
 * JavaScript; hash-wasm is required by the absolute path the parent passes in workerData.
 *
 * Messages in:  {op:'open', stream, algorithm} | {op:'update', stream, data, id?} | {op:'digest', stream, id}
 *               {op:'drop', stream} | {op:'file', id, path, algorithm}
 * Messages out: {id, checksum?, bytes?} | {id, error: {code, message}}
 * An update with an id is answered once its bytes are hashed (they may live in a
 * SharedArrayBuffer the parent reuses afterwards).
 */
export const HASH_WORKER_SOURCE = String.raw`
'use strict';
const { parentPort, workerData } = require('node:worker_threads');
const crypto = require('node:crypto');
const fsp = require('node:fs/promises');
const hashWasm = require(workerData.hashWasmPath);

async function make(algorithm) {
  if (algorithm === 'xxh128') {
    const h = await hashWasm.createXXHash128();
    h.init();
    return { update: (d) => h.update(d), digest: () => h.digest('hex') };
  }
  const h = crypto.createHash(algorithm);
  return { update: (d) => h.update(d), digest: () => h.digest('hex') };
}

// Per stream: a promise of its hasher, so updates queue behind an async create in order.
const open = new Map();

function reply(id, value) { parentPort.postMessage(Object.assign({ id }, value)); }
function replyError(id, err) {
  reply(id, { error: { code: (err && err.code) || 'EHASH', message: String((err && err.message) || err) } });
}

async function hashFile(path, algorithm) {
  const h = await make(algorithm);
  const fh = await fsp.open(path, 'r');
  try {
    const buf = Buffer.allocUnsafe(1024 * 1024);
    let bytes = 0;
    for (;;) {
      const { bytesRead } = await fh.read(buf, 0, buf.length, bytes);
      if (bytesRead === 0) break;
      h.update(buf.subarray(0, bytesRead));
      bytes += bytesRead;
    }
    return { checksum: h.digest(), bytes };
  } finally {
    await fh.close();
  }
}

parentPort.on('message', (m) => {
  switch (m.op) {
    case 'open':
      open.set(m.stream, make(m.algorithm));
      break;
    case 'update': {
      const p = open.get(m.stream);
      if (!p) { if (m.id !== undefined) replyError(m.id, new Error('unknown hash stream')); break; }
      open.set(m.stream, p.then((h) => {
        h.update(m.data);
        if (m.id !== undefined) reply(m.id, {});
        return h;
      }));
      break;
    }
    case 'digest': {
      const p = open.get(m.stream);
      open.delete(m.stream);
      if (!p) { replyError(m.id, new Error('unknown hash stream')); break; }
      p.then((h) => reply(m.id, { checksum: h.digest() }), (err) => replyError(m.id, err));
      break;
    }
    case 'drop':
      open.delete(m.stream);
      break;
    case 'file':
      hashFile(m.path, m.algorithm).then((r) => reply(m.id, r), (err) => replyError(m.id, err));
      break;
    default:
      replyError(m.id, new Error('unknown op'));
  }
});
`;
