import { it } from 'vitest';
import forge from 'node-forge';
import { createCa, createCsr, generateKeyPair, signAgentCsr, issueServerCertificate } from '../../../src/pki/index.js';
import { writeFileSync } from 'node:fs';

function stats(fn: () => void, n: number): string {
  const ts: number[] = [];
  for (let i = 0; i < n; i++) { const t = performance.now(); fn(); ts.push(performance.now() - t); }
  ts.sort((a, b) => a - b);
  return `n=${n} min ${ts[0]!.toFixed(1)} median ${ts[Math.floor(n / 2)]!.toFixed(1)} max ${ts[n - 1]!.toFixed(1)} ms`;
}
it('bench', () => {
  const out: string[] = [];
  out.push(`createCa 3072 (default): ${stats(() => createCa(), 15)}`);
  out.push(`createCa 2048: ${stats(() => createCa({ keyBits: 2048 }), 15)}`);
  const ca = createCa();
  const kp = generateKeyPair();
  const csr = createCsr(kp, 'x');
  const ids = { nodeId: 'n1', endpointId: 'e1' };
  out.push(`generateKeyPair 2048: ${stats(() => generateKeyPair(), 20)}`);
  out.push(`createCsr: ${stats(() => createCsr(kp, 'x'), 50)}`);
  out.push(`signAgentCsr (3072 CA): ${stats(() => signAgentCsr(ca, csr, ids), 100)}`);
  const ca2 = createCa({ keyBits: 2048 });
  out.push(`signAgentCsr (2048 CA): ${stats(() => signAgentCsr(ca2, csr, ids), 100)}`);
  out.push(`issueServerCertificate (incl. keygen): ${stats(() => issueServerCertificate(ca, ['localhost', '127.0.0.1']), 15)}`);
  // For comparison: forge's own JS RSA signing with the 3072-bit CA key.
  const key = forge.pki.privateKeyFromPem(ca.keyPem);
  const cert = forge.pki.certificateFromPem(ca.certPem);
  out.push(`forge JS sign, 3072 key: ${stats(() => cert.sign(key, forge.md.sha256.create()), 20)}`);
  writeFileSync('/tmp/pki-bench.txt', out.join('\n') + '\n');
}, 120_000);
