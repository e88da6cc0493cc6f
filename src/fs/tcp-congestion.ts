import { readFileSync } from 'node:fs';
import { loadBinding } from './raw-native.js';
import { RawFsError, checkFd } from './raw.js';

/**
 * The congestion control algorithm of one TCP socket (TCP_CONGESTION) and its TCP_INFO counters,
 * socket options Node offers no call for. The native addon reads and sets them per socket. Its
 * twin (FERRY_NO_NATIVE=1, or no addon) has the same API but can only report the host's default,
 * refuses to set (ENOTSUP), so the socket keeps the host's default, and knows no counters (null).
 */
export interface TcpCongestion {
  readonly kind: 'native' | 'twin';
  get(fd: number): string;
  set(fd: number, name: string): void;
  /** The socket's TCP_INFO counters; null from the twin, which cannot ask (nothing then adapts to loss). */
  info(fd: number): TcpInfo | null;
}

/** What a sender learns of one connection from TCP_INFO (counters since the connection began). */
export interface TcpInfo {
  rttUs: number;
  /** Segments retransmitted. */
  retransmits: number;
  /** Bytes handed to the network, retransmissions included. */
  bytesSent: number;
  bytesRetransmitted: number;
  /** Microseconds with data in flight; of those, limited by the receiver's window and by the send buffer. */
  busyUs: number;
  rwndLimitedUs: number;
  sndbufLimitedUs: number;
  /** Congestion window, in segments. */
  cwnd: number;
}

/** Names the kernel accepts: TCP_CA_NAME_MAX is 16 with the NUL. */
const NAME = /^[a-z0-9_]{1,15}$/;

function checkName(name: string, syscall: string): void {
  if (!NAME.test(name)) throw new RawFsError('EINVAL', syscall, `not a congestion control name: ${JSON.stringify(name)}`);
}

function rethrow(err: unknown, syscall: string, detail?: string): never {
  const errno = (err as { errno?: unknown } | null)?.errno;
  if (typeof errno !== 'number') throw err;
  throw RawFsError.fromErrno(errno, syscall, detail);
}

export function nativeTcpCongestion(): TcpCongestion {
  const n = loadBinding();
  return {
    kind: 'native',
    get(fd) {
      checkFd(fd, 'getsockopt');
      try {
        return n.tcpCongestion(fd);
      } catch (err) {
        rethrow(err, 'getsockopt');
      }
    },
    set(fd, name) {
      checkFd(fd, 'setsockopt');
      checkName(name, 'setsockopt');
      try {
        n.setTcpCongestion(fd, name);
      } catch (err) {
        rethrow(err, 'setsockopt', name);
      }
    },
    info(fd) {
      checkFd(fd, 'getsockopt');
      const out = new Float64Array(8);
      try {
        n.tcpInfo(fd, out);
      } catch (err) {
        rethrow(err, 'getsockopt', 'TCP_INFO');
      }
      return {
        rttUs: out[0]!, retransmits: out[1]!, bytesSent: out[2]!, bytesRetransmitted: out[3]!,
        busyUs: out[4]!, rwndLimitedUs: out[5]!, sndbufLimitedUs: out[6]!, cwnd: out[7]!,
      };
    },
  };
}

export const twinTcpCongestion: TcpCongestion = {
  kind: 'twin',
  get(fd) {
    checkFd(fd, 'getsockopt');
    // Node cannot ask a socket; a new socket starts with the host's default.
    return hostCongestion().defaultName;
  },
  set(fd, name) {
    checkFd(fd, 'setsockopt');
    checkName(name, 'setsockopt');
    throw new RawFsError('ENOTSUP', 'setsockopt', `TCP_CONGESTION needs the native addon (${name})`);
  },
  info(fd) {
    checkFd(fd, 'getsockopt');
    return null;
  },
};

export interface HostCongestion {
  /** net.ipv4.tcp_congestion_control: what a new socket gets. */
  defaultName: string;
  /** Built into or loaded in the kernel. */
  available: readonly string[];
  /** What an unprivileged process may choose (root may choose any available one). */
  allowed: readonly string[];
}

/** The host's congestion control settings (/proc/sys/net/ipv4); empty where they cannot be read. */
export function hostCongestion(read: (path: string) => string = (p) => readFileSync(p, 'utf8')): HostCongestion {
  const words = (name: string): string[] => {
    try {
      return read(`/proc/sys/net/ipv4/${name}`).trim().split(/\s+/).filter((w) => NAME.test(w));
    } catch {
      return [];
    }
  };
  return { defaultName: words('tcp_congestion_control')[0] ?? '', available: words('tcp_available_congestion_control'), allowed: words('tcp_allowed_congestion_control') };
}

let chosen: TcpCongestion | undefined;

/** The implementation this process uses: native unless FERRY_NO_NATIVE=1 or the addon cannot load. */
export function tcpCongestion(): TcpCongestion {
  if (chosen) return chosen;
  if (process.env['FERRY_NO_NATIVE'] === '1') return (chosen = twinTcpCongestion);
  try {
    chosen = nativeTcpCongestion();
  } catch {
    chosen = twinTcpCongestion;
  }
  return chosen;
}
