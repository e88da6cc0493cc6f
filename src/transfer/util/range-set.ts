/**
 * A set of byte offsets kept as sorted, disjoint, non-adjacent [start, end) intervals. The
 * destination keeps per file the bytes it asked for and has not yet received intact; chunks
 * punch holes, corrupt chunks leave theirs, and later restart markers will fill it from state.
 */
export class RangeSet {
  private starts: number[] = [];
  private ends: number[] = [];

  get isEmpty(): boolean {
    return this.starts.length === 0;
  }

  /** Total bytes covered. */
  get size(): number {
    let n = 0;
    for (let k = 0; k < this.starts.length; k++) n += this.ends[k]! - this.starts[k]!;
    return n;
  }

  get intervals(): Array<[number, number]> {
    return this.starts.map((s, k) => [s, this.ends[k]!]);
  }

  add(start: number, end: number): void {
    if (end <= start) return;
    const starts: number[] = [];
    const ends: number[] = [];
    let placed = false;
    for (let k = 0; k < this.starts.length; k++) {
      const s = this.starts[k]!;
      const e = this.ends[k]!;
      if (e < start) {
        starts.push(s);
        ends.push(e);
      } else if (s > end) {
        if (!placed) {
          starts.push(start);
          ends.push(end);
          placed = true;
        }
        starts.push(s);
        ends.push(e);
      } else {
        start = Math.min(start, s);
        end = Math.max(end, e);
      }
    }
    if (!placed) {
      starts.push(start);
      ends.push(end);
    }
    this.starts = starts;
    this.ends = ends;
  }

  /** Whether [start, end) lies entirely inside one interval. */
  covers(start: number, end: number): boolean {
    for (let k = 0; k < this.starts.length; k++) {
      if (this.starts[k]! <= start && end <= this.ends[k]!) return true;
      if (this.starts[k]! > start) return false;
    }
    return false;
  }

  remove(start: number, end: number): void {
    if (end <= start) return;
    const starts: number[] = [];
    const ends: number[] = [];
    for (let k = 0; k < this.starts.length; k++) {
      const s = this.starts[k]!;
      const e = this.ends[k]!;
      if (e <= start || s >= end) {
        starts.push(s);
        ends.push(e);
        continue;
      }
      if (s < start) {
        starts.push(s);
        ends.push(start);
      }
      if (e > end) {
        starts.push(end);
        ends.push(e);
      }
    }
    this.starts = starts;
    this.ends = ends;
  }

  clear(): void {
    this.starts = [];
    this.ends = [];
  }
}
