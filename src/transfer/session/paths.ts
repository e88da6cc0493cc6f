import { createHash, randomFillSync } from 'node:crypto';
import { MAX_NAME_BYTES, MAX_PATH_BYTES } from '../../protocol/limits.js';
import { peerProtocolError } from '../errors.js';

/**
 * Relative paths inside an item, as the manifest carries them: '' for the item itself, else
 * names joined by '/'. A destination builds host paths only from paths that passed
 * checkRelPath, so no name from the wire can climb out of the destination directory.
 */

export function checkRelPath(path: string): void {
  if (path === '') return;
  if (Buffer.byteLength(path, 'utf8') > MAX_PATH_BYTES) throw peerProtocolError('manifest path too long');
  for (const name of path.split('/')) checkName(name);
}

const LONE_SURROGATE = /\p{Cs}/u;

export function checkName(name: string): void {
  if (name === '' || name === '.' || name === '..') throw peerProtocolError(`manifest path has an empty, '.' or '..' component`);
  if (name.includes('\0')) throw peerProtocolError('manifest path contains a NUL byte');
  // A lone surrogate would be written as U+FFFD: two distinct names could land on one file.
  if (LONE_SURROGATE.test(name)) throw peerProtocolError('manifest path is not well-formed Unicode');
  if (Buffer.byteLength(name, 'utf8') > MAX_NAME_BYTES) throw peerProtocolError('manifest path has a component longer than NAME_MAX');
}

export function parentOf(rel: string): string {
  const at = rel.lastIndexOf('/');
  return at < 0 ? '' : rel.slice(0, at);
}

export function baseName(rel: string): string {
  return rel.slice(rel.lastIndexOf('/') + 1);
}

export function joinRel(parent: string, name: string): string {
  return parent === '' ? name : `${parent}/${name}`;
}

/** Host path of `rel` below the host directory `base`. */
export function hostJoin(base: string, rel: string): string {
  if (rel === '') return base;
  return base.endsWith('/') ? `${base}${rel}` : `${base}/${rel}`;
}

/** API path of `rel` below the API path `base` ('/~/data' + 'a/b' -> '/~/data/a/b'). */
export function apiJoin(base: string, rel: string): string {
  if (rel === '') return base;
  return `${base.replace(/\/+$/, '')}/${rel}`;
}

export const PARTIAL_PREFIX = '.ferry-part.';

/** The part of every partial name of a task (cleanup finds a task's partials by it). */
export function partialPrefix(taskId: string): string {
  return `${PARTIAL_PREFIX}${taskId.slice(0, 8)}.`;
}

/**
 * Random bytes for partial names come from the CSPRNG 4 KiB at a time and each is used once:
 * one randomBytes(6) per file was 0.17 s of the destination's main thread per 20,000 small
 * files (profiled), more than its commit bookkeeping.
 */
const randomPool = Buffer.alloc(4096);
let randomAt = randomPool.length;

function randomPart(): string {
  if (randomAt + 6 > randomPool.length) {
    randomFillSync(randomPool);
    randomAt = 0;
  }
  randomAt += 6;
  return randomPool.toString('hex', randomAt - 6, randomAt);
}

/**
 * Hidden name of the partial file that becomes `name` once verified and durable, in the same
 * directory (so the final rename is atomic). A random part makes it unpredictable, so nobody
 * can plant a link or file there ahead of time; the restart markers record the name, so a
 * retry finds what an interrupted attempt left. A name too long to carry the prefix is
 * replaced by a hash of it.
 */
export function partialName(taskId: string, name: string, random = randomPart()): string {
  const prefix = `${partialPrefix(taskId)}${random}.`;
  const full = prefix + name;
  if (Buffer.byteLength(full, 'utf8') <= MAX_NAME_BYTES) return full;
  return prefix + createHash('sha256').update(name, 'utf8').digest('hex').slice(0, 40);
}

export function isPartialName(name: string): boolean {
  return name.startsWith(PARTIAL_PREFIX);
}

/** Tar entry name of a file in a batch: its path in the item ('@' + item index for an item that is one file). */
export function tarEntryName(file: { item: number; path: string }): string {
  return file.path === '' ? `@${file.item}` : file.path;
}
