import type { Socket } from 'node:net';
import { hostCongestion, tcpCongestion, type HostCongestion, type TcpCongestion, type TcpInfo } from '../../fs/index.js';

/**
 * Which congestion control a session's data streams use, chosen by the agent rather than
 * inherited from the host. With loss on a long path, cubic halves its window at every loss and
 * a stream holds 1-2 MB/s however fast the link is; bbr paces to the bandwidth it measures and
 * keeps the link full. Most distributions default to cubic, so the agent asks for bbr itself.
 *
 * The agent config's `transfer.congestionControl`:
 * - 'auto' (default): bbr where the kernel has it and this process may choose it (root, or bbr
 *   in net.ipv4.tcp_allowed_congestion_control), else the host's default;
 * - 'system': the host's default, untouched;
 * - a name ('bbr', 'cubic', 'reno', ...): that one, pinned; if the kernel refuses it, the
 *   host's default, and the refusal is reported.
 */

export interface CongestionPlan {
  /** The algorithm to set, or null to leave the host's default. */
  readonly wanted: string | null;
  /** Why, for the log. */
  readonly reason: string;
}

export function planCongestion(setting: string, host: HostCongestion, impl: Pick<TcpCongestion, 'kind'>, isRoot: boolean): CongestionPlan {
  if (setting === 'system') return { wanted: null, reason: 'config: the host default' };
  if (impl.kind !== 'native') return { wanted: null, reason: 'no native addon: the host default' };
  if (setting !== 'auto') return { wanted: setting, reason: 'config' };
  if (host.defaultName === 'bbr') return { wanted: null, reason: 'bbr is the host default' };
  if (!host.available.includes('bbr')) return { wanted: null, reason: 'the kernel has no bbr' };
  if (!isRoot && !host.allowed.includes('bbr')) return { wanted: null, reason: 'bbr is not in net.ipv4.tcp_allowed_congestion_control' };
  return { wanted: 'bbr', reason: 'auto' };
}

export interface CongestionResult {
  /** What the streams use now (the first stream's, as the kernel reports it); null when unknown. */
  readonly name: string | null;
  /** Why the wanted algorithm could not be set, when it could not. */
  readonly refused?: string;
}

/** The descriptor under a (TLS) socket: Node keeps it on the handle, and offers no other way. */
function fdOf(socket: Socket): number | null {
  const fd = (socket as unknown as { _handle?: { fd?: unknown } })._handle?.fd;
  return typeof fd === 'number' && Number.isInteger(fd) && fd >= 0 ? fd : null;
}

/** Set the plan's algorithm on every socket (before bulk data flows) and report what they use. */
export function applyCongestion(sockets: readonly Socket[], plan: CongestionPlan, impl: TcpCongestion = tcpCongestion()): CongestionResult {
  let refused: string | undefined;
  let name: string | null = null;
  for (const socket of sockets) {
    const fd = fdOf(socket);
    if (fd === null) continue;
    if (plan.wanted !== null && refused === undefined) {
      try {
        impl.set(fd, plan.wanted);
      } catch (err) {
        refused = err instanceof Error ? err.message : String(err);
      }
    }
    if (name === null) {
      try {
        name = impl.get(fd);
      } catch {
        name = null;
      }
    }
  }
  return refused === undefined ? { name } : { name, refused };
}

/** A socket's TCP_INFO counters; null where they cannot be read (the twin, a socket without a descriptor). */
export function tcpInfoOf(socket: Socket, impl: TcpCongestion = tcpCongestion()): TcpInfo | null {
  const fd = fdOf(socket);
  return fd === null ? null : impl.info(fd);
}

/** The plan for this process under `setting`, from the host's settings as they are now (read per session: an admin may change them). */
export function congestionPlan(setting: string): CongestionPlan {
  return planCongestion(setting, hostCongestion(), tcpCongestion(), process.getuid?.() === 0);
}

/** What this process's data streams will use under `setting` (told to control, which then knows whether spare streams can help). */
export function expectedCongestion(setting: string): string {
  const host = hostCongestion();
  return planCongestion(setting, host, tcpCongestion(), process.getuid?.() === 0).wanted ?? host.defaultName;
}
