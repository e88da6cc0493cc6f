import type { AccessDocument, AccessListDocument, EndpointCreateResult, EndpointListDocument, RoleDocument, RoleListDocument } from './api-client.js';
import { safeText, table } from './output.js';

/**
 * Text rendering for `ferry share | acl | role` (pure: documents in, strings out). Ids that
 * scripts capture go to stdout alone; the explanations beside them are notes for stderr.
 */

const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);

/** `ferry share list`: id, display name, host endpoint, host path. */
export function formatShareList(list: EndpointListDocument): string {
  if (list.DATA.length === 0) return 'No guest collections found.\n';
  const rows = [['ID', 'Display Name', 'Host Endpoint', 'Host Path']];
  for (const ep of list.DATA) {
    rows.push([
      ep.id,
      safeText(str(ep.display_name) ?? '-'),
      safeText(str(ep['host_endpoint_id']) ?? str(ep['host_endpoint']) ?? '-'),
      safeText(str(ep['host_path']) ?? '-'),
    ]);
  }
  const more = list.has_next_page ? '(more guest collections exist than shown)\n' : '';
  return table(rows) + more;
}

/** `ferry share create`, on stderr after the id: what was made and what to do next. */
export function shareCreatedNote(result: EndpointCreateResult, hostEndpointId: string, hostPath: string): string {
  return [
    `ferry: created guest collection ${result.id} sharing ${hostEndpointId}:${safeText(hostPath)}`,
    'ferry: nobody else can use it yet; grant access with, for example:',
    `ferry:   ferry acl add ${result.id} --identity USERNAME --path / --permissions r`,
  ].join('\n') + '\n';
}

/** Who a principal is, for people: the username where Auth gave one. */
function principalText(type: string, principal: string, usernames: ReadonlyMap<string, string>): string {
  if (type === 'all_authenticated_users' || type === 'anonymous') return '-';
  if (type === 'identity') return safeText(usernames.get(principal.toLowerCase()) ?? principal);
  return safeText(principal || '-');
}

/** Globus sends `2026-05-01T12:00:00+00:00`; show `2026-05-01 12:00` (UTC). */
function when(value: unknown): string {
  const v = str(value);
  if (v === undefined) return '-';
  const m = /^(\d{4}-\d{2}-\d{2})[ T](\d{2}:\d{2})/.exec(v);
  return m ? `${m[1]} ${m[2]}` : safeText(v);
}

/** `ferry acl list`: implicit entries of role holders (id null) show as "(role)". */
export function formatAccessList(list: AccessListDocument, usernames: ReadonlyMap<string, string> = new Map()): string {
  if (list.DATA.length === 0) return 'No access rules.\n';
  const rows = [['Rule ID', 'Principal Type', 'Principal', 'Path', 'Permissions', 'Expires']];
  for (const rule of list.DATA) {
    rows.push([
      rule.id === null || rule.id === undefined ? '(role)' : safeText(String(rule.id)),
      safeText(rule.principal_type),
      principalText(rule.principal_type, rule.principal, usernames),
      safeText(rule.path),
      safeText(rule.permissions),
      when(rule.expiration_date),
    ]);
  }
  return table(rows);
}

/** `ferry acl add`, on stderr after the id. */
export function accessCreatedNote(accessId: string, shareId: string, rule: Pick<AccessDocument, 'principal_type' | 'path' | 'permissions'>, who: string): string {
  const whom = rule.principal_type === 'all_authenticated_users' ? 'anyone signed in'
    : rule.principal_type === 'anonymous' ? 'anyone, signed in or not' : `${rule.principal_type} ${safeText(who)}`;
  const right = rule.permissions === 'rw' ? 'read and write' : 'read';
  return `ferry: access rule ${safeText(accessId)} lets ${whom} ${right} ${safeText(rule.path)} on ${shareId}; remove it with: ferry acl rm ${shareId} ${safeText(accessId)}\n`;
}

/** `ferry role list`. */
export function formatRoleList(list: RoleListDocument, usernames: ReadonlyMap<string, string> = new Map()): string {
  if (list.DATA.length === 0) return 'No roles.\n';
  const rows = [['Role ID', 'Principal Type', 'Principal', 'Role']];
  for (const r of list.DATA) {
    rows.push([safeText(String(r.id)), safeText(r.principal_type), principalText(r.principal_type, r.principal, usernames), safeText(r.role)]);
  }
  return table(rows);
}

/** `ferry role add`, on stderr after the id. */
export function roleCreatedNote(doc: RoleDocument, endpointId: string, who: string): string {
  return `ferry: ${doc.principal_type} ${safeText(who)} is now ${safeText(doc.role)} of ${endpointId}; remove it with: ferry role rm ${endpointId} ${safeText(String(doc.id))}\n`;
}

/** Identity principals of a list, for one username lookup. */
export function identityPrincipals(entries: ReadonlyArray<{ principal_type: string; principal: string }>): string[] {
  return entries.filter((e) => e.principal_type === 'identity' && e.principal !== '').map((e) => e.principal);
}
