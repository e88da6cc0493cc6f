import { peerProtocolError } from '../errors.js';

/**
 * The few parts of the tar format a batch needs, written and read by hand instead of through
 * tar-stream's streams: a batch of 500 small files then costs a few header fields per file,
 * with no stream machinery, no per-entry promises and no copies of the file bytes (measured:
 * tar-stream's extraction alone was about a tenth of the destination's CPU for 4 KiB files).
 * Output is plain POSIX ustar (pax `path` records for names ustar cannot hold), which any tar
 * reader, tar-stream included, understands; input is what tar-stream and this module write:
 * ustar or GNU headers, pax and GNU long-name records. Headers' checksums are checked.
 */

export const BLOCK = 512;
/** Two zero blocks end an archive. */
export const END_BYTES = 2 * BLOCK;

const ZERO_BLOCK = Buffer.alloc(BLOCK);
const USTAR_MAGIC = Buffer.from('ustar\x0000', 'latin1');

/** Bytes of the header (pax record included) that `name` needs. */
export function headerBytes(name: string): number {
  if (fitsUstar(name)) return BLOCK;
  return 2 * BLOCK + pad(paxRecord(name).length);
}

/** Bytes of a whole entry: header, data, padding. */
export function entryBytes(name: string, size: number): number {
  return headerBytes(name) + pad(size);
}

export function pad(n: number): number {
  return Math.ceil(n / BLOCK) * BLOCK;
}

export interface EntryMeta {
  name: string;
  size: number;
  mode: number;
  mtimeMs: number;
}

/**
 * Write an entry's header at `at` of `out` (headerBytes(name) bytes) and return where its data
 * goes; the caller puts the data there and zero-pads it.
 */
export function writeHeader(out: Buffer, at: number, e: EntryMeta): number {
  const mtime = Math.max(0, Math.floor(e.mtimeMs / 1000));
  const split = splitUstar(e.name);
  if (split) {
    fillHeader(out, at, split.name, split.prefix, e.size, e.mode, mtime, 0x30);
    return at + BLOCK;
  }
  const record = paxRecord(e.name);
  fillHeader(out, at, 'PaxHeader', '', record.length, 0o644, mtime, 0x78);
  zero(out, at + BLOCK, at + BLOCK + pad(record.length));
  record.copy(out, at + BLOCK);
  const main = at + BLOCK + pad(record.length);
  // The pax record carries the real name; the ustar field gets a harmless ASCII stand-in.
  fillHeader(out, main, asciiStandIn(e.name), '', e.size, e.mode, mtime, 0x30);
  return main + BLOCK;
}

/** Zero bytes [from, to): TypedArray's fill, much cheaper per call than Buffer's for small ranges. */
export function zero(out: Buffer, from: number, to: number): void {
  Uint8Array.prototype.fill.call(out, 0, from, to);
}

/** The fields every header shares (uid, gid, magic, device numbers), copied in whole. */
const TEMPLATE = (() => {
  const t = Buffer.alloc(BLOCK);
  writeOctal(t, 108, 8, 0);
  writeOctal(t, 116, 8, 0);
  USTAR_MAGIC.copy(t, 257);
  writeOctal(t, 329, 8, 0);
  writeOctal(t, 337, 8, 0);
  return t;
})();

function fillHeader(out: Buffer, at: number, name: string, prefix: string, size: number, mode: number, mtime: number, type: number): void {
  TEMPLATE.copy(out, at);
  out.write(name, at, 100, 'utf8');
  writeOctal(out, at + 100, 8, mode & 0o7777);
  writeOctal(out, at + 124, 12, size);
  writeOctal(out, at + 136, 12, mtime);
  out[at + 156] = type;
  if (prefix) out.write(prefix, at + 345, 155, 'utf8');
  writeOctal(out, at + 148, 8, checksum(out, at));
}

/** `value` as width-1 zero-padded octal digits and a space, written byte by byte (no strings). */
function writeOctal(out: Buffer, at: number, width: number, value: number): void {
  let v = value;
  for (let k = width - 2; k >= 0; k--) {
    out[at + k] = 0x30 + (v % 8);
    v = Math.floor(v / 8);
  }
  if (v !== 0) throw new RangeError(`tar field of ${width} bytes cannot hold ${value}`);
  out[at + width - 1] = 0x20;
}

function checksum(buf: Buffer, at: number): number {
  let sum = 8 * 0x20;
  for (let k = 0; k < 148; k++) sum += buf[at + k]!;
  for (let k = 156; k < BLOCK; k++) sum += buf[at + k]!;
  return sum;
}

function isAscii(s: string): boolean {
  for (let k = 0; k < s.length; k++) if (s.charCodeAt(k) > 0x7e || s.charCodeAt(k) < 0x20) return false;
  return true;
}

function fitsUstar(name: string): boolean {
  return splitUstar(name) !== null;
}

/** ustar's name (100 bytes) and prefix (155 bytes), split at a slash; null if it cannot hold the name. */
function splitUstar(full: string): { prefix: string; name: string } | null {
  if (!isAscii(full)) return null;
  if (full.length <= 100) return { prefix: '', name: full };
  for (let cut = full.indexOf('/'); cut !== -1; cut = full.indexOf('/', cut + 1)) {
    if (cut > 155) return null;
    if (full.length - cut - 1 <= 100 && cut > 0) return { prefix: full.slice(0, cut), name: full.slice(cut + 1) };
  }
  return null;
}

/** One pax record, `"<length> path=<name>\n"`, where length counts the whole record. */
function paxRecord(name: string): Buffer {
  const body = ` path=${name}\n`;
  const n = Buffer.byteLength(body);
  let len = n + String(n).length;
  if (String(len).length !== String(n).length) len = n + String(len).length;
  return Buffer.from(`${len}${body}`, 'utf8');
}

function asciiStandIn(name: string): string {
  return name.replace(/[^\x20-\x7e]/g, '_').slice(-100) || 'file';
}

/** Where the archive's bytes are: a list of slices, read without joining them. */
class PartsReader {
  private k = 0;
  private at = 0;
  readonly total: number;
  private consumed = 0;

  constructor(private readonly parts: readonly Buffer[]) {
    let n = 0;
    for (const p of parts) n += p.length;
    this.total = n;
  }

  get remaining(): number {
    return this.total - this.consumed;
  }

  /** The next `n` bytes: a view when they lie in one slice, else a copy. */
  take(n: number): Buffer {
    if (n > this.remaining) throw peerProtocolError('tar batch is truncated');
    while (this.k < this.parts.length && this.at === this.parts[this.k]!.length) {
      this.k += 1;
      this.at = 0;
    }
    this.consumed += n;
    const p = this.parts[this.k];
    if (n === 0) return Buffer.alloc(0);
    if (p && p.length - this.at >= n) {
      const view = p.subarray(this.at, this.at + n);
      this.at += n;
      return view;
    }
    const out = Buffer.allocUnsafe(n);
    let got = 0;
    while (got < n) {
      const q = this.parts[this.k]!;
      const m = Math.min(q.length - this.at, n - got);
      q.copy(out, got, this.at, this.at + m);
      got += m;
      this.at += m;
      if (this.at === q.length) {
        this.k += 1;
        this.at = 0;
      }
    }
    return out;
  }

  skip(n: number): void {
    if (n > this.remaining) throw peerProtocolError('tar batch is truncated');
    this.consumed += n;
    let left = n;
    while (left > 0) {
      const q = this.parts[this.k]!;
      const m = Math.min(q.length - this.at, left);
      left -= m;
      this.at += m;
      if (this.at === q.length) {
        this.k += 1;
        this.at = 0;
      }
    }
  }
}

export interface TarFileEntry {
  name: string;
  /** 'file', or the kind of anything else found ('directory', 'symlink', ...). */
  type: string;
  size: number;
  data: Buffer;
}

const TYPES: Record<number, string> = {
  0: 'file', 0x30: 'file', 0x31: 'link', 0x32: 'symlink', 0x33: 'character-device', 0x34: 'block-device',
  0x35: 'directory', 0x36: 'fifo', 0x37: 'contiguous-file',
};

/**
 * The archive's entries in order, their data as views into `parts` where possible. Metadata
 * records (pax, GNU long names) are applied to the entry they precede; parsing stops at the
 * end-of-archive block. `onEntry` may throw to stop early (a name that was not expected).
 */
export function readEntries(parts: readonly Buffer[], onEntry: (e: TarFileEntry) => void): void {
  const r = new PartsReader(parts);
  let longName: string | null = null;
  while (r.remaining >= BLOCK) {
    const h = r.take(BLOCK);
    if (h.equals(ZERO_BLOCK)) return;
    if (checksum(h, 0) !== readOctal(h, 148, 8)) throw peerProtocolError('tar batch has a header with a bad checksum');
    const size = readOctal(h, 124, 12);
    const flag = h[156]!;
    if (flag === 0x78 || flag === 0x67 || flag === 0x4c) {
      // pax header ('x'), pax global header ('g'), GNU long name ('L'): metadata for what follows.
      const body = r.take(size);
      r.skip(pad(size) - size);
      if (flag === 0x78) longName = paxPath(body) ?? longName;
      else if (flag === 0x4c) longName = cString(body, 0, body.length);
      continue;
    }
    let name = cString(h, 0, 100);
    if (h.subarray(257, 263).equals(USTAR_MAGIC.subarray(0, 6)) && h[345] !== 0) name = `${cString(h, 345, 155)}/${name}`;
    if (longName !== null) name = longName;
    longName = null;
    const type = TYPES[flag] ?? `type ${String.fromCharCode(flag)}`;
    // Only regular files carry data a batch may hold; the caller refuses anything else.
    const data = type === 'file' ? r.take(size) : Buffer.alloc(0);
    r.skip(type === 'file' ? pad(size) - size : pad(size));
    onEntry({ name, type: type === 'file' && name.endsWith('/') ? 'directory' : type, size, data });
  }
}

function cString(buf: Buffer, at: number, length: number): string {
  let end = at;
  while (end < at + length && buf[end] !== 0) end += 1;
  return buf.toString('utf8', at, end);
}

function readOctal(buf: Buffer, at: number, length: number): number {
  if (buf[at]! & 0x80) {
    // Base-256 (GNU) for numbers beyond the octal field; only positive values are meaningful here.
    if (buf[at] !== 0x80) throw peerProtocolError('tar batch has a negative number in a header');
    let v = 0;
    for (let k = at + 1; k < at + length; k++) v = v * 256 + buf[k]!;
    return v;
  }
  let k = at;
  const end = at + length;
  while (k < end && (buf[k] === 0x20 || buf[k] === 0)) k += 1;
  let v = 0;
  let digits = 0;
  for (; k < end; k++) {
    const c = buf[k]!;
    if (c === 0x20 || c === 0) break;
    if (c < 0x30 || c > 0x37) throw peerProtocolError('tar batch has a malformed number in a header');
    v = v * 8 + (c - 0x30);
    digits += 1;
  }
  return digits === 0 ? 0 : v;
}

function paxPath(body: Buffer): string | null {
  let path: string | null = null;
  let at = 0;
  while (at < body.length) {
    const space = body.indexOf(0x20, at);
    if (space === -1) break;
    const len = Number.parseInt(body.toString('latin1', at, space), 10);
    if (!Number.isInteger(len) || len <= 0 || at + len > body.length) throw peerProtocolError('tar batch has a malformed pax record');
    const record = body.toString('utf8', space + 1, at + len - 1);
    const eq = record.indexOf('=');
    if (eq > 0 && record.slice(0, eq) === 'path') path = record.slice(eq + 1);
    at += len;
  }
  return path;
}
