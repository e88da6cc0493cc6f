import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import type { Api } from './context.js';
import { FerryError, isFerryError } from '../../common/errors.js';
import { newRequestId } from '../../common/ids.js';

/** Globus error document (globus-api.md §0): code, message, request_id, resource. */
export interface ErrorDocument {
  code: string;
  message: string;
  request_id: string;
  resource: string;
}

export function resourceOf(req: FastifyRequest): string {
  return (req.url.split('?')[0] ?? req.url);
}

export function sendError(req: FastifyRequest, reply: FastifyReply, err: FerryError): FastifyReply {
  const doc: ErrorDocument = { code: err.code, message: err.message, request_id: newRequestId(), resource: resourceOf(req) };
  if (err.status === 401) void reply.header('WWW-Authenticate', 'Bearer');
  // 429 and 503 may say when to come back; the Globus SDKs honour Retry-After.
  const retryAfter = err.details?.['retryAfterSeconds'];
  if (typeof retryAfter === 'number' && Number.isInteger(retryAfter) && retryAfter >= 0) void reply.header('Retry-After', String(retryAfter));
  return reply.code(err.status).type('application/json').send(doc);
}

/** Translate fastify's own errors (body parsing, sizes) into the Globus shapes. */
function fromFastifyError(err: FastifyError): FerryError {
  switch (err.code) {
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return new FerryError('ClientError.BadRequest', `request body is not valid JSON: ${err.message}`);
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return new FerryError('ClientError.BadRequest', `request body must be application/json: ${err.message}`);
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new FerryError('ClientError.PayloadTooLarge', 'request body is too large');
    default:
      if (typeof err.statusCode === 'number' && err.statusCode >= 400 && err.statusCode < 500) {
        return new FerryError('ClientError.BadRequest', err.message);
      }
      return new FerryError('InternalError', 'internal error');
  }
}

/**
 * Every error leaves as a Globus error document; unknown routes answer ClientError.NotFound,
 * known routes with the wrong verb ClientError.BadMethod.
 */
export function installErrorHandlers(app: Api, knownRoutes: () => Array<{ pattern: RegExp }>): void {
  app.setErrorHandler((err: FastifyError | FerryError, req, reply) => {
    if (isFerryError(err)) {
      if (err.status >= 500) req.log.warn({ code: err.code, reason: err.message }, 'request failed');
      return sendError(req, reply, err);
    }
    const mapped = fromFastifyError(err as FastifyError);
    if (mapped.code === 'InternalError') req.log.error({ err }, 'unhandled error');
    return sendError(req, reply, mapped);
  });
  app.setNotFoundHandler((req, reply) => {
    const path = resourceOf(req);
    const exists = knownRoutes().some((r) => r.pattern.test(path));
    const err = exists
      ? new FerryError('ClientError.BadMethod', `${req.method} is not allowed on ${path}`)
      : new FerryError('ClientError.NotFound', `no such resource: ${path}`);
    return sendError(req, reply, err);
  });
}
