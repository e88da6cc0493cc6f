import type { SessionStats } from '../../protocol/index.js';
import type { TaskRecord } from '../store/tasks.js';

/**
 * A task may take several sessions (retries). Work done adds up across them (bytes moved,
 * bytes checksummed, faults); what describes the tree (files, directories, symlinks,
 * expected bytes) and how much of it is done is the larger of the two, since a retry walks
 * the same tree again (and counts the files earlier attempts finished, from its markers).
 */
export function combineStats(base: SessionStats, cur: SessionStats | null): SessionStats {
  if (cur === null) return base;
  return {
    files: Math.max(base.files, cur.files),
    directories: Math.max(base.directories, cur.directories),
    symlinks: Math.max(base.symlinks, cur.symlinks),
    // A retry counts the files earlier attempts finished (its restart markers say which) as well as its own.
    filesTransferred: Math.max(base.filesTransferred, cur.filesTransferred),
    filesSkipped: Math.max(base.filesSkipped, cur.filesSkipped),
    bytesExpected: Math.max(base.bytesExpected, cur.bytesExpected),
    bytesTransferred: base.bytesTransferred + cur.bytesTransferred,
    bytesChecksummed: base.bytesChecksummed + cur.bytesChecksummed,
    faults: base.faults + cur.faults,
    // The most data streams any attempt had at work.
    ...(base.streams !== undefined || cur.streams !== undefined ? { streams: Math.max(base.streams ?? 0, cur.streams ?? 0) } : {}),
  };
}

export function taskStats(t: Pick<TaskRecord, 'statsBase' | 'statsCur'>): SessionStats {
  return combineStats(t.statsBase, t.statsCur);
}

/** Fold the running session's counters into the base (the session is over). */
export function foldStats(t: Pick<TaskRecord, 'statsBase' | 'statsCur'>, extraFaults = 0): { statsBase: SessionStats; statsCur: null } {
  const s = taskStats(t);
  return { statsBase: { ...s, faults: s.faults + extraFaults }, statsCur: null };
}

export interface Subtasks {
  subtasks_total: number;
  subtasks_pending: number;
  subtasks_retrying: number;
  subtasks_succeeded: number;
  subtasks_expired: number;
  subtasks_canceled: number;
  subtasks_failed: number;
  subtasks_skipped_errors: number;
}

/**
 * Ferry has no Globus subtasks; these approximate them: one per item, or per file, directory
 * and symlink once the tree is known. What is not done when a task ends counts as canceled,
 * expired or failed by how it ended.
 */
export function subtasks(t: TaskRecord, s: SessionStats, skippedErrors = 0): Subtasks {
  const isDelete = t.type === 'DELETE';
  const total = isDelete ? t.items.length : Math.max(t.items.length, s.files + s.directories + s.symlinks);
  const done = t.status === 'SUCCEEDED' ? total : Math.min(total, isDelete ? t.itemsDone : s.filesTransferred + s.filesSkipped);
  const rest = total - done;
  const active = t.status === 'ACTIVE' || t.status === 'INACTIVE';
  const endedBy = t.fatalError?.code;
  return {
    subtasks_total: total,
    subtasks_pending: active ? rest : 0,
    subtasks_retrying: active && t.niceStatus !== null && t.niceStatus !== 'OK' && t.niceStatus !== 'Queued' ? rest : 0,
    subtasks_succeeded: done,
    subtasks_expired: !active && endedBy === 'EXPIRED' ? rest : 0,
    subtasks_canceled: !active && endedBy === 'CANCELED' ? rest : 0,
    subtasks_failed: !active && endedBy !== undefined && endedBy !== 'EXPIRED' && endedBy !== 'CANCELED' ? rest : 0,
    subtasks_skipped_errors: skippedErrors,
  };
}
