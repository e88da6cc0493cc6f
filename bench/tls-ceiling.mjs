// Node's TLS 1.3 memory-to-memory ceiling on one loopback connection, server and client in
// separate processes: the most any Node process can move encrypted on this machine.
// server: node tls-ceiling.mjs server PORT KEY CERT BYTES   (prints "listening" on stderr)
// client: node tls-ceiling.mjs client PORT                   -> JSON {bytes, seconds, MBps, cipher}
// Default cipher suite, like Ferry's data channel (TLS 1.3, Node defaults).
import tls from 'node:tls';
import fs from 'node:fs';

const [, , role, port, ...rest] = process.argv;
if (role === 'server') {
  const [key, cert, bytesStr] = rest;
  const total = BigInt(bytesStr);
  const chunk = Buffer.alloc(256 * 1024, 0xab);
  const srv = tls.createServer({ key: fs.readFileSync(key), cert: fs.readFileSync(cert), minVersion: 'TLSv1.3' }, (sock) => {
    let sent = 0n;
    const pump = () => {
      while (sent < total) {
        const n = total - sent >= BigInt(chunk.length) ? chunk : chunk.subarray(0, Number(total - sent));
        sent += BigInt(n.length);
        if (!sock.write(n)) { sock.once('drain', pump); return; }
      }
      sock.end();
    };
    pump();
  });
  srv.listen(Number(port), '127.0.0.1', () => process.stderr.write('listening\n'));
} else if (role === 'client') {
  let bytes = 0;
  let tStart = 0n;
  const s = tls.connect({ port: Number(port), host: '127.0.0.1', rejectUnauthorized: false }, () => { tStart = process.hrtime.bigint(); });
  s.on('data', (d) => { bytes += d.length; });
  s.on('end', () => {
    const sec = Number(process.hrtime.bigint() - tStart) / 1e9;
    process.stdout.write(`${JSON.stringify({ bytes, seconds: sec, MBps: bytes / 1e6 / sec, cipher: s.getCipher().name })}\n`);
    s.destroy();
  });
} else {
  process.stderr.write('usage: tls-ceiling.mjs server PORT KEY CERT BYTES | client PORT\n');
  process.exit(2);
}
