import { newRequestId } from '../../common/ids.js';

/**
 * Errors of the Auth and Groups APIs. Globus Auth answers with both the JSON:API-style
 * `errors` list and the OAuth2 `error`/`error_description` pair (globus-api.md §4, recorded):
 * `{errors: [{status: "401", id, code: "UNAUTHORIZED", detail, title}], error, error_description}`.
 */
export type OAuthErrorCode =
  | 'invalid_request' | 'invalid_client' | 'invalid_grant' | 'unauthorized_client' | 'unsupported_grant_type'
  | 'invalid_scope' | 'access_denied' | 'unauthorized' | 'forbidden' | 'not_found' | 'conflict' | 'too_many_requests';

const TITLES: Record<number, string> = {
  400: 'Bad Request', 401: 'Unauthorized', 403: 'Forbidden', 404: 'Not Found', 409: 'Conflict', 429: 'Too Many Requests',
};

export class AuthError extends Error {
  constructor(readonly status: number, readonly error: OAuthErrorCode, message: string) {
    super(message);
    this.name = 'AuthError';
  }

  toDocument(): Record<string, unknown> {
    return {
      errors: [{ status: String(this.status), id: newRequestId(), code: this.error.toUpperCase(), title: TITLES[this.status] ?? 'Error', detail: this.message }],
      error: this.error,
      error_description: this.message,
    };
  }
}

export const unauthorized = (detail = 'Call must be authenticated'): AuthError => new AuthError(401, 'unauthorized', detail);
export const forbidden = (detail: string): AuthError => new AuthError(403, 'forbidden', detail);
export const badRequest = (detail: string): AuthError => new AuthError(400, 'invalid_request', detail);
export const notFound = (detail: string): AuthError => new AuthError(404, 'not_found', detail);
