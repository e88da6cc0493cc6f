import { Type, type Static } from '@sinclair/typebox';

/**
 * A setup key is `ferry1_` + base64url(JSON of SetupKeyPayload). It carries what a new agent
 * needs to trust control on first contact (like kubeadm's discovery-token-ca-cert-hash):
 * control's URL, the SHA-256 of control's CA certificate (DER), and a one-time secret.
 */
export const SETUP_KEY_PREFIX = 'ferry1_';
export const MAX_SETUP_KEY_CHARS = 2048;

export const SetupKeyPayload = Type.Object({
  /** Control's base URL, e.g. https://127.0.0.1:7750 */
  u: Type.String({ minLength: 8, maxLength: 1024, pattern: '^https://' }),
  /** Lower-case hex SHA-256 of the CA certificate's DER bytes. */
  h: Type.String({ pattern: '^[0-9a-f]{64}$' }),
  /** The one-time secret; control stores only its hash. */
  s: Type.String({ minLength: 16, maxLength: 128, pattern: '^[A-Za-z0-9_-]+$' }),
}, { additionalProperties: false });
export type SetupKeyPayload = Static<typeof SetupKeyPayload>;
