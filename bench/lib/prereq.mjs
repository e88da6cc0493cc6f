// What the peers and the WAN link need, which Debian package brings each, and --install.
import { existsSync } from 'node:fs';
import { run } from './proc.mjs';

// [check, Debian package, needed for]
const NEEDS = [
  ['globus-url-copy', 'globus-gass-copy-progs', 'GridFTP client'],
  ['globus-gridftp-server', 'globus-gridftp-server-progs', 'GridFTP server'],
  ['rsync', 'rsync', 'rsync daemon and rsync over ssh'],
  ['/usr/sbin/sshd', 'openssh-server', 'rsync over ssh'],
  ['ssh', 'openssh-client', 'rsync over ssh'],
  ['ssh-keygen', 'openssh-client', 'rsync over ssh'],
  ['iperf3', 'iperf3', 'WAN link capacity'],
  ['iptables', 'iptables', 'WAN link (NFQUEUE delay and loss)'],
  ['/usr/include/libnetfilter_queue/libnetfilter_queue.h', 'libnetfilter-queue-dev', 'WAN link (netdelay)'],
  ['gcc', 'gcc', 'WAN link (builds netdelay)'],
  ['ip', 'iproute2', 'WAN link (namespaces)'],
  ['tc', 'iproute2', 'WAN link (rate limit)'],
  ['openssl', 'openssl', 'TLS ceiling (test certificate)'],
  ['/usr/bin/time', 'time', 'CPU and RSS of client commands'],
  ['diff', 'diffutils', 'checking copies'],
];

async function present(check) {
  if (check.startsWith('/')) return existsSync(check);
  return (await run('bash', ['-c', `command -v ${check}`])).code === 0;
}

export async function missing() {
  const out = [];
  for (const [check, pkg, why] of NEEDS) if (!(await present(check))) out.push({ check, pkg, why });
  return out;
}

/** Check (and with install=true, apt-get install) the prerequisites; throws with a clear message. */
export async function ensurePrereqs({ install }) {
  if (process.getuid?.() !== 0) {
    throw new Error('the benchmark must run as root: it starts sshd and GridFTP, builds network namespaces and resets /proc peak-RSS counters');
  }
  let miss = await missing();
  if (miss.length > 0 && install) {
    const pkgs = [...new Set(miss.map((m) => m.pkg))];
    process.stderr.write(`installing ${pkgs.join(' ')}\n`);
    const env = { DEBIAN_FRONTEND: 'noninteractive' };
    await run('apt-get', ['update', '-q'], { env });
    const r = await run('apt-get', ['install', '-y', '-q', ...pkgs], { env });
    if (r.code !== 0) throw new Error(`apt-get install failed:\n${r.stderr.slice(-2000)}`);
    miss = await missing();
  }
  if (miss.length > 0) {
    const pkgs = [...new Set(miss.map((m) => m.pkg))];
    throw new Error(`missing prerequisites:\n${miss.map((m) => `  ${m.check} (package ${m.pkg}; for ${m.why})`).join('\n')}\n` +
      `install them with:  apt-get update && apt-get install -y ${pkgs.join(' ')}\n` +
      'or run the benchmark with --install (as root)');
  }
}
