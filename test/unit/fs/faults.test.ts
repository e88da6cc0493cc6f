import * as fs from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import * as faults from '../../../src/fs/faults.js';
import { RawFsError } from '../../../src/fs/raw.js';

const { closeFd, fdatasync, fdatasyncSync, fsync, fsyncSync, injectFaults, isPartialFileFd, parseFaultSpec, pwrite, pwritev, writevSync, closeSync } = faults;

let dir: string;
const open: number[] = [];

function openFile(name: string, flags = 'w+'): number {
  const fd = fs.openSync(join(dir, name), flags);
  open.push(fd);
  return fd;
}

async function rejection(p: Promise<unknown>): Promise<{ code: string; syscall: string }> {
  const err = await p.then(
    () => {
      throw new Error('expected a rejection');
    },
    (e: unknown) => e,
  );
  // By name: a module re-imported after vi.resetModules has its own RawFsError class.
  expect((err as Error).name).toBe(RawFsError.name);
  const { code, syscall } = err as RawFsError;
  return { code, syscall };
}

beforeEach(() => {
  dir = fs.mkdtempSync(join(tmpdir(), 'ferry-faults-'));
});
afterEach(() => {
  injectFaults(null);
  for (const fd of open.splice(0)) {
    try {
      fs.closeSync(fd);
    } catch {
      // closed by the test
    }
  }
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('fault injection', () => {
  it('fails fdatasync with the injected code, `times` times, then passes', async () => {
    const fd = openFile('f');
    injectFaults({ call: 'fdatasync', errno: 'EIO', times: 2 });
    expect(await rejection(fdatasync(fd))).toEqual({ code: 'EIO', syscall: 'fdatasync' });
    expect(() => fdatasyncSync(fd)).toThrow(expect.objectContaining({ code: 'EIO', syscall: 'fdatasync', errno: -5 }));
    await expect(fdatasync(fd)).resolves.toBeUndefined();
    expect(() => fdatasyncSync(fd)).not.toThrow();
  });

  it('fails writes before any byte lands, every time when `times` is omitted', async () => {
    const fd = openFile('f');
    injectFaults({ call: 'write', errno: 'ENOSPC' });
    for (let i = 0; i < 3; i++) {
      expect(await rejection(pwritev(fd, [Buffer.from('abc')], 0))).toEqual({ code: 'ENOSPC', syscall: 'write' });
      expect(await rejection(pwrite(fd, Buffer.from('abc'), 0, 3, 0))).toEqual({ code: 'ENOSPC', syscall: 'write' });
    }
    expect(() => writevSync(fd, [Buffer.from('x')], 0)).toThrow(expect.objectContaining({ code: 'ENOSPC' }));
    expect(fs.fstatSync(fd).size).toBe(0);
    injectFaults(null);
    expect(await pwritev(fd, [Buffer.from('ab'), Buffer.from('cd')], 1)).toBe(4);
    expect(await pwrite(fd, Buffer.from('xyz!'), 1, 2, 5)).toBe(2);
    expect(fs.readFileSync(join(dir, 'f'), 'latin1')).toBe('\0abcdyz');
  });

  it('fails fsync and close, and a failed close still closes the fd', async () => {
    const a = openFile('a');
    const b = openFile('b');
    injectFaults({ call: 'fsync', errno: 'EROFS', times: 1 });
    injectFaults({ call: 'close', errno: 'EIO' });
    expect(await rejection(fsync(a))).toEqual({ code: 'EROFS', syscall: 'fsync' });
    expect(() => fsyncSync(a)).not.toThrow();
    expect(await rejection(closeFd(a))).toEqual({ code: 'EIO', syscall: 'close' });
    expect(() => fs.fstatSync(a)).toThrow(expect.objectContaining({ code: 'EBADF' }));
    expect(() => closeSync(b)).toThrow(expect.objectContaining({ code: 'EIO', syscall: 'close' }));
    expect(() => fs.fstatSync(b)).toThrow(expect.objectContaining({ code: 'EBADF' }));
  });

  it('hits only fds the rule matches, and counts only those', async () => {
    const part = openFile('.ferry-part-1');
    const other = openFile('data');
    injectFaults({ call: 'fdatasync', errno: 'EIO', times: 1, match: isPartialFileFd });
    await expect(fdatasync(other)).resolves.toBeUndefined();
    expect(await rejection(fdatasync(part))).toEqual({ code: 'EIO', syscall: 'fdatasync' });
    await expect(fdatasync(part)).resolves.toBeUndefined();
  });

  it('surfaces real failures in the same shape', async () => {
    const ro = openFile('ro', 'w');
    const rdonly = fs.openSync(join(dir, 'ro'), 'r');
    open.push(rdonly);
    expect(await rejection(pwritev(rdonly, [Buffer.from('x')], 0))).toEqual({ code: 'EBADF', syscall: 'write' });
    fs.closeSync(ro);
    expect(await rejection(fdatasync(ro))).toEqual({ code: 'EBADF', syscall: 'fdatasync' });
    expect(await rejection(closeFd(ro))).toEqual({ code: 'EBADF', syscall: 'close' });
    expect(() => writevSync(rdonly, [Buffer.from('x')], 0)).toThrow(expect.objectContaining({ code: 'EBADF', syscall: 'write' }));
  });

  it('writes every byte of many buffers (more than one writev can take)', async () => {
    const fd = openFile('many');
    const buffers = Array.from({ length: 3000 }, (_, i) => Buffer.from([i & 0xff, (i >> 8) & 0xff]));
    expect(await pwritev(fd, buffers, 0)).toBe(6000);
    expect(fs.readFileSync(join(dir, 'many'))).toEqual(Buffer.concat(buffers));
    expect(writevSync(fd, buffers, 6000)).toBe(6000);
    expect(fs.fstatSync(fd).size).toBe(12000);
  });

  it('refuses malformed rules', () => {
    expect(() => injectFaults({ call: 'write', errno: 'ENOTANERRNO' })).toThrow(TypeError);
    expect(() => injectFaults({ call: 'write', errno: 'EIO', times: 0 })).toThrow(TypeError);
    expect(() => injectFaults({ call: 'read' as never, errno: 'EIO' })).toThrow(TypeError);
  });
});

describe('FERRY_TEST_FAULTS', () => {
  it('parses call:ERRNO[:N[:AFTER]] entries', () => {
    expect(parseFaultSpec('fdatasync:EIO:1, write:ENOSPC ,close:EIO:12, write:EIO:1:40')).toEqual([
      { call: 'fdatasync', errno: 'EIO', times: 1 },
      { call: 'write', errno: 'ENOSPC' },
      { call: 'close', errno: 'EIO', times: 12 },
      { call: 'write', errno: 'EIO', times: 1, after: 40 },
    ]);
    expect(parseFaultSpec('')).toEqual([]);
    for (const bad of ['read:EIO', 'write:EFOO', 'write:EIO:0', 'write:EIO:x', 'write:EIO:1:x', 'write:EIO:1:-1', 'write:EIO:1:2:3', 'write', 'fsync:']) {
      expect(() => parseFaultSpec(bad), bad).toThrow(/FERRY_TEST_FAULTS/);
    }
  });

  it('lets AFTER matching calls pass before failing, counted across loads', async () => {
    vi.stubEnv('FERRY_TEST_FAULTS', 'fdatasync:EIO:1:2');
    try {
      vi.resetModules();
      const first = await import('../../../src/fs/faults.js');
      const part = openFile('.ferry-part-after');
      const data = openFile('data');
      // Calls on other files do not count.
      await expect(first.fdatasync(data)).resolves.toBeUndefined();
      await expect(first.fdatasync(part)).resolves.toBeUndefined();
      vi.resetModules();
      const second = await import('../../../src/fs/faults.js');
      await expect(second.fdatasync(part)).resolves.toBeUndefined();
      expect(await rejection(first.fdatasync(part))).toEqual({ code: 'EIO', syscall: 'fdatasync' });
      await expect(second.fdatasync(part)).resolves.toBeUndefined();
    } finally {
      vi.unstubAllEnvs();
      vi.resetModules();
    }
  });

  it('faultPoint throws the injected failure for calls made elsewhere', () => {
    const fd = openFile('.ferry-part-point');
    injectFaults({ call: 'close', errno: 'EIO', times: 1, after: 1 });
    expect(() => faults.faultPoint('close', fd)).not.toThrow();
    expect(() => faults.faultPoint('close', fd)).toThrow(expect.objectContaining({ code: 'EIO', syscall: 'close' }));
    expect(() => faults.faultPoint('close', fd)).not.toThrow();
    expect(() => faults.faultPoint('write', fd)).not.toThrow();
  });

  it('applies at load to partial files only, with counts shared by later loads in the process', async () => {
    vi.stubEnv('FERRY_TEST_FAULTS', 'fsync:EIO:1,fdatasync:EIO:1,write:ENOSPC:2');
    try {
      vi.resetModules();
      const first = await import('../../../src/fs/faults.js');
      const part = openFile('.ferry-part-abc');
      const data = openFile('data');
      await expect(first.fdatasync(data)).resolves.toBeUndefined();
      await expect(first.pwritev(data, [Buffer.from('x')], 0)).resolves.toBe(1);
      expect(await rejection(first.fdatasync(part))).toEqual({ code: 'EIO', syscall: 'fdatasync' });
      expect(await rejection(first.pwritev(part, [Buffer.from('x')], 0))).toEqual({ code: 'ENOSPC', syscall: 'write' });
      // A second load (as in a worker thread) shares what is left: one write failure.
      vi.resetModules();
      const second = await import('../../../src/fs/faults.js');
      expect(await rejection(second.pwritev(part, [Buffer.from('x')], 0))).toEqual({ code: 'ENOSPC', syscall: 'write' });
      await expect(second.pwritev(part, [Buffer.from('x')], 0)).resolves.toBe(1);
      await expect(second.fdatasync(part)).resolves.toBeUndefined();
      await expect(first.fdatasync(part)).resolves.toBeUndefined();
      // injectFaults(null) clears only rules added in-process; the env rules stay.
      second.injectFaults(null);
      expect(await rejection(second.fsync(part))).toEqual({ code: 'EIO', syscall: 'fsync' });
    } finally {
      vi.unstubAllEnvs();
      vi.resetModules();
    }
  });
});
