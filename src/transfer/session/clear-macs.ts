import { Gmac } from '../checksum/frame-gmac.js';
import { FrameOpener, FrameSealer } from '../wire/frame-auth.js';

/** A clear stream's frame-MAC keys (channel/clear-keys.ts), by direction. */
export interface FrameMacKeys {
  send: Uint8Array;
  receive: Uint8Array;
}

/** The wire layer's sealer and opener for one clear stream, over AES-256-GMAC. null for a TLS stream. */
export function streamAuth(keys: FrameMacKeys | null | undefined): { sealer: FrameSealer; opener: FrameOpener } | null {
  if (!keys) return null;
  return { sealer: new FrameSealer(new Gmac(keys.send)), opener: new FrameOpener(new Gmac(keys.receive)) };
}
