import type { EndpointRecord } from '../store/index.js';

/**
 * Whether a task's data must be encrypted although it asked for encrypt_data false (Globus
 * force_encryption): an endpoint of the task forces it, or for a guest collection its host
 * endpoint does (the host's policy covers what is shared from it).
 */
export function endpointsForceEncryption(get: (id: string) => EndpointRecord | undefined, endpointIds: readonly string[]): boolean {
  return endpointIds.some((id) => {
    const ep = get(id);
    if (!ep) return false;
    if (ep.forceEncryption) return true;
    return ep.hostEndpointId !== null && get(ep.hostEndpointId)?.forceEncryption === true;
  });
}

/**
 * The agents' part: both must be able to run clear streams (capability 'clear-data'; older
 * agents cannot), and neither may forbid it in its config ('force-encryption').
 */
export function agentsAllowClear(capabilities: ReadonlyArray<readonly string[] | undefined>): boolean {
  return capabilities.every((caps) => caps !== undefined && caps.includes('clear-data') && !caps.includes('force-encryption'));
}
