import { Agent, request, type RequestOptions } from 'node:https';
import type { IncomingMessage } from 'node:http';
import { FerryError, isErrorCode, type ErrorCode } from '../common/errors.js';
import type { FileDoc } from '../protocol/file-doc.js';

/**
 * A thin client of control's REST API (the Globus Transfer API v0.10 subset, globus-api.md §0
 * and §1). The CLI and the integration tests both drive control through it, so it knows
 * nothing about terminals, config files or exit codes.
 */

/** Limits a caller may override (tests use small ones). */
export const API_CLIENT_DEFAULTS = {
  /** Longest silence on the socket while waiting for an answer; control gives up on an agent after 30 s by default. */
  timeoutMs: 120_000,
  /** An ls of 100,000 entries is about 30 MB of JSON; anything far larger is a broken server. */
  maxResponseBytes: 256 * 1024 * 1024,
};

export interface ApiClientOptions {
  /** Control's base URL, e.g. https://127.0.0.1:7750 */
  url: string;
  /** OAuth2 bearer token; omitted for the few calls that need none. */
  token?: string;
  /** PEM of the CA that issued control's certificate; the system trust store when omitted. */
  ca?: string;
  timeoutMs?: number;
  maxResponseBytes?: number;
}

export type QueryValue = string | number | boolean | undefined | readonly string[];

export interface RequestParams {
  query?: Record<string, QueryValue>;
  body?: unknown;
}

/** The Globus error document (globus-api.md §0). */
export interface ErrorDocument { code: string; message: string; request_id?: string; resource?: string }

/**
 * An error answered by control. `remoteCode` keeps the exact Globus code (which may be outside
 * our catalog, e.g. 'ExternalError.DirListingFailed.LoginFailed'); `code` is the nearest
 * catalog code, so exit codes and retry decisions still work.
 */
export class RemoteError extends FerryError {
  readonly remoteCode: string;
  readonly httpStatus: number;
  readonly requestId: string | undefined;
  readonly resource: string | undefined;

  constructor(httpStatus: number, doc: ErrorDocument) {
    super(catalogCodeFor(doc.code, httpStatus), doc.message);
    this.name = 'RemoteError';
    this.remoteCode = doc.code;
    this.httpStatus = httpStatus;
    this.requestId = doc.request_id;
    this.resource = doc.resource;
  }
}

export function isRemoteError(err: unknown): err is RemoteError {
  return err instanceof RemoteError;
}

const STATUS_FALLBACK: Record<number, ErrorCode> = {
  400: 'ClientError.BadRequest', 401: 'ClientError.AuthenticationFailed', 403: 'PermissionDenied',
  404: 'ClientError.NotFound', 405: 'ClientError.BadMethod', 409: 'ClientError.Conflict',
  413: 'ClientError.PayloadTooLarge', 503: 'ServiceUnavailable', 504: 'ExternalError.Timeout',
};

export function catalogCodeFor(remoteCode: string, httpStatus: number): ErrorCode {
  // Globus nests the cause under the operation ('ExternalError.DirListingFailed.GCDisconnected');
  // the CLI treats them all as the one "agent not connected" condition (exit code, retries).
  if (remoteCode.endsWith('.GCDisconnected')) return 'ExternalError.GCDisconnected';
  if (isErrorCode(remoteCode)) return remoteCode;
  return STATUS_FALLBACK[httpStatus] ?? (httpStatus >= 400 && httpStatus < 500 ? 'BadRequest' : 'InternalError');
}

// ---- Globus documents the helpers return (only the fields Ferry relies on are spelled out) ----

export interface ResultDocument { DATA_TYPE: string; code: string; message: string; request_id?: string; resource?: string }

export interface FileListDocument {
  DATA_TYPE: 'file_list'; endpoint: string; path: string; absolute_path?: string | null;
  length: number; total: number; DATA: FileDoc[];
}

export interface EndpointDocument {
  DATA_TYPE: 'endpoint'; id: string; display_name: string | null; description?: string | null;
  owner_id?: string | null; owner_string?: string | null; entity_type?: string | null;
  is_globus_connect?: boolean; gcp_connected?: boolean | null; gcp_paused?: boolean | null;
  default_directory?: string | null; [field: string]: unknown;
}

export interface EndpointListDocument {
  DATA_TYPE: 'endpoint_list'; DATA: EndpointDocument[]; limit?: number; offset?: number; has_next_page?: boolean;
}

export interface EndpointCreateResult extends ResultDocument {
  DATA_TYPE: 'endpoint_create_result'; id: string; globus_connect_setup_key: string | null;
}

export interface EndpointCreateInput {
  display_name: string; description?: string; is_globus_connect?: boolean; [field: string]: unknown;
}

export interface EndpointSearchQuery { filter_fulltext?: string; filter_scope?: string; limit?: number; offset?: number }

export interface LsQuery {
  path?: string; show_hidden?: boolean; limit?: number; offset?: number; orderby?: string; filter?: string | readonly string[];
}

// ---- Sharing documents (globus-api.md §1.4 guest collections, §1.5 access rules, §3) ----

export type AccessPrincipalType = 'identity' | 'group' | 'all_authenticated_users' | 'anonymous';
export type AccessPermissions = 'r' | 'rw';
export type RolePrincipalType = 'identity' | 'group';

export interface SharedEndpointCreateInput {
  /** The host endpoint's id; Globus docs and CLI name it host_endpoint (the JS-SDK host_endpoint_id). */
  host_endpoint: string;
  /** The shared directory on the host endpoint ('/~/shared/'). */
  host_path: string;
  display_name: string;
  description?: string;
}

/** One access rule; implicit entries of role holders have `id` null and `role_id` set. */
export interface AccessDocument {
  DATA_TYPE: 'access'; id: string | null; role_id?: string | null; role_type?: string | null;
  principal_type: AccessPrincipalType; principal: string; path: string; permissions: AccessPermissions;
  create_time?: string | null; expiration_date?: string | null; [field: string]: unknown;
}

export interface AccessListDocument { DATA_TYPE: 'access_list'; endpoint?: string; length?: number; DATA: AccessDocument[] }

export interface AccessCreateInput {
  principal_type: AccessPrincipalType; principal: string; path: string; permissions: AccessPermissions;
  expiration_date?: string; notify_email?: string; notify_message?: string;
}

export interface AccessCreateResult extends ResultDocument { DATA_TYPE: 'access_create_result'; access_id: string }

export interface RoleDocument {
  DATA_TYPE: 'role'; id: string; principal_type: RolePrincipalType; principal: string; role: string; [field: string]: unknown;
}

export interface RoleListDocument { DATA_TYPE: 'role_list'; DATA: RoleDocument[] }

export interface RoleCreateInput { principal_type: RolePrincipalType; principal: string; role: string }

const TOKEN_RE = /^[\x21-\x7e]+$/;

export class ApiClient {
  readonly url: string;
  readonly #base: URL;
  readonly #token: string | undefined;
  readonly #agent: Agent;
  readonly #timeoutMs: number;
  readonly #maxResponseBytes: number;

  constructor(opts: ApiClientOptions) {
    let base: URL;
    try {
      base = new URL(opts.url);
    } catch {
      throw new FerryError('Config.Invalid', `control URL '${opts.url}' is not a valid URL`);
    }
    if (base.protocol !== 'https:') throw new FerryError('Config.Invalid', `control URL '${opts.url}' must start with https://`);
    if (opts.token !== undefined && !TOKEN_RE.test(opts.token)) {
      throw new FerryError('Config.Invalid', 'the token contains spaces or characters not allowed in an HTTP header');
    }
    this.url = base.origin + base.pathname.replace(/\/+$/, '');
    this.#base = base;
    this.#token = opts.token;
    this.#timeoutMs = opts.timeoutMs ?? API_CLIENT_DEFAULTS.timeoutMs;
    this.#maxResponseBytes = opts.maxResponseBytes ?? API_CLIENT_DEFAULTS.maxResponseBytes;
    this.#agent = new Agent({ keepAlive: true, ...(opts.ca === undefined ? {} : { ca: opts.ca }) });
  }

  /** Drop the idle keep-alive sockets. Idempotent. */
  close(): void {
    this.#agent.destroy();
  }

  get<T = unknown>(path: string, params: RequestParams = {}): Promise<T> { return this.request<T>('GET', path, params); }
  post<T = unknown>(path: string, params: RequestParams = {}): Promise<T> { return this.request<T>('POST', path, params); }
  put<T = unknown>(path: string, params: RequestParams = {}): Promise<T> { return this.request<T>('PUT', path, params); }
  delete<T = unknown>(path: string, params: RequestParams = {}): Promise<T> { return this.request<T>('DELETE', path, params); }

  // ---- Globus calls (globus-api.md §1.1, §1.4) ----

  endpointCreate(doc: EndpointCreateInput): Promise<EndpointCreateResult> {
    return this.#expect('endpoint_create_result', this.post('/v0.10/endpoint', { body: { ...doc, DATA_TYPE: 'endpoint' } }));
  }

  endpointGet(id: string): Promise<EndpointDocument> {
    return this.#expect('endpoint', this.get(`/v0.10/endpoint/${seg(id)}`));
  }

  endpointSearch(query: EndpointSearchQuery = {}): Promise<EndpointListDocument> {
    return this.#expect('endpoint_list', this.get('/v0.10/endpoint_search', { query: { ...query } }));
  }

  endpointDelete(id: string): Promise<ResultDocument> {
    return this.delete<ResultDocument>(`/v0.10/endpoint/${seg(id)}`);
  }

  ls(endpointId: string, query: LsQuery = {}): Promise<FileListDocument> {
    const { show_hidden, ...rest } = query;
    // JS-SDK sends 'true'/'false'; Globus defaults show_hidden to true when it is absent.
    const q = { ...rest, ...(show_hidden === undefined ? {} : { show_hidden: show_hidden ? 'true' : 'false' }) };
    return this.#expect('file_list', this.get(`/v0.10/operation/endpoint/${seg(endpointId)}/ls`, { query: q }));
  }

  stat(endpointId: string, path: string): Promise<FileDoc> {
    return this.#expect('file', this.get(`/v0.10/operation/endpoint/${seg(endpointId)}/stat`, { query: { path } }));
  }

  mkdir(endpointId: string, path: string): Promise<ResultDocument> {
    return this.post<ResultDocument>(`/v0.10/operation/endpoint/${seg(endpointId)}/mkdir`, { body: { DATA_TYPE: 'mkdir', path } });
  }

  rename(endpointId: string, oldPath: string, newPath: string): Promise<ResultDocument> {
    return this.post<ResultDocument>(`/v0.10/operation/endpoint/${seg(endpointId)}/rename`, {
      body: { DATA_TYPE: 'rename', old_path: oldPath, new_path: newPath },
    });
  }

  // ---- Sharing calls (globus-api.md §1.4, §1.5) ----

  sharedEndpointCreate(doc: SharedEndpointCreateInput): Promise<EndpointCreateResult> {
    return this.#expect('endpoint_create_result', this.post('/v0.10/shared_endpoint', { body: { DATA_TYPE: 'shared_endpoint', ...doc } }));
  }

  /** The caller's guest collections on one host endpoint. */
  mySharedEndpointList(hostEndpointId: string): Promise<EndpointListDocument> {
    return this.#expect('endpoint_list', this.get(`/v0.10/endpoint/${seg(hostEndpointId)}/my_shared_endpoint_list`));
  }

  accessList(endpointId: string): Promise<AccessListDocument> {
    return this.#expect('access_list', this.get(`/v0.10/endpoint/${seg(endpointId)}/access_list`));
  }

  accessCreate(endpointId: string, doc: AccessCreateInput): Promise<AccessCreateResult> {
    return this.#expect('access_create_result', this.post(`/v0.10/endpoint/${seg(endpointId)}/access`, { body: { DATA_TYPE: 'access', ...doc } }));
  }

  accessDelete(endpointId: string, ruleId: string): Promise<ResultDocument> {
    return this.delete<ResultDocument>(`/v0.10/endpoint/${seg(endpointId)}/access/${seg(ruleId)}`);
  }

  roleList(endpointId: string): Promise<RoleListDocument> {
    return this.#expect('role_list', this.get(`/v0.10/endpoint/${seg(endpointId)}/role_list`));
  }

  /** Globus answers with the new role document. */
  roleCreate(endpointId: string, doc: RoleCreateInput): Promise<RoleDocument> {
    return this.#expect('role', this.post(`/v0.10/endpoint/${seg(endpointId)}/role`, { body: { DATA_TYPE: 'role', ...doc } }));
  }

  roleDelete(endpointId: string, roleId: string): Promise<ResultDocument> {
    return this.delete<ResultDocument>(`/v0.10/endpoint/${seg(endpointId)}/role/${seg(roleId)}`);
  }

  async #expect<T>(dataType: string, pending: Promise<unknown>): Promise<T> {
    const doc = await pending;
    const got = doc !== null && typeof doc === 'object' ? (doc as { DATA_TYPE?: unknown }).DATA_TYPE : undefined;
    if (got !== dataType) {
      throw new FerryError('InternalError', `control answered with DATA_TYPE ${JSON.stringify(got)} where '${dataType}' was expected`);
    }
    return doc as T;
  }

  // ---- transport ----

  request<T = unknown>(method: string, path: string, params: RequestParams = {}): Promise<T> {
    const target = this.#resolve(path, params.query);
    const body = params.body === undefined ? undefined : Buffer.from(JSON.stringify(params.body), 'utf8');
    const headers: Record<string, string> = { Accept: 'application/json' };
    if (this.#token !== undefined) headers['Authorization'] = `Bearer ${this.#token}`;
    if (body !== undefined) {
      headers['Content-Type'] = 'application/json';
      headers['Content-Length'] = String(body.length);
    }
    const options: RequestOptions = { method, headers, agent: this.#agent, timeout: this.#timeoutMs };

    return new Promise<T>((resolve, reject) => {
      let settled = false;
      const fail = (err: unknown): void => {
        if (settled) return;
        settled = true;
        req.destroy();
        reject(err);
      };
      const req = request(target, options, (res) => {
        // Callback style on purpose: a failure must settle before the socket's own teardown
        // events (emitted on the next tick) can report it as an unreachable server.
        readBody(res, this.#maxResponseBytes, (err, buf) => {
          if (err) {
            fail(err instanceof FerryError ? err : this.#unreachable(err));
            return;
          }
          if (settled) return;
          settled = true;
          try {
            resolve(interpret(res, buf, method, target) as T);
          } catch (e) {
            reject(e);
          }
        });
      });
      req.on('timeout', () => fail(new FerryError('ServiceUnavailable', `control at ${this.url} did not answer ${method} ${target.pathname} within ${this.#timeoutMs} ms`)));
      req.on('error', (err) => fail(this.#unreachable(err)));
      req.end(body);
    });
  }

  #resolve(path: string, query: Record<string, QueryValue> | undefined): URL {
    if (!path.startsWith('/')) throw new TypeError(`API path must start with '/': ${path}`);
    // Keep a path prefix in the base URL (a reverse proxy), unlike new URL('/x', base).
    const url = new URL(this.#base.pathname.replace(/\/+$/, '') + path, this.#base.origin);
    for (const [key, value] of Object.entries(query ?? {})) {
      if (value === undefined) continue;
      if (Array.isArray(value)) for (const v of value as readonly string[]) url.searchParams.append(key, v);
      else url.searchParams.append(key, String(value));
    }
    return url;
  }

  #unreachable(err: unknown): FerryError {
    const e = err as NodeJS.ErrnoException;
    const reason = e.code ? `${e.code} ${e.message}` : String(e.message ?? err);
    const code = e.code ?? '';
    // Certificate problems are configuration mistakes; say which setting to look at.
    const hint = code === 'ERR_TLS_CERT_ALTNAME_INVALID'
      ? ` (the URL's host is not named in control's certificate; use a name it lists, or add this one to control's tls.extraNames)`
      : /CERT|SSL|SELF_SIGNED|UNABLE_TO_VERIFY|ISSUER|SIGNATURE/i.test(code)
        ? ' (is FERRY_CA / caFile the CA certificate of this control?)'
        : '';
    return new FerryError('ServiceUnavailable', `cannot reach control at ${this.url}: ${reason}${hint}`, { cause: err });
  }
}

function seg(id: string): string {
  return encodeURIComponent(id);
}

function readBody(res: IncomingMessage, limit: number, done: (err: unknown, buf: Buffer) => void): void {
  const chunks: Buffer[] = [];
  let size = 0;
  let finished = false;
  const finish = (err: unknown): void => {
    if (finished) return;
    finished = true;
    done(err, err ? Buffer.alloc(0) : Buffer.concat(chunks));
  };
  res.on('data', (chunk: Buffer) => {
    size += chunk.length;
    if (size > limit) {
      finish(new FerryError('InternalError', `control sent a response larger than ${limit} bytes`));
      res.destroy();
      return;
    }
    chunks.push(chunk);
  });
  res.on('end', () => finish(undefined));
  res.on('error', (err) => finish(err));
  res.on('aborted', () => finish(new Error('the connection closed before the response was complete')));
}

function interpret(res: IncomingMessage, buf: Buffer, method: string, target: URL): unknown {
  const status = res.statusCode ?? 0;
  const text = buf.toString('utf8');
  let doc: unknown;
  let parsed = false;
  if (text.trim() !== '') {
    try {
      doc = JSON.parse(text);
      parsed = true;
    } catch {
      parsed = false;
    }
  }
  if (status >= 200 && status < 300) {
    if (text.trim() === '') return undefined;
    if (!parsed) throw new FerryError('InternalError', `control answered ${method} ${target.pathname} with HTTP ${status} but the body is not JSON`);
    return doc;
  }
  throw new RemoteError(status, errorDocumentFrom(parsed ? doc : undefined, status, res.statusMessage, text));
}

/** Globus error document, the Auth API's `{errors:[...]}` form, or whatever a proxy sent. */
function errorDocumentFrom(doc: unknown, status: number, statusMessage: string | undefined, text: string): ErrorDocument {
  const o = (doc !== null && typeof doc === 'object' ? doc : {}) as Record<string, unknown>;
  const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);
  const first = Array.isArray(o['errors']) ? (o['errors'][0] as Record<string, unknown> | undefined) : undefined;
  const code = str(o['code']) ?? str(first?.['code']) ?? str(o['error']);
  const message = str(o['message']) ?? str(first?.['detail']) ?? str(o['error_description']);
  if (code !== undefined) {
    return { code, message: message ?? `HTTP ${status}`, request_id: str(o['request_id']), resource: str(o['resource']) };
  }
  const snippet = text.replace(/\s+/g, ' ').trim().slice(0, 200);
  return {
    code: catalogCodeFor('', status),
    message: `HTTP ${status} ${statusMessage ?? ''}`.trim() + (snippet ? `: ${snippet}` : ' with no error document'),
  };
}
