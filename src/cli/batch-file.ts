import { readFile, stat } from 'node:fs/promises';
import { FerryError, isFerryError } from '../common/errors.js';
import { DEFAULT_DIRECTORY, normalizePath } from './endpoint-path.js';

/**
 * `ferry transfer --batch FILE`: the Globus CLI batch format. Each line is
 *
 *     [--recursive | -r | --no-recursive] SOURCE_PATH DEST_PATH
 *
 * (the option may also come after the paths), split like a shell line: single and double
 * quotes and backslashes protect spaces. Blank lines are skipped and `#` starts a comment
 * where a word could start, so `a#b` is a name but `a #b` ends at `a`. Relative paths are
 * joined to the base path given on the command line (`ID:/base/`), or to /~/.
 */

/** Most items one task takes (the session protocol's limit). */
export const MAX_BATCH_ITEMS = 100_000;
/** 100,000 lines of two long paths fit easily; a larger file is a mistake. */
export const MAX_BATCH_BYTES = 64 * 1024 * 1024;
/** Bad lines reported at once; the rest are counted. */
const MAX_REPORTED_ERRORS = 10;

export interface BatchItem {
  sourcePath: string;
  destinationPath: string;
  /** undefined: let control detect whether the source is a file or a directory. */
  recursive: boolean | undefined;
  /** 1-based line number in the batch file. */
  line: number;
}

export interface BatchBases {
  /** Base directories for relative paths; /~/ when absent. */
  source?: string | undefined;
  destination?: string | undefined;
}

/** What is wrong with one line; parseBatch adds the file name and line number. */
export class BatchLineError extends Error {
  override readonly name = 'BatchLineError';
}

/** Split one line into words; throws BatchLineError with the reason. Comments end the line. */
export function splitWords(line: string): string[] {
  const words: string[] = [];
  let word: string | undefined;
  let i = 0;
  const add = (s: string): void => { word = (word ?? '') + s; };
  while (i < line.length) {
    const c = line[i] as string;
    if (c === ' ' || c === '\t' || c === '\r' || c === '\n') {
      if (word !== undefined) words.push(word);
      word = undefined;
      i++;
    } else if (c === '#' && word === undefined) {
      break;
    } else if (c === "'") {
      const end = line.indexOf("'", i + 1);
      if (end === -1) throw new BatchLineError('a single quote is not closed');
      add(line.slice(i + 1, end));
      i = end + 1;
    } else if (c === '"') {
      let j = i + 1;
      let s = '';
      for (;;) {
        if (j >= line.length) throw new BatchLineError('a double quote is not closed');
        const d = line[j] as string;
        if (d === '"') break;
        // Inside double quotes a backslash only escapes what the shell lets it escape.
        if (d === '\\' && j + 1 < line.length && '"\\$`'.includes(line[j + 1] as string)) {
          s += line[j + 1];
          j += 2;
        } else {
          s += d;
          j++;
        }
      }
      add(s);
      i = j + 1;
    } else if (c === '\\') {
      if (i + 1 >= line.length) throw new BatchLineError('the line ends with a lone backslash');
      add(line[i + 1] as string);
      i += 2;
    } else {
      add(c);
      i++;
    }
  }
  if (word !== undefined) words.push(word);
  return words;
}

/** A batch path: relative ones are joined to `base`; `~/x` means /~/x like on the command line. */
export function resolveBatchPath(path: string, base: string | undefined): string {
  if (path === '') throw new BatchLineError('a path is empty');
  const absolute = path.startsWith('/') || path === '~' || path.startsWith('~/');
  if (absolute) return normalizePath(path);
  const dir = base ?? DEFAULT_DIRECTORY;
  // posix.join would fold '/~/..' to '/'; keep the user's text and only add the separator.
  return normalizePath(dir.endsWith('/') ? dir + path : `${dir}/${path}`);
}

function parseLine(words: string[], bases: BatchBases): Omit<BatchItem, 'line'> {
  let recursive: boolean | undefined;
  const paths: string[] = [];
  let optionsDone = false;
  for (const w of words) {
    if (!optionsDone && w.startsWith('-') && w !== '-') {
      if (w === '--') {
        optionsDone = true;
        continue;
      }
      const value = w === '--recursive' || w === '-r' ? true : w === '--no-recursive' ? false : undefined;
      if (value === undefined) throw new BatchLineError(`unknown option '${w}' (a line takes --recursive, -r or --no-recursive; put -- before a path that starts with -)`);
      if (recursive !== undefined && recursive !== value) throw new BatchLineError('--recursive and --no-recursive contradict each other');
      recursive = value;
      continue;
    }
    paths.push(w);
  }
  if (paths.length !== 2) {
    throw new BatchLineError(`expected SOURCE_PATH DEST_PATH, found ${paths.length} path${paths.length === 1 ? '' : 's'}` +
      (paths.length > 2 ? ' (quote paths that contain spaces)' : ''));
  }
  const [src, dst] = paths as [string, string];
  return {
    sourcePath: resolveBatchPath(src, bases.source),
    destinationPath: resolveBatchPath(dst, bases.destination),
    recursive,
  };
}

/**
 * Parse a whole batch. All bad lines are reported together (up to a limit), each with its
 * line number, so a user fixes the file in one go. `name` labels the messages.
 */
export function parseBatch(text: string, bases: BatchBases = {}, name = 'batch'): BatchItem[] {
  const items: BatchItem[] = [];
  const errors: string[] = [];
  const lines = text.replace(/^\uFEFF/, '').split(/\r?\n/);
  lines.forEach((line, index) => {
    const lineNo = index + 1;
    try {
      const words = splitWords(line);
      if (words.length === 0) return;
      items.push({ ...parseLine(words, bases), line: lineNo });
    } catch (err) {
      if (!(err instanceof BatchLineError) && !isFerryError(err)) throw err;
      errors.push(`${name}:${lineNo}: ${err.message}`);
    }
  });
  if (errors.length > 0) {
    const shown = errors.slice(0, MAX_REPORTED_ERRORS);
    const more = errors.length > shown.length ? `\n(and ${errors.length - shown.length} more bad lines)` : '';
    throw new FerryError('ClientError.BadRequest', `${name} has ${errors.length} bad line${errors.length === 1 ? '' : 's'}:\n${shown.join('\n')}${more}`);
  }
  if (items.length === 0) throw new FerryError('ClientError.BadRequest', `${name} names nothing to transfer (every line is blank or a comment)`);
  if (items.length > MAX_BATCH_ITEMS) {
    throw new FerryError('ClientError.BadRequest', `${name} has ${items.length} items; one task takes at most ${MAX_BATCH_ITEMS} (split it into several transfers)`);
  }
  return items;
}

/** Read a batch file, or standard input for '-'. Errors are FerryErrors naming the file. */
export async function readBatchText(file: string, stdin: NodeJS.ReadableStream): Promise<string> {
  if (file === '-') return readStream(stdin, 'standard input');
  const cannot = (err: unknown): FerryError =>
    new FerryError('ClientError.BadRequest', `cannot read the batch file ${file} (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
  // Check the size first so a wrong argument (a disk image, say) is not read into memory.
  const size = await stat(file).then((st) => st.size, (err: unknown) => { throw cannot(err); });
  if (size > MAX_BATCH_BYTES) throw new FerryError('ClientError.BadRequest', `the batch file ${file} is larger than ${MAX_BATCH_BYTES} bytes`);
  const buf = await readFile(file).catch((err: unknown) => { throw cannot(err); });
  return buf.toString('utf8');
}

async function readStream(stream: NodeJS.ReadableStream, name: string): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of stream) {
    const buf = typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk;
    size += buf.length;
    if (size > MAX_BATCH_BYTES) throw new FerryError('ClientError.BadRequest', `${name} holds more than ${MAX_BATCH_BYTES} bytes of batch input`);
    chunks.push(buf);
  }
  return Buffer.concat(chunks).toString('utf8');
}
