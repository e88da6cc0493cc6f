import type { SessionEvent } from '../../protocol/session.js';

/**
 * Globus-style task events (globus-api.md §2.5): an upper-case code, a short lower-case
 * description, and details as a JSON string so control can build skipped_errors and show them.
 */
const DESCRIPTIONS: Record<string, string> = {
  FILE_NOT_FOUND: 'file not found',
  PERMISSION_DENIED: 'permission denied',
  VERIFY_CHECKSUM: 'checksum verification failed',
};

const MAX_DETAILS = 8192;

export function sessionEvent(code: string, details: Record<string, unknown>, isError = true): SessionEvent {
  let text = JSON.stringify(details);
  if (text.length > MAX_DETAILS) text = `${text.slice(0, MAX_DETAILS - 3)}...`;
  return { code, isError, description: DESCRIPTIONS[code] ?? code.toLowerCase().replace(/_/g, ' '), details: text };
}
