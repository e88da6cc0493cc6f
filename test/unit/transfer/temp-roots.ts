import { afterEach, beforeEach } from 'vitest';
import { removeAll, tempDir } from './session-fixture.js';

/**
 * Fresh source and destination roots for every test of the file that imports this module
 * (the hooks register on import; the bindings are live, so tests see each new pair).
 */
export let src: string;
export let dst: string;

beforeEach(async () => {
  src = await tempDir();
  dst = await tempDir();
});
afterEach(async () => {
  await removeAll(src, dst);
});
