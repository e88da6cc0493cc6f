import { existsSync } from 'node:fs';
import type { Browser } from 'playwright-core';

/**
 * Debian's chromium driven by playwright-core. Returns undefined (and says why) when no
 * Chromium is installed, so the browser tests skip instead of failing on machines without it.
 */
export const CHROMIUM = process.env['FERRY_CHROMIUM'] ?? '/usr/bin/chromium';
export const haveChromium = existsSync(CHROMIUM);
if (!haveChromium) process.stderr.write(`auth browser tests skipped: no Chromium at ${CHROMIUM} (apt-get install -y chromium, or set FERRY_CHROMIUM)\n`);

export async function launchChromium(): Promise<Browser> {
  const { chromium } = await import('playwright-core');
  const args = ['--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic'];
  // Chromium refuses to run as root with its sandbox; playwright gives each launch a fresh profile directory.
  if (process.getuid?.() === 0) args.push('--no-sandbox');
  return chromium.launch({ executablePath: CHROMIUM, args, timeout: 30_000 });
}
