import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { startFerry, type FerryProcess } from '../../helpers/process.js';

/** A control process with extra environment (e.g. NODE_EXTRA_CA_CERTS for an upstream provider). */
export interface AuthControl { proc: FerryProcess; url: string; dataDir: string; caFile: string; caPem: string; stop(): Promise<unknown> }

export async function startAuthControl(dataDir: string, env: Record<string, string> = {}): Promise<AuthControl> {
  const proc = startFerry(['control', 'run', '--data-dir', dataDir, '--listen', '127.0.0.1:0'], env);
  const m = await proc.waitForStdout(/listening on (https:\/\/\S+)\n/);
  const caFile = join(dataDir, 'pki', 'ca.crt');
  return { proc, url: m[1]!, dataDir, caFile, caPem: readFileSync(caFile, 'utf8'), stop: () => proc.stop() };
}
