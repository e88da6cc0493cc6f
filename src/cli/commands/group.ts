import type { Command } from 'commander';
import { FerryError } from '../../common/errors.js';
import { authCall as call, identityId } from '../auth-api.js';

/** `ferry group …`: Globus Groups v2 through the groups token from `ferry login`. */
const print = (doc: unknown): void => { process.stdout.write(`${JSON.stringify(doc, null, 2)}\n`); };

async function act(groupId: string, action: string, who: string, role?: string): Promise<void> {
  const doc = await call('POST', `/v2/groups/${encodeURIComponent(groupId)}`, { [action]: [{ identity_id: await identityId(who), ...(role ? { role } : {}) }] });
  const errs = doc?.errors?.[action] as Array<{ detail: string }> | undefined;
  if (errs?.length) throw new FerryError('PermissionDenied', errs.map((e) => e.detail).join('; '));
  print(doc[action]);
}

export function registerGroupCommands(program: Command): void {
  const group = program.command('group').description('Globus-style groups (uses the tokens from `ferry login`)');
  group.command('list').description('groups you are an active member of').option('--format <format>', 'text or json', 'text')
    .action(async (opts: { format: string }) => {
      const groups = await call('GET', '/v2/groups/my_groups') as Array<{ id: string; name: string; my_memberships: Array<{ role: string }> }>;
      if (opts.format === 'json') { print(groups); return; }
      for (const g of groups) process.stdout.write(`${g.id}  ${g.name}  (${g.my_memberships.map((m) => m.role).join(', ')})\n`);
    });
  group.command('create <name>').description('create a group; you become its admin').option('--description <text>', 'description')
    
    .action(async (name: string, opts: { description?: string }) => print(await call('POST', '/v2/groups', { name, ...(opts.description ? { description: opts.description } : {}) })));
  group.command('show <group-id>').description('a group with its members and policies')
    .action(async (id: string) => print(await call('GET', `/v2/groups/${encodeURIComponent(id)}?include=memberships,policies`)));
  group.command('delete <group-id>').description('delete a group (admins only)')
    .action(async (id: string) => print(await call('DELETE', `/v2/groups/${encodeURIComponent(id)}`)));
  group.command('add <group-id> <identity>').description('add an identity (id or username) as an active member').option('--role <role>', 'member, manager or admin', 'member')
    .action((id: string, who: string, opts: { role: string }) => act(id, 'add', who, opts.role));
  group.command('invite <group-id> <identity>').description('invite an identity; it joins when it accepts').option('--role <role>', 'member, manager or admin', 'member')
    .action((id: string, who: string, opts: { role: string }) => act(id, 'invite', who, opts.role));
  group.command('remove <group-id> <identity>').description('remove a member')
    .action((id: string, who: string) => act(id, 'remove', who));
  group.command('accept <group-id> <identity>').description('accept an invitation for one of your identities')
    .action((id: string, who: string) => act(id, 'accept', who));
  group.command('leave <group-id> <identity>').description('leave a group with one of your identities')
    .action((id: string, who: string) => act(id, 'leave', who));
}
