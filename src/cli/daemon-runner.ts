import type { Logger } from '../common/logger.js';
import { safetyCatch } from '../common/errors.js';

export interface Closable {
  close(): Promise<void>;
}

/**
 * Keep a daemon running until SIGTERM or SIGINT, then close it (graceful), print `farewell`
 * and exit (0, or 1 if closing failed): once everything is closed, stray handles (idle worker
 * threads, socket grace timers) must not keep the process alive. A second signal while
 * closing exits at once. `onHup` handles SIGHUP when given.
 */
export async function runUntilSignalled(parts: Closable[], log: Logger, opts: { onHup?: () => void; farewell?: string } = {}): Promise<never> {
  await closedBySignal(parts, log, opts.onHup);
  process.stdout.write(opts.farewell ?? '', () => process.exit(process.exitCode ?? 0));
  return new Promise<never>(() => undefined);
}

function closedBySignal(parts: Closable[], log: Logger, onHup?: () => void): Promise<void> {
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
