/**
 * What the source's readers hand to the data streams: whole frames (each as its parts), kept
 * together on one stream, e.g. one chunk, or the three kinds of frames of a tar batch.
 */
export interface SendUnit {
  frames: Buffer[][];
  /** Bytes held, for the queue's bound. */
  cost: number;
  /** Runs once the unit's last bytes left our buffers (return pooled buffers here). */
  done?: () => void;
}
