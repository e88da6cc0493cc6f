/**
 * Small files' bytes from a tar batch are views into the batch's received frame buffers, which
 * come from a pool (wire/frame-pool.ts). The buffers may go back to the pool only once no
 * view is needed any more: after the committer has handed every file of the batch to the fs
 * worker. A view never dropped just leaves its buffer to the garbage collector (giving back is
 * an optimisation); a buffer is never given back while a registered view may still be read.
 */
const holds = new WeakMap<Buffer, () => void>();

/** Register `views` (distinct Buffer objects); `release` runs once every one was dropped. */
export function holdViews(views: readonly Buffer[], release: () => void): void {
  let left = views.length;
  if (left === 0) {
    release();
    return;
  }
  const one = (): void => {
    left -= 1;
    if (left === 0) release();
  };
  for (const v of views) holds.set(v, one);
}

/** The holder of `view` is done with it (a view not registered, or dropped twice, is ignored). */
export function dropView(view: Buffer | null | undefined): void {
  if (!view) return;
  const one = holds.get(view);
  if (!one) return;
  holds.delete(view);
  one();
}
