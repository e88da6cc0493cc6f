import { existsSync, statfsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { describe, expect, it } from 'vitest';
import { rawFs, rawFsKind } from '../../../../src/fs/load.js';
import { syncfsCoverage, syncfsReportsErrors } from '../../../../src/transfer/workers/syncfs-trust.js';

const EXT4 = 0xef53;
const TMPFS = 0x01021994;

/** syncfsCoverage of `dir` (opened for the call), and the directory's device. */
function coverage(dir: string): { covers: bigint | null; dev: bigint } {
  const fd = rawFs.openRoot(dir);
  try {
    return { covers: syncfsCoverage(fd), dev: rawFs.fstat(fd).dev };
  } finally {
    rawFs.close(fd);
  }
}

describe('when a syncfs stands in for fsyncs', () => {
  it('needs a kernel whose syncfs reports write-back errors (5.8 and later)', () => {
    expect(syncfsReportsErrors('5.8.0')).toBe(true);
    expect(syncfsReportsErrors('5.15.0-91-generic')).toBe(true);
    expect(syncfsReportsErrors('6.1.0-18-amd64')).toBe(true);
    expect(syncfsReportsErrors('10.0.1')).toBe(true);
    expect(syncfsReportsErrors('5.7.19')).toBe(false);
    expect(syncfsReportsErrors('4.19.0-26-amd64')).toBe(false);
    expect(syncfsReportsErrors('3.10.0-1160.el7.x86_64')).toBe(false);
    expect(syncfsReportsErrors('')).toBe(false);
    expect(syncfsReportsErrors('unknown')).toBe(false);
  });

  it.runIf(rawFsKind === 'native' && statfsSync(tmpdir()).type === EXT4)('names the device of an ext4 directory', () => {
    const { covers, dev } = coverage(tmpdir());
    expect(covers).toBe(dev);
  });

  it.runIf(existsSync('/dev/shm') && statfsSync('/dev/shm').type === TMPFS)('names nothing on tmpfs', () => {
    expect(coverage('/dev/shm').covers).toBeNull();
  });

  it.runIf(rawFsKind !== 'native')('names nothing without the native addon (its syncfs answers may be shared)', () => {
    expect(coverage(tmpdir()).covers).toBeNull();
  });

  it('names nothing for a descriptor that is not open', () => {
    expect(syncfsCoverage(-1)).toBeNull();
  });
});
