import { describe, expect, it } from 'vitest';
import type { EndpointRecord } from '../../../../src/control/store/index.js';
import { agentsAllowClear, endpointsForceEncryption } from '../../../../src/control/tasks/index.js';

/** Who may turn a task's encrypt_data false into encrypted: endpoints (Globus force_encryption) and agents. */
describe('encryption decisions', () => {
  const ep = (id: string, forceEncryption: boolean, hostEndpointId: string | null = null): EndpointRecord => ({
    id, ownerId: 'o', displayName: id, description: null, organization: null, department: null, keywords: null, contactEmail: null,
    contactInfo: null, infoLink: null, defaultDirectory: null, isGlobusConnect: true, public: false, createdAt: 0, deletedAt: null,
    hostEndpointId, hostPath: hostEndpointId ? '/x/' : null, forceEncryption,
  });
  const all = new Map([ep('plain', false), ep('forced', true), ep('guest-of-forced', false, 'forced'), ep('guest-of-plain', false, 'plain'), ep('forced-guest', true, 'plain')].map((e) => [e.id, e]));
  const get = (id: string) => all.get(id);

  it('an endpoint forces it, a guest collection\'s host forces it for the collection, nothing else does', () => {
    expect(endpointsForceEncryption(get, ['plain', 'plain'])).toBe(false);
    expect(endpointsForceEncryption(get, ['plain', 'forced'])).toBe(true);
    expect(endpointsForceEncryption(get, ['forced', 'plain'])).toBe(true);
    expect(endpointsForceEncryption(get, ['guest-of-forced', 'plain'])).toBe(true);
    expect(endpointsForceEncryption(get, ['guest-of-plain', 'plain'])).toBe(false);
    expect(endpointsForceEncryption(get, ['plain', 'forced-guest'])).toBe(true);
    expect(endpointsForceEncryption(get, ['gone', 'plain'])).toBe(false);
  });

  it('clear text needs both agents able to run it, and neither forbidding it in its config', () => {
    const able = ['fileops', 'transfer', 'clear-data'];
    expect(agentsAllowClear([able, able])).toBe(true);
    expect(agentsAllowClear([able, ['fileops', 'transfer']])).toBe(false);
    expect(agentsAllowClear([able, [...able, 'force-encryption']])).toBe(false);
    expect(agentsAllowClear([able, undefined])).toBe(false);
  });
});
