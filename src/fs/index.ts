/**
 * Descriptor-relative access to user data (DESIGN.md "Containment holds against the host
 * too"): the one door through which the agent and the transfer engine reach files under a
 * root. raw*: the openat family (native addon or its TypeScript twin); Dir: an open directory
 * reached without following links; RootDirs/walkDirs: roots pinned by identity and walks
 * below them; faults: data-path calls (write, fdatasync, close) with a test seam.
 */
export { Dir, errnoOf, fsErrno } from './dir.js';
export { RootDirs, walkDirs, reopen } from './roots.js';
export type { RootSpec, WalkOptions } from './roots.js';
export { rawFs, rawFsKind } from './load.js';
export { RawFsError } from './raw.js';
export type { RawFs, RawStat, RawDirent, EntryKind, FileIdentity } from './raw.js';
export { removeTree } from './remove-tree.js';
export type { RemoveTreeOptions } from './remove-tree.js';
export { openRef, openRefHandle, handleFromFd, lstatRef, unlinkRef, describeRef } from './file-ref.js';
export type { AtPath, FileRef } from './file-ref.js';
export { tcpCongestion, nativeTcpCongestion, twinTcpCongestion, hostCongestion } from './tcp-congestion.js';
export type { TcpCongestion, TcpInfo, HostCongestion } from './tcp-congestion.js';
