import { Argument, InvalidArgumentError, type Command } from 'commander';
import { isFerryError } from '../../common/errors.js';
import { withClient } from '../client-config.js';
import { parseEndpointPath, type EndpointPath } from '../endpoint-path.js';
import { formatJson, formatOption, type OutputFormat } from '../output.js';
import { defaultSharingDeps, EXAMPLE_HOST_ID, uuidArg, type SharingCommandDeps } from '../sharing-args.js';
import { formatShareList, shareCreatedNote } from '../sharing-output.js';

/** `ferry share create | list`: guest collections, Globus's shared endpoints (globus-api.md §1.4, §3). */

/** Control answers at most this many collections per page of endpoint_search. */
const SHARE_LIST_LIMIT = 100;

const ABOUT = `
A guest collection (Globus calls it a shared endpoint) publishes one directory of a host
endpoint to other people without giving them an account on the host. Its / is that
directory; who may read or write what below it is decided by access rules (\`ferry acl\`)
and by roles (\`ferry role\`). Data is read and written as you, the collection's owner, and
the agent on the host only allows directories below a root it marks shareable
(\`ferry agent setup --root PATH:rw:share\`).`;

function hostPathArg(): Argument {
  return new Argument('<HOST_ENDPOINT_ID:PATH>', 'the host endpoint and the directory on it to share').argParser((value: string) => {
    try {
      return parseEndpointPath(value, { requirePath: true });
    } catch (err) {
      if (isFerryError(err)) throw new InvalidArgumentError(err.message);
      throw err;
    }
  });
}

export function registerShareCommands(program: Command, deps: SharingCommandDeps = defaultSharingDeps): void {
  const { io } = deps;
  const share = program.command('share')
    .description('share a directory of an endpoint with other people (guest collections)')
    .addHelpText('after', `${ABOUT}\n\nSee \`ferry share create --help\`, then \`ferry acl --help\`.\n`);

  share.command('create')
    .description('create a guest collection for a directory on a host endpoint (prints its ID)')
    .addArgument(hostPathArg())
    .requiredOption('--display-name <name>', 'a name people will recognise, e.g. "Lab 7 results"')
    .option('--description <text>', 'a longer description')
    .addOption(formatOption())
    .addHelpText('after', `${ABOUT}

HOST_ENDPOINT_ID:PATH is the host endpoint's UUID, a colon, and the directory to share as an
absolute path on that endpoint (/~/ is its default directory). The new collection's ID goes
to stdout (the rest to stderr), so scripts can capture it; nobody but you has access until
you add access rules.

Examples:
  $ ferry share create ${EXAMPLE_HOST_ID}:/~/results/ --display-name "Lab 7 results"
  $ share=$(ferry share create ${EXAMPLE_HOST_ID}:/data/run7/ --display-name run7 --description "Run 7 raw data")
  $ ferry acl add "$share" --identity alice@example.org --path / --permissions r
`)
    .action(async (target: EndpointPath, opts: { displayName: string; description?: string; format: OutputFormat }) => {
      const result = await withClient(deps, (c) => c.sharedEndpointCreate({
        host_endpoint: target.endpointId,
        host_path: target.path,
        display_name: opts.displayName,
        ...(opts.description === undefined ? {} : { description: opts.description }),
      }));
      if (opts.format === 'json') {
        io.out(formatJson(result));
        return;
      }
      io.out(`${result.id}\n`);
      io.err(shareCreatedNote(result, target.endpointId, target.path));
    });

  share.command('list')
    .description('list the guest collections you created (on one host endpoint, or all)')
    .addArgument(uuidArg('HOST_ENDPOINT_ID', 'only those on this host endpoint', 'an endpoint ID', { optional: true, example: EXAMPLE_HOST_ID }))
    .addOption(formatOption())
    .addHelpText('after', `
Shows each collection's ID, display name, host endpoint and the shared directory on it.

Examples:
  $ ferry share list
  $ ferry share list ${EXAMPLE_HOST_ID}
`)
    .action(async (hostId: string | undefined, opts: { format: OutputFormat }) => {
      const list = await withClient(deps, (c) => (hostId === undefined
        ? c.endpointSearch({ filter_scope: 'shared-by-me', limit: SHARE_LIST_LIMIT })
        : c.mySharedEndpointList(hostId)));
      io.out(opts.format === 'json' ? formatJson(list) : formatShareList(list));
    });
}
