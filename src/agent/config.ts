import { Type, type Static } from '@sinclair/typebox';

/**
 * The agent's config file (`<data-dir>/agent.json`, written by `ferry agent setup`), declared
 * once. Relative file names are resolved against the data directory.
 */
export const AgentRootConfig = Type.Object({
  /** Absolute host path exported by this endpoint (like a Globus Connect Personal config-paths line). */
  path: Type.String({ minLength: 1, maxLength: 4096, pattern: '^/' }),
  writable: Type.Boolean({ default: false }),
  /** Whether guest collections (sharing) may be created under this root. */
  sharing: Type.Boolean({ default: false }),
}, { additionalProperties: false });
export type AgentRootConfig = Static<typeof AgentRootConfig>;

export const AgentConfig = Type.Object({
  version: Type.Literal(1),
  controlUrl: Type.String({ pattern: '^https://', maxLength: 1024 }),
  nodeId: Type.String({ format: 'uuid' }),
  endpointId: Type.String({ format: 'uuid' }),
  caFile: Type.String({ minLength: 1, default: 'ca.crt' }),
  certFile: Type.String({ minLength: 1, default: 'agent.crt' }),
  keyFile: Type.String({ minLength: 1, default: 'agent.key' }),
  /** The first root is the default one, shown to API users as `/~/`. */
  roots: Type.Array(AgentRootConfig, { minItems: 1, maxItems: 256 }),
  /**
   * Where the agent listens for peer agents' data connections. `advertise` is the host name or
   * address peers dial (default: `host`). Set `enabled: false` on a host that peers cannot
   * reach (a laptop behind NAT): it then always dials out.
   */
  dataListen: Type.Object({
    enabled: Type.Boolean({ default: true }),
    host: Type.String({ minLength: 1, maxLength: 255, default: '127.0.0.1' }),
    advertise: Type.Optional(Type.String({ minLength: 1, maxLength: 255 })),
    /** Port peers dial when it differs from the one listened on (a forwarded port on a NAT or a proxy). */
    advertisePort: Type.Optional(Type.Integer({ minimum: 1, maximum: 65535 })),
  }, { additionalProperties: false, default: {} }),
  /** Port range the agent listens on for peer data connections (used by transfers). */
  dataPortRange: Type.Tuple([Type.Integer({ minimum: 1, maximum: 65535 }), Type.Integer({ minimum: 1, maximum: 65535 })], { default: [50000, 51000] }),
  /** Restart markers and finished-file records of transfers (SQLite), relative to the data directory. */
  stateFile: Type.String({ minLength: 1, maxLength: 4096, default: 'state.db' }),
  transfer: Type.Object({
    /** fsync files and directories before reporting them done. false only for scratch space you can afford to lose on a power cut. */
    durable: Type.Boolean({ default: true }),
    /** Flush as you go: a large file's partial is fdatasync'ed and its restart marker recorded after this many MiB. */
    flushMiB: Type.Integer({ minimum: 1, maximum: 1_048_576, default: 64 }),
    /** Write large files with O_DIRECT (and verify them by reading the disk, not the page cache). false: through the page cache, e.g. where a file system handles O_DIRECT badly. */
    directIo: Type.Boolean({ default: true }),
    /**
     * TCP congestion control of the data streams: 'auto' (bbr where the kernel has it and the
     * agent may choose it, else the host's default), 'system' (the host's default), or a name
     * to pin ('bbr', 'cubic', 'reno'). Cubic, most hosts' default, holds a stream to 1-2 MB/s on
     * a long path with a little loss.
     */
    congestionControl: Type.String({ pattern: '^(auto|system|[a-z0-9_]{1,15})$', default: 'auto' }),
    /**
     * Never move data in clear text, whatever a task's encrypt_data says: the agent tells
     * control so (capability 'force-encryption'), control then runs every task touching this
     * agent's endpoint encrypted (the task document says encrypt_data true), and the agent
     * refuses any clear-text session it is still asked to open.
     */
    forceEncryption: Type.Boolean({ default: false }),
    /** Partial files (and records) of tasks that never came back are removed after this many days. */
    partialRetentionDays: Type.Number({ minimum: 0, maximum: 3650, default: 14 }),
  }, { additionalProperties: false, default: {} }),
  /** Per-user limits on what the agent spends on one caller (control has its own, per identity). */
  limits: Type.Object({
    /**
     * Entries one identity's `ls` operations may hold at once on this agent (LsEntryBudget); a
     * lone listing always runs. 100,000 (one full listing, about 300 MB while it runs) by default.
     */
    lsEntriesPerUser: Type.Integer({ minimum: 1, maximum: 100_000_000, default: 100_000 }),
  }, { additionalProperties: false, default: {} }),
  reconnect: Type.Object({
    initialDelayMs: Type.Integer({ minimum: 1, default: 500 }),
    maxDelayMs: Type.Integer({ minimum: 1, default: 30_000 }),
  }, { additionalProperties: false, default: {} }),
  log: Type.Object({
    level: Type.Union([Type.Literal('trace'), Type.Literal('debug'), Type.Literal('info'), Type.Literal('warn'), Type.Literal('error'), Type.Literal('fatal'), Type.Literal('silent')], { default: 'info' }),
  }, { additionalProperties: false, default: {} }),
}, { additionalProperties: false });
export type AgentConfig = Static<typeof AgentConfig>;
