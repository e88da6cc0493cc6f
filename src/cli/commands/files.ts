import { Argument, InvalidArgumentError, type Command } from 'commander';
import { FerryError, isFerryError } from '../../common/errors.js';
import { isUuid } from '../../common/ids.js';
import { EXIT } from '../exit-codes.js';
import { defaultClientDeps, withClient, type ClientCommandDeps } from '../client-config.js';
import { ENDPOINT_PATH_HELP, normalizePath, parseEndpointPath, type EndpointPath, type ParseEndpointPathOptions } from '../endpoint-path.js';
import { formatJson, formatLs, formatOption, formatResult, formatStat, lsTruncationNote, type OutputFormat } from '../output.js';

/** `ferry ls | mkdir | rename | stat`: Globus file operations on one endpoint (globus-api.md §1.1). */

const EXAMPLE_ID = '2f4e7a3c-0d5b-4b8e-9c4a-1e2f3a4b5c6d';

/** Commander argument parser: bad input is a usage error with the reason, not a remote error. */
function endpointPathArg(name: string, description: string, opts: ParseEndpointPathOptions = {}): Argument {
  return new Argument(`<${name}>`, description).argParser((value: string) => {
    try {
      return parseEndpointPath(value, opts);
    } catch (err) {
      if (isFerryError(err)) throw new InvalidArgumentError(err.message);
      throw err;
    }
  });
}

function helpAfter(examples: string[], note = ''): string {
  return `\n${ENDPOINT_PATH_HELP}\n${note ? `${note}\n` : ''}\nExamples:\n${examples.map((e) => `  $ ${e}`).join('\n')}\n`;
}

/** rename's NEWPATH is a path on the same endpoint; `ID:path` is accepted when ID matches. */
export function parseRenameTarget(value: string, endpointId: string): string {
  const colon = value.indexOf(':');
  if (colon === -1 || !isUuid(value.slice(0, colon))) return normalizePath(value);
  const target = parseEndpointPath(value, { requirePath: true });
  if (target.endpointId !== endpointId) {
    throw new FerryError('ClientError.BadRequest', `rename works within one endpoint: ${target.endpointId} is not ${endpointId}`);
  }
  return target.path;
}

export function registerFileCommands(program: Command, deps: ClientCommandDeps = defaultClientDeps): void {
  const { io } = deps;

  program.command('ls')
    .description('list a directory on an endpoint')
    .addArgument(endpointPathArg('ENDPOINT_ID:PATH', 'the directory to list (default: the endpoint\'s /~/)'))
    .option('-a, --all', 'also show hidden entries (names starting with a dot)')
    .option('-l, --long', 'long listing like `ls -l`: mode, user, group, size, modified (UTC), name')
    .addOption(formatOption())
    .addHelpText('after', helpAfter([
      `ferry ls ${EXAMPLE_ID}:/~/`,
      `ferry ls -la ${EXAMPLE_ID}:/~/results/`,
      `ferry ls --format json ${EXAMPLE_ID}:/data`,
    ], 'Directories are shown with a trailing /; times are UTC.'))
    .action(async (target: EndpointPath, opts: { all?: boolean; long?: boolean; format: OutputFormat }) => {
      const list = await withClient(deps, (c) => c.ls(target.endpointId, { path: target.path, show_hidden: opts.all === true }));
      if (opts.format === 'json') {
        io.out(formatJson(list));
        return;
      }
      io.out(formatLs(list, { long: opts.long === true }));
      const note = lsTruncationNote(list);
      if (note) io.err(note);
    });

  program.command('mkdir')
    .description('create a directory on an endpoint (its parent must exist)')
    .addArgument(endpointPathArg('ENDPOINT_ID:PATH', 'the directory to create', { requirePath: true }))
    .addOption(formatOption())
    .addHelpText('after', helpAfter([`ferry mkdir ${EXAMPLE_ID}:/~/results`]))
    .action(async (target: EndpointPath, opts: { format: OutputFormat }) => {
      const result = await withClient(deps, (c) => c.mkdir(target.endpointId, target.path));
      io.out(opts.format === 'json' ? formatJson(result) : formatResult(result));
    });

  program.command('rename')
    .description('rename or move a file or directory within one endpoint')
    .addArgument(endpointPathArg('ENDPOINT_ID:OLDPATH', 'what to rename', { requirePath: true }))
    .argument('<NEWPATH>', 'its new path on the same endpoint (the new parent directory must exist)')
    .addOption(formatOption())
    .addHelpText('after', helpAfter([
      `ferry rename ${EXAMPLE_ID}:/~/draft.txt /~/final.txt`,
      `ferry rename ${EXAMPLE_ID}:/~/run1 /~/archive/run1`,
    ], 'Quote NEWPATH if it starts with ~, or the shell replaces ~ with your local home directory.'))
    .action(async (source: EndpointPath, newPathArg: string, opts: { format: OutputFormat }, cmd: Command) => {
      let newPath: string;
      try {
        newPath = parseRenameTarget(newPathArg, source.endpointId);
      } catch (err) {
        if (isFerryError(err)) cmd.error(`error: NEWPATH: ${err.message}`, { exitCode: EXIT.usage, code: 'ferry.invalidArgument' });
        throw err;
      }
      const result = await withClient(deps, (c) => c.rename(source.endpointId, source.path, newPath));
      io.out(opts.format === 'json' ? formatJson(result) : formatResult(result));
    });

  program.command('stat')
    .description('show the details of one file or directory on an endpoint')
    .addArgument(endpointPathArg('ENDPOINT_ID:PATH', 'the file or directory', { requirePath: true }))
    .addOption(formatOption())
    .addHelpText('after', helpAfter([`ferry stat ${EXAMPLE_ID}:/~/data.csv`]))
    .action(async (target: EndpointPath, opts: { format: OutputFormat }) => {
      const file = await withClient(deps, (c) => c.stat(target.endpointId, target.path));
      io.out(opts.format === 'json' ? formatJson(file) : formatStat(file));
    });
}
