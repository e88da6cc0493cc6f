import { Option } from 'commander';
import type { FileDoc } from '../protocol/file-doc.js';
import type { EndpointCreateResult, EndpointDocument, EndpointListDocument, FileListDocument, ResultDocument } from './api-client.js';

/**
 * Text and JSON rendering for the client commands. Every function here is pure (document in,
 * string out) so it can be tested without control; commands write the result through CommandIo.
 */

export interface CommandIo {
  out(text: string): void;
  err(text: string): void;
}

export const processIo: CommandIo = {
  out: (text) => { process.stdout.write(text); },
  err: (text) => { process.stderr.write(text); },
};

export type OutputFormat = 'text' | 'json';
export const OUTPUT_FORMATS: readonly OutputFormat[] = ['text', 'json'];

/** The `--format text|json` option every client command takes. */
export function formatOption(): Option {
  return new Option('--format <format>', 'text for people, json for the Globus document').choices(OUTPUT_FORMATS).default('text');
}

/** `--format json` prints the Globus document exactly as control sent it. */
export function formatJson(doc: unknown): string {
  return JSON.stringify(doc, null, 2) + '\n';
}

/**
 * File names come from a remote host: show control characters as \xNN so a crafted name
 * cannot move the cursor or rewrite the terminal title.
 */
export function safeText(s: string): string {
  return s.replace(/[\u0000-\u001f\u007f-\u009f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

const TYPE_CHAR: Record<string, string> = { dir: 'd', file: '-', invalid_symlink: 'l', chr: 'c', blk: 'b', pipe: 'p', other: '?' };

/** `drwxr-xr-x` from a Globus type and a 4-digit octal permission string, like `ls -l`. */
export function modeString(file: Pick<FileDoc, 'type' | 'permissions' | 'link_target'>): string {
  const typeChar = file.link_target !== null && file.link_target !== undefined ? 'l' : (TYPE_CHAR[file.type] ?? '?');
  const mode = /^[0-7]{1,4}$/.test(file.permissions) ? parseInt(file.permissions, 8) : 0;
  const bits = ['r', 'w', 'x', 'r', 'w', 'x', 'r', 'w', 'x'].map((c, i) => (mode & (0o400 >> i) ? c : '-'));
  // setuid, setgid and sticky replace the x of their class, upper-case when x is not set.
  const special: Array<[number, number, string]> = [[0o4000, 2, 's'], [0o2000, 5, 's'], [0o1000, 8, 't']];
  for (const [bit, at, c] of special) if (mode & bit) bits[at] = bits[at] === 'x' ? c : c.toUpperCase();
  return typeChar + bits.join('');
}

/** Globus sends `2023-12-18 16:52:50+00:00`; ls -l style shows `2023-12-18 16:52` (UTC). */
export function shortTime(lastModified: string | null | undefined): string {
  if (!lastModified) return '-';
  const m = /^(\d{4}-\d{2}-\d{2})[ T](\d{2}:\d{2})/.exec(lastModified);
  return m ? `${m[1]} ${m[2]}` : lastModified;
}

function displayName(file: Pick<FileDoc, 'name' | 'type'>): string {
  return safeText(file.name) + (file.type === 'dir' ? '/' : '');
}

/** Columns padded to the widest cell; `right` marks right-aligned columns (numbers). */
export function table(rows: readonly string[][], right: readonly boolean[] = []): string {
  const widths: number[] = [];
  for (const row of rows) row.forEach((cell, i) => { widths[i] = Math.max(widths[i] ?? 0, cell.length); });
  return rows.map((row) => row.map((cell, i) => {
    if (i === row.length - 1 && !right[i]) return cell;
    return right[i] ? cell.padStart(widths[i] ?? 0) : cell.padEnd(widths[i] ?? 0);
  }).join('  ')).join('\n') + (rows.length > 0 ? '\n' : '');
}

function byName(a: FileDoc, b: FileDoc): number {
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}

/** `ferry ls`: one name per line (dirs end in '/'), or `ls -l` columns with `long`. */
export function formatLs(list: FileListDocument, opts: { long?: boolean } = {}): string {
  const files = [...list.DATA].sort(byName);
  if (!opts.long) return files.map((f) => displayName(f) + '\n').join('');
  const rows = files.map((f) => [
    modeString(f),
    safeText(f.user ?? '-'),
    safeText(f.group ?? '-'),
    String(f.size),
    shortTime(f.last_modified),
    displayName(f) + (f.link_target ? ` -> ${safeText(f.link_target)}` : ''),
  ]);
  return table(rows, [false, false, false, true, false, false]);
}

/** A note for stderr when control returned only part of a directory. */
export function lsTruncationNote(list: FileListDocument): string | undefined {
  if (typeof list.total !== 'number' || list.total <= list.DATA.length) return undefined;
  return `ferry: showing ${list.DATA.length} of ${list.total} entries in ${safeText(list.path)}\n`;
}

/** `Name:  value` lines, names padded to one width; empty values are left out. */
export function fields(pairs: ReadonlyArray<[string, unknown]>): string {
  const shown = pairs.filter(([, v]) => v !== undefined && v !== null && v !== '');
  const width = Math.max(0, ...shown.map(([k]) => k.length + 1));
  return shown.map(([k, v]) => `${(k + ':').padEnd(width)}  ${safeText(String(v))}\n`).join('');
}

/** `ferry stat`: one field per line. */
export function formatStat(file: FileDoc): string {
  return fields([
    ['Name', file.name + (file.type === 'dir' ? '/' : '')],
    ['Type', file.type],
    ['Link target', file.link_target],
    ['Size', file.size],
    ['Permissions', `${file.permissions} (${modeString(file)})`],
    ['Last modified', file.last_modified],
    ['User', file.user],
    ['Group', file.group],
  ]);
}

/** mkdir, rename and delete answer with a result document; show its message. */
export function formatResult(result: ResultDocument): string {
  return `${safeText(result.message || result.code)}\n`;
}

function yesNo(v: unknown): string | undefined {
  return typeof v === 'boolean' ? (v ? 'yes' : 'no') : undefined;
}

/** `ferry endpoint show`. */
export function formatEndpoint(ep: EndpointDocument): string {
  return fields([
    ['ID', ep.id],
    ['Display name', ep.display_name],
    ['Description', ep.description],
    ['Owner', ep.owner_string ?? ep.owner_id],
    ['Type', ep.entity_type],
    ['Personal', yesNo(ep.is_globus_connect)],
    ['Connected', yesNo(ep.gcp_connected)],
    ['Paused', ep.gcp_paused ? 'yes' : undefined],
    ['Default directory', ep.default_directory],
  ]);
}

/** `ferry endpoint search`: the same columns as `globus endpoint search`. */
export function formatEndpointList(list: EndpointListDocument): string {
  if (list.DATA.length === 0) return 'No endpoints found.\n';
  const rows = [['ID', 'Owner', 'Connected', 'Display Name']];
  for (const ep of list.DATA) {
    rows.push([ep.id, safeText(ep.owner_string ?? ep.owner_id ?? '-'), yesNo(ep.gcp_connected) ?? '-', safeText(ep.display_name ?? '-')]);
  }
  const more = list.has_next_page ? '(more results exist: narrow the search with TEXT)\n' : '';
  return table(rows) + more;
}

/** Placeholders the user fills in; the help text of `ferry agent setup` names them the same way. */
export const AGENT_SETUP_PLACEHOLDERS = { dataDir: 'DIR', root: 'PATH' } as const;

/** `ferry endpoint create`: the id, the setup key, and the exact command to run next. */
export function formatEndpointCreated(result: EndpointCreateResult, displayName: string): string {
  const lines = [`Created endpoint '${safeText(displayName)}'.`, '', `  Endpoint ID: ${result.id}`];
  const key = result.globus_connect_setup_key;
  if (!key) return lines.join('\n') + '\n\nControl issued no setup key for this endpoint.\n';
  const { dataDir, root } = AGENT_SETUP_PLACEHOLDERS;
  lines.push(
    `  Setup key:   ${safeText(key)}`,
    '',
    'The setup key works once and expires; keep it secret until it is used.',
    'Next, on the storage host, run:',
    '',
    `  ferry agent setup --setup-key ${safeText(key)} --data-dir ${dataDir} --root ${root}:rw`,
    '',
    `where ${dataDir} is a new directory for the agent's state and credentials, and ${root} is the`,
    `host directory this endpoint serves (it becomes /~/; ':rw' makes it writable).`,
    'Once the agent is running, browse the endpoint with:',
    '',
    `  ferry ls ${result.id}:/~/`,
  );
  return lines.join('\n') + '\n';
}
