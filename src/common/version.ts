import { readFileSync } from 'node:fs';

/** Read once from package.json so the CLI, hello messages and the API agree. */
export const FERRY_VERSION: string = (JSON.parse(
  readFileSync(new URL('../../package.json', import.meta.url), 'utf8'),
) as { version: string }).version;
