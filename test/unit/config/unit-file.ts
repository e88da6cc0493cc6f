/**
 * A small reader for systemd unit files, enough to check the shipped units: sections,
 * `Key=value` lines (a key may repeat), comments and backslash line continuations.
 */
export interface UnitFile {
  /** The values of `key` in `section`, in file order, with an empty assignment resetting the list as systemd does. */
  values(section: string, key: string): string[];
  /** The one value of `key`; throws when it is missing or set more than once. */
  value(section: string, key: string): string;
  has(section: string, key: string): boolean;
  /** Lines that are comments, without the leading '#' or ';'. */
  comments: string[];
}

export function parseUnitFile(text: string): UnitFile {
  const entries = new Map<string, string[]>();
  const comments: string[] = [];
  let section = '';
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    let line = lines[i]!.trim();
    if (line === '') continue;
    if (line.startsWith('#') || line.startsWith(';')) {
      comments.push(line.slice(1));
      continue;
    }
    while (line.endsWith('\\') && i + 1 < lines.length) line = `${line.slice(0, -1)} ${lines[++i]!.trim()}`;
    const header = /^\[([^\]]+)\]$/.exec(line);
    if (header) {
      section = header[1]!;
      continue;
    }
    const eq = line.indexOf('=');
    if (eq <= 0 || section === '') throw new Error(`not a unit file line: ${line}`);
    const id = `${section}\0${line.slice(0, eq).trim()}`;
    const v = line.slice(eq + 1).trim();
    entries.set(id, v === '' ? [] : [...(entries.get(id) ?? []), v]);
  }
  const values = (s: string, k: string) => entries.get(`${s}\0${k}`) ?? [];
  return {
    values,
    has: (s, k) => entries.has(`${s}\0${k}`),
    value(s, k) {
      const all = values(s, k);
      if (all.length !== 1) throw new Error(`[${s}] ${k}= is set ${all.length} times`);
      return all[0]!;
    },
    comments,
  };
}

/** Space-separated list values (RestrictAddressFamilies=, ReadWritePaths=, ...) merged over all lines. */
export function words(values: string[]): string[] {
  return values.flatMap((v) => v.split(/\s+/).filter((w) => w !== ''));
}
