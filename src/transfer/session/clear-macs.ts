import { fastHash } from '../checksum/fast-hash.js';
import { FrameOpener, FrameSealer } from '../wire/frame-auth.js';

/** A clear stream's frame-MAC keys (channel/clear-keys.ts), by direction. */
export interface FrameMacKeys {
  send: Uint8Array;
  receive: Uint8Array;
}

/**
 * The wire layer's sealer and opener for one clear stream, over keyed BLAKE3 (native, or its
 * hash-wasm twin under FERRY_NO_NATIVE=1: the same tags either way). null for a TLS stream.
 */
export async function streamAuth(keys: FrameMacKeys | null | undefined): Promise<{ sealer: FrameSealer; opener: FrameOpener } | null> {
  if (!keys) return null;
  const [send, receive] = await Promise.all([fastHash.keyedMac(keys.send), fastHash.keyedMac(keys.receive)]);
  return { sealer: new FrameSealer(send), opener: new FrameOpener(receive) };
}
