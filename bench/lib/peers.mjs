// The peers Ferry must beat, run the way their own reference setups run them:
// anonymous clear-text GridFTP, the rsync daemon, rsync over ssh (a throw-away sshd on a
// loopback port), iperf3 for the WAN link's capacity and Node's TLS memory-to-memory ceiling.
// Every client pulls (the destination side runs the client), as in the anchors.
import { mkdirSync, writeFileSync, chmodSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { procCpu, runOk, startProc, timed, waitPort, waitReaped, portInUse } from './proc.mjs';

const TLS_SCRIPT = fileURLToPath(new URL('../tls-ceiling.mjs', import.meta.url));

async function ensureFree(port, host, ns) {
  if (!ns && await portInUse(port, host)) throw new Error(`port ${host}:${port} is already in use; stop whatever listens there`);
}

/** A forking server whose session CPU is the growth of utime+stime+cutime+cstime of its PID. */
function server(proc, host, port, ns) {
  return {
    proc, host, port, ns,
    cpu: () => procCpu(proc.pid),
    stop: () => proc.stop(),
  };
}

export async function startGridftp({ port = 2811, host = '127.0.0.1', ns, logDir }) {
  await ensureFree(port, host, ns);
  const proc = startProc(`gridftp-${port}${ns ? `-${ns}` : ''}`, 'globus-gridftp-server', [
    '-aa', '-anonymous-user', 'nobody', '-p', String(port), '-s', '-control-interface', host, '-data-interface', host,
    '-disable-usage-stats', '-l', join(logDir, `gridftp-${port}.server.log`), '-d', 'error,warn',
  ], { logDir, ns });
  await waitPort(host, port, ns);
  return server(proc, host, port, ns);
}

export async function startRsyncd({ root, port = 8730, host = '127.0.0.1', ns, logDir }) {
  await ensureFree(port, host, ns);
  const conf = join(logDir, `rsyncd-${port}.conf`);
  writeFileSync(conf, [
    'uid = root', 'gid = root', 'use chroot = no', 'max connections = 0',
    `log file = ${join(logDir, `rsyncd-${port}.log`)}`,
    '[data]', `    path = ${root}`, '    read only = no', '    list = yes', '',
  ].join('\n'));
  const proc = startProc(`rsyncd-${port}${ns ? `-${ns}` : ''}`, 'rsync', ['--daemon', '--no-detach', `--config=${conf}`, `--port=${port}`, `--address=${host}`], { logDir, ns });
  await waitPort(host, port, ns);
  return server(proc, host, port, ns);
}

/**
 * sshd on a loopback port with a throw-away host key and client key (in WORKDIR), root login by
 * key only. Returns the server and the `-e` command rsync needs.
 */
export async function startSshd({ port = 2222, host = '127.0.0.1', workDir, logDir, cipher = 'aes128-gcm@openssh.com' }) {
  await ensureFree(port, host);
  mkdirSync(workDir, { recursive: true, mode: 0o700 });
  mkdirSync('/run/sshd', { recursive: true, mode: 0o755 });   // privilege-separation directory
  const hostKey = join(workDir, 'host_ed25519'), clientKey = join(workDir, 'client_ed25519');
  await runOk('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', hostKey]).catch(() => undefined);
  await runOk('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', clientKey]).catch(() => undefined);
  const authorized = join(workDir, 'authorized_keys');
  await runOk('cp', [`${clientKey}.pub`, authorized]);
  chmodSync(authorized, 0o600);
  const conf = join(workDir, 'sshd_config');
  writeFileSync(conf, [
    `Port ${port}`, `ListenAddress ${host}`, `HostKey ${hostKey}`, `AuthorizedKeysFile ${authorized}`,
    'PermitRootLogin prohibit-password', 'PasswordAuthentication no', 'KbdInteractiveAuthentication no',
    'UsePAM no', 'StrictModes no', `PidFile ${join(workDir, 'sshd.pid')}`, 'Subsystem sftp internal-sftp', '',
  ].join('\n'));
  const proc = startProc(`sshd-${port}`, '/usr/sbin/sshd', ['-D', '-e', '-f', conf], { logDir });
  await waitPort(host, port);
  const ssh = `ssh -p ${port} -i ${clientKey} -c ${cipher} -o BatchMode=yes -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR`;
  return { ...server(proc, host, port), ssh, cipher };
}

export async function startIperf({ host, port = 5201, ns, logDir }) {
  await ensureFree(port, host, ns);
  const proc = startProc(`iperf3-${port}${ns ? `-${ns}` : ''}`, 'iperf3', ['-s', '-B', host, '-p', String(port)], { logDir, ns });
  await waitPort(host, port, ns);
  return server(proc, host, port, ns);
}

/**
 * Time one client command against SERVERS: wall, CPU (client + every server's session) and the
 * client's peak RSS. Waits for the daemons to reap their session processes before reading CPU.
 */
export async function timedAgainst(servers, cmd, args, { ns } = {}) {
  const before = servers.map((s) => s.cpu());
  const t = await timed(cmd, args, { ns });
  await waitReaped(servers.map((s) => s.proc.pid));
  const serverCpu = servers.reduce((sum, s, i) => sum + (s.cpu() - before[i]), 0);
  return { ...t, clientCpu: t.cpu, serverCpu, cpu: t.cpu + serverCpu };
}

/** iperf3 -R (the server sends, like a pull) for SECS seconds: goodput in MB/s (10^6 B). */
export async function iperfGoodput(srv, { streams, secs, ns, congestion }) {
  // With -R the server sends; -C sets the congestion control of the test's sockets on both sides.
  const r = await runOk('iperf3', ['-c', srv.host, '-p', String(srv.port), '-t', String(secs), '-P', String(streams), '-R', '-J', ...(congestion ? ['-C', congestion] : [])], { ns });
  const end = JSON.parse(r.stdout).end;
  return { MBps: end.sum_received.bits_per_second / 8 / 1e6, retransmits: end.sum_sent.retransmits ?? null };
}

/**
 * Node TLS 1.3 memory-to-memory over one loopback connection, server and client in separate
 * processes (the ceiling for any Node process that moves encrypted bytes on this machine).
 */
export async function tlsCeiling({ bytes, port = 9443, workDir, logDir }) {
  await ensureFree(port, '127.0.0.1');
  mkdirSync(workDir, { recursive: true });
  const key = join(workDir, 'tls-key.pem'), cert = join(workDir, 'tls-cert.pem');
  await runOk('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '2', '-subj', '/CN=localhost']);
  const srvProc = startProc('tls-ceiling-server', process.execPath, [TLS_SCRIPT, 'server', String(port), key, cert, String(bytes)], { logDir });
  try {
    await srvProc.waitFor(/listening/);
    const s0 = procCpu(srvProc.pid);
    const t = await timed(process.execPath, [TLS_SCRIPT, 'client', String(port)]);
    const s1 = procCpu(srvProc.pid);
    if (t.code !== 0) throw new Error(`tls client failed: ${t.stderr}`);
    // Rate over the data phase only (after the handshake), as in the anchors.
    const out = JSON.parse(t.stdout.trim().split('\n').pop());
    return { ...t, wall: out.seconds, cipher: out.cipher, serverCpu: s1 - s0, clientCpu: t.cpu, cpu: t.cpu + (s1 - s0) };
  } finally {
    await srvProc.stop();
  }
}
