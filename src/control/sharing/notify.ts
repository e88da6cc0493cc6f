import type { AccessRuleRecord, EndpointRecord, IdentityRecord } from '../store/index.js';

/**
 * The e-mail a grantee gets when a rule is created with notify_email (globus-api.md §3): which
 * collection, which folder, what access, who granted it, and the granter's own words.
 */
export function accessGrantMessage(input: {
  collection: EndpointRecord;
  rule: AccessRuleRecord;
  granter: IdentityRecord | undefined;
  note: string | null | undefined;
  publicUrl: string;
}): { subject: string; body: string } {
  const who = input.granter ? `${input.granter.name ?? input.granter.username} (${input.granter.username})` : 'A Ferry user';
  const access = input.rule.permissions === 'rw' ? 'read and write' : 'read';
  const lines = [
    `${who} has given you ${access} access to the folder ${input.rule.path} of the guest collection "${input.collection.displayName}".`,
    '',
    `Collection id: ${input.collection.id}`,
  ];
  if (input.publicUrl) lines.push(`Ferry: ${input.publicUrl}`);
  if (input.rule.expirationDate !== null) lines.push(`The access expires at ${new Date(input.rule.expirationDate).toISOString()}.`);
  if (input.note) lines.push('', `Message from ${input.granter?.username ?? 'the granter'}:`, input.note);
  return { subject: `${input.granter?.username ?? 'Someone'} shared "${input.collection.displayName}" with you`, body: `${lines.join('\n')}\n` };
}
