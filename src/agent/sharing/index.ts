export { accessAt, allows, ruleComponents } from './access.js';
export type { Access, CompiledRule } from './access.js';
export { SharingReplica, DEFAULT_FRESH_WAIT_MS } from './replica.js';
export type { ReplicaEntry } from './replica.js';
export { SqliteReplicaStore } from './replica-store.js';
export type { ReplicaStore, StoredReplica } from './replica-store.js';
export { createGuestPolicy } from './guest-policy.js';
export type { GuestPolicy, GuestPolicyInit } from './guest-policy.js';
export { AgentSharing } from './service.js';
