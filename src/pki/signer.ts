import { constants, privateEncrypt, type KeyObject } from 'node:crypto';
import forge from 'node-forge';

/**
 * node-forge builds the TBS structure and the digest; the RSA private-key operation runs in
 * OpenSSL instead of forge's JavaScript big integers. That is ~20x faster (a 3072-bit
 * signature costs ~100 ms in forge, blocking the event loop) and uses OpenSSL's
 * side-channel-hardened RSA for the CA key.
 *
 * forge calls `key.sign(md)` with the finished digest; RSASSA-PKCS1-v1_5 is then the private
 * operation over DigestInfo(md) with type-1 padding, which is exactly what
 * privateEncrypt(RSA_PKCS1_PADDING) computes. The result is byte-for-byte what forge's own
 * `privateKey.sign(md)` returns (PKCS#1 v1.5 is deterministic; a unit test checks this).
 */
export function forgeSigner(key: KeyObject): forge.pki.rsa.PrivateKey {
  const signer = {
    sign(md: forge.md.MessageDigest): string {
      const signature = privateEncrypt({ key, padding: constants.RSA_PKCS1_PADDING }, digestInfo(md));
      return signature.toString('binary');
    },
  };
  return signer as unknown as forge.pki.rsa.PrivateKey;
}

/** DER of PKCS#1 DigestInfo ::= SEQUENCE { AlgorithmIdentifier { oid, NULL }, OCTET STRING digest }. */
function digestInfo(md: forge.md.MessageDigest): Buffer {
  const { asn1 } = forge;
  const oid = forge.pki.oids[md.algorithm];
  if (oid === undefined) throw new TypeError(`no OID for digest ${md.algorithm}`);
  const info = asn1.create(asn1.Class.UNIVERSAL, asn1.Type.SEQUENCE, true, [
    asn1.create(asn1.Class.UNIVERSAL, asn1.Type.SEQUENCE, true, [
      asn1.create(asn1.Class.UNIVERSAL, asn1.Type.OID, false, asn1.oidToDer(oid).getBytes()),
      asn1.create(asn1.Class.UNIVERSAL, asn1.Type.NULL, false, ''),
    ]),
    asn1.create(asn1.Class.UNIVERSAL, asn1.Type.OCTETSTRING, false, md.digest().getBytes()),
  ]);
  return Buffer.from(asn1.toDer(info).getBytes(), 'binary');
}
