import { open, unlink, type FileHandle } from 'node:fs/promises';

/**
 * The hidden file a destination writes before it is verified, made durable and renamed into
 * place (DESIGN.md "Never a half file"). Created private (0600); the final mode is set at
 * commit. Chunks from several streams write at their own offsets through one descriptor,
 * opened on first use. Every partial's path is registered with the session, which removes
 * whatever is left of them when the session fails or is canceled.
 */
export class PartialFile {
  private handle: Promise<FileHandle> | null = null;
  private tail: Promise<void> = Promise.resolve();
  /** Whether this session has created (truncated) the file already: later opens must not truncate it. */
  private created = false;

  /**
   * @param track registers an operation the session must let settle before it removes
   *   partial files (an open still in flight could otherwise re-create one after cleanup).
   */
  constructor(readonly path: string, private readonly registry: Set<string>, private readonly track: <T>(op: Promise<T>) => Promise<T>) {
    registry.add(path);
  }

  private fd(): Promise<FileHandle> {
    // 'w' creates or truncates: a partial left by an earlier attempt is started over.
    this.handle ??= this.track(open(this.path, this.created ? 'r+' : 'w', 0o600));
    this.created = true;
    return this.handle;
  }

  /**
   * Write `parts` back to back at `offset` with writev (no joining copy). Writes to one file
   * run one at a time: concurrent buffered writes to one inode only contend for its lock
   * (measured: several times the CPU for the same bytes), while other files and streams keep
   * the pipeline busy.
   */
  writev(parts: readonly Buffer[], offset: number): Promise<void> {
    const run = this.tail.then(() => this.writevNow(parts, offset));
    this.tail = run.catch(() => undefined);
    return run;
  }

  private async writevNow(parts: readonly Buffer[], offset: number): Promise<void> {
    const fh = await this.fd();
    let list = parts.filter((p) => p.length > 0);
    let position = offset;
    while (list.length > 0) {
      // At most IOV_MAX buffers per call; a short write continues where it stopped.
      const batch = list.slice(0, 1024);
      let { bytesWritten } = await fh.writev(batch, position);
      position += bytesWritten;
      let k = 0;
      while (k < batch.length && bytesWritten >= batch[k]!.length) bytesWritten -= batch[k++]!.length;
      const rest = k < batch.length ? [batch[k]!.subarray(bytesWritten), ...batch.slice(k + 1)] : [];
      list = [...rest, ...list.slice(batch.length)];
    }
  }

  /** Make sure the file exists (a zero-byte file receives no chunks). */
  async touch(): Promise<void> {
    if (!this.created) await this.fd();
  }

  async close(): Promise<void> {
    const h = this.handle;
    this.handle = null;
    if (h) await (await h).close();
  }

  /** Start over: every later write lands in a freshly truncated file (set synchronously, so no write can slip in between). */
  restart(): void {
    const old = this.handle;
    this.handle = this.track((old ? old.then((h) => h.close()) : Promise.resolve()).then(() => open(this.path, 'w', 0o600)));
    this.created = true;
  }

  /** The file was renamed into place: nothing to clean up any more. */
  committed(): void {
    this.registry.delete(this.path);
  }

  async remove(): Promise<void> {
    await this.close().catch(() => undefined);
    await unlink(this.path).catch(() => undefined);
    this.registry.delete(this.path);
  }
}

/** Remove every registered partial file (after a failure, once writes have settled). */
export async function removePartials(registry: Set<string>): Promise<void> {
  await Promise.all([...registry].map((p) => unlink(p).catch(() => undefined)));
  registry.clear();
}
