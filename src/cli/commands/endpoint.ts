import { Argument, InvalidArgumentError, Option, type Command } from 'commander';
import { isUuid } from '../../common/ids.js';
import { defaultClientDeps, withClient, type ClientCommandDeps } from '../client-config.js';
import { formatEndpoint, formatEndpointCreated, formatEndpointList, formatJson, formatOption, formatResult, type OutputFormat } from '../output.js';

/** `ferry endpoint create | show | search | delete` (globus-api.md §1.4, §5). */

export const SEARCH_SCOPES = ['my-endpoints', 'all'] as const;

function endpointIdArg(): Argument {
  return new Argument('<ENDPOINT_ID>', 'the endpoint\'s UUID').argParser((value: string) => {
    if (!isUuid(value)) throw new InvalidArgumentError(`'${value}' is not an endpoint ID (a UUID such as 2f4e7a3c-0d5b-4b8e-9c4a-1e2f3a4b5c6d)`);
    return value.toLowerCase();
  });
}

export function registerEndpointCommands(program: Command, deps: ClientCommandDeps = defaultClientDeps): void {
  const { io } = deps;
  const endpoint = program.command('endpoint')
    .description('create, show, search and delete endpoints (storage hosts served by an agent)');

  endpoint.command('create')
    .description('register a new endpoint and get the one-time setup key for its agent')
    .requiredOption('--display-name <name>', 'a name people recognise, e.g. "lab-nas"')
    .option('--description <text>', 'a longer description')
    .option('--personal', 'a personal endpoint, like Globus Connect Personal (the default)')
    .option('--no-personal', 'a server endpoint (a storage host run by an administrator)')
    .addOption(formatOption())
    .addHelpText('after', '\nThe output ends with the `ferry agent setup` command to run on the storage host.\n\n' +
      'Example:\n  $ ferry endpoint create --display-name "lab-nas" --description "Lab NAS, /data"\n')
    .action(async (opts: { displayName: string; description?: string; personal?: boolean; format: OutputFormat }) => {
      const result = await withClient(deps, (c) => c.endpointCreate({
        display_name: opts.displayName,
        ...(opts.description === undefined ? {} : { description: opts.description }),
        is_globus_connect: opts.personal !== false,
      }));
      io.out(opts.format === 'json' ? formatJson(result) : formatEndpointCreated(result, opts.displayName));
    });

  endpoint.command('show')
    .description('show one endpoint: name, owner, type, whether its agent is connected')
    .addArgument(endpointIdArg())
    .addOption(formatOption())
    .addHelpText('after', '\nExample:\n  $ ferry endpoint show 2f4e7a3c-0d5b-4b8e-9c4a-1e2f3a4b5c6d\n')
    .action(async (id: string, opts: { format: OutputFormat }) => {
      const doc = await withClient(deps, (c) => c.endpointGet(id));
      io.out(opts.format === 'json' ? formatJson(doc) : formatEndpoint(doc));
    });

  endpoint.command('search')
    .description('find endpoints by name or description')
    .argument('[TEXT]', 'words to look for in names and descriptions')
    .addOption(new Option('--scope <scope>', 'my-endpoints: those you own; all: every endpoint you may see (needs TEXT)')
      .choices(SEARCH_SCOPES))
    .addOption(formatOption())
    .addHelpText('after', '\nWithout TEXT the scope defaults to my-endpoints, with TEXT to all.\n\n' +
      'Examples:\n  $ ferry endpoint search\n  $ ferry endpoint search nas\n')
    .action(async (text: string | undefined, opts: { scope?: string; format: OutputFormat }) => {
      const scope = opts.scope ?? (text ? 'all' : 'my-endpoints');
      const list = await withClient(deps, (c) => c.endpointSearch({ filter_scope: scope, ...(text ? { filter_fulltext: text } : {}) }));
      io.out(opts.format === 'json' ? formatJson(list) : formatEndpointList(list));
    });

  endpoint.command('delete')
    .description('delete an endpoint you own')
    .addArgument(endpointIdArg())
    .addOption(formatOption())
    .addHelpText('after', '\nExample:\n  $ ferry endpoint delete 2f4e7a3c-0d5b-4b8e-9c4a-1e2f3a4b5c6d\n')
    .action(async (id: string, opts: { format: OutputFormat }) => {
      const result = await withClient(deps, (c) => c.endpointDelete(id));
      io.out(opts.format === 'json' ? formatJson(result) : formatResult(result));
    });
}
