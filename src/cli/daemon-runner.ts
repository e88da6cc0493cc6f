import type { Logger } from '../common/logger.js';
import { safetyCatch } from '../common/errors.js';

export interface Closable {
  close(): Promise<void>;
}

/**
 * Keep a daemon running until SIGTERM or SIGINT, then close it (graceful) and exit 0. A second
 * signal while closing exits at once. `onHup` handles SIGHUP when given.
 */
export function runUntilSignalled(parts: Closable[], log: Logger, onHup?: () => void): Promise<void> {
  return new Promise((resolve) => {
    let stopping = false;
    const stop = (signal: NodeJS.Signals) => {
      if (stopping) {
        log.warn({ signal }, 'second signal: exiting now');
        process.exit(1);
      }
      stopping = true;
      log.info({ signal }, 'shutting down');
      const closeAll = async () => {
        // Close in reverse order of opening.
        for (const p of [...parts].reverse()) await p.close();
      };
      closeAll().then(() => {
        log.info('stopped');
        process.off('SIGTERM', stop);
        process.off('SIGINT', stop);
        if (onHup) process.off('SIGHUP', onHup);
        resolve();
      }, safetyCatch((err) => {
        log.error({ err }, 'error while shutting down');
        process.exitCode = 1;
        resolve();
      }));
    };
    process.on('SIGTERM', stop);
    process.on('SIGINT', stop);
    if (onHup) process.on('SIGHUP', onHup);
  });
}
