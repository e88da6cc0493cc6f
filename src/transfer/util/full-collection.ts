import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

/**
 * V8's full collection of the calling thread's isolate, or null if this runtime will not give
 * it. Node exposes `gc` only under --expose-gc, which the agent's launcher would otherwise have
 * to pass on every install (systemd unit, npx, containers); the flag set here is seen by contexts
 * created afterwards, and a new context hands over its `gc` (the pattern Node's own tests use).
 * Works the same in a worker thread, which collects only its own isolate.
 */
export function fullCollection(): (() => void) | null {
  try {
    setFlagsFromString('--expose-gc');
    const gc: unknown = runInNewContext('gc');
    return typeof gc === 'function' ? (gc as () => void) : null;
  } catch {
    return null;
  }
}
