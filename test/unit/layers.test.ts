import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

/**
 * DESIGN.md's layers, between folders and inside transfer/ (.dependency-cruiser.cjs): a change
 * that makes a lower layer import a higher one, or two modules import each other at run time,
 * fails here with the rule and the import that broke it.
 */
describe('layers', () => {
  it('every import points down, and no module imports itself back', () => {
    const repo = fileURLToPath(new URL('../../', import.meta.url));
    const run = spawnSync(process.execPath, ['node_modules/dependency-cruiser/bin/dependency-cruise.mjs', 'src', '--config', '.dependency-cruiser.cjs', '--output-type', 'err'], { cwd: repo, encoding: 'utf8' });
    expect(run.status, `${run.stdout}\n${run.stderr}`).toBe(0);
    expect(run.stdout).toMatch(/no dependency violations found \((\d{3,}) modules/);
  }, 120_000);
});
