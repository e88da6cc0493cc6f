import { isAbsolute, join, resolve } from 'node:path';

/** Where an agent keeps its config, credentials and state inside its data directory. */
export function agentConfigPath(dataDir: string): string {
  return join(dataDir, 'agent.json');
}

/** Config file names are relative to the data directory unless absolute. */
export function inDataDir(dataDir: string, file: string): string {
  return isAbsolute(file) ? file : resolve(dataDir, file);
}
