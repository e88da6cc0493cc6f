/**
 * A received frame. Its payload is normally one buffer (FrameAssembler reads every frame into
 * a buffer of its own); `parts` keeps the scattered form so a payload may also be a list of
 * slices. Big payloads come from a pool: whoever is done with a frame calls release() so the
 * buffer can take the next frame (skipping it is safe, the buffer is then just collected).
 */
export class InFrame {
  private joined: Buffer | null = null;

  constructor(
    readonly type: number,
    readonly parts: readonly Buffer[],
    readonly length: number,
    /** Give the payload's buffer back; nothing may use the payload afterwards. */
    readonly release: () => void = noop,
    /**
     * 'none': the stream is TLS, which already guarantees the bytes; 'ok' / 'bad': a clear
     * stream's frame whose MAC matched / did not (frame-auth.ts). A 'bad' frame's content,
     * header included, must not be trusted.
     */
    readonly mac: 'none' | 'ok' | 'bad' = 'none',
  ) {}

  get payload(): Buffer {
    if (!this.joined) this.joined = this.parts.length === 1 ? this.parts[0]! : Buffer.concat(this.parts as Buffer[], this.length);
    return this.joined;
  }
}

function noop(): void {}

/** The first `n` bytes of `parts` (copied only if they span parts) and the parts after them. */
export function splitParts(parts: readonly Buffer[], n: number): { head: Buffer; rest: Buffer[] } {
  const first = parts[0];
  if (first && first.length >= n) {
    const rest = first.length > n ? [first.subarray(n), ...parts.slice(1)] : parts.slice(1);
    return { head: first.subarray(0, n), rest };
  }
  const head = Buffer.alloc(n);
  let got = 0;
  let k = 0;
  for (; k < parts.length && got < n; k++) {
    const p = parts[k]!;
    const take = Math.min(p.length, n - got);
    p.copy(head, got, 0, take);
    got += take;
    if (take < p.length) return { head: head.subarray(0, got), rest: [p.subarray(take), ...parts.slice(k + 1)] };
  }
  return { head: head.subarray(0, got), rest: parts.slice(k) };
}
