import type { Server } from 'node:net';
import { FerryError } from '../../common/errors.js';

/** Inclusive [low, high] within 1..65535, or exactly [0, 0] for "any free port". */
export function checkPortRange(range: [number, number]): void {
  const [low, high] = range;
  if (low === 0 && high === 0) return;
  const ok = Number.isInteger(low) && Number.isInteger(high) && low >= 1 && high <= 65535 && low <= high;
  if (!ok) throw new FerryError('Config.Invalid', `data port range [${low}, ${high}] must be 1 <= low <= high <= 65535`);
}

/**
 * Tries each port of the range in order. Ports another process holds (EADDRINUSE) or that
 * this user may not bind (EACCES) are skipped; any other failure (say, a host address this
 * machine does not have) would fail on every port, so it is reported at once.
 */
export async function bindFirstFreePort(server: Server, host: string, range: [number, number]): Promise<void> {
  const [low, high] = range;
  let lastCode = '';
  for (let port = low; port <= high; port += 1) {
    try {
      await listenOnce(server, host, port);
      return;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? '';
      if (code !== 'EADDRINUSE' && code !== 'EACCES') {
        throw new FerryError('Channel.NoPort', `cannot listen for data connections on ${host}:${port}: ${(err as Error).message}`, { cause: err });
      }
      lastCode = code;
    }
  }
  throw new FerryError('Channel.NoPort', `no free port for data connections on ${host} in ${low}-${high} (last error ${lastCode})`);
}

function listenOnce(server: Server, host: string, port: number): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const onError = (err: Error): void => {
      server.off('listening', onListening);
      reject(err);
    };
    const onListening = (): void => {
      server.off('error', onError);
      resolve();
    };
    server.once('error', onError);
    server.once('listening', onListening);
    // exclusive: in a cluster, workers must not silently share one data port.
    server.listen({ host, port, exclusive: true });
  });
}
