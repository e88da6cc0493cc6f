import { Argument, InvalidArgumentError, Option, type Command } from 'commander';
import { FerryError, isFerryError } from '../../common/errors.js';
import { isUuid } from '../../common/ids.js';
import { parseBatch, readBatchText, type BatchItem } from '../batch-file.js';
import { ENDPOINT_PATH_HELP, parseEndpointPath } from '../endpoint-path.js';
import { EXIT } from '../exit-codes.js';
import { formatJson, formatOption, safeText, table } from '../output.js';
import { SYNC_LEVELS, type FilterRuleDoc, type SyncLevelName, type TransferItemDoc, type TransferSubmission } from '../task-client.js';
import { addWaitOptions, defaultTaskDeps, intParser, submitAndReport, WAIT_HELP, type SubmitCliOptions, type TaskCommandDeps } from './task.js';

/** `ferry transfer SRC DST`: submit a transfer task (globus-api.md §1.2, §2). */

const SRC_ID = '2f4e7a3c-0d5b-4b8e-9c4a-1e2f3a4b5c6d';
const DST_ID = '7c9d1e2f-3a4b-4c5d-8e6f-7a8b9c0d1e2f';

/** The protocol's session limit (src/protocol/session.ts TransferOptions.parallelism). */
export const MAX_PARALLELISM = 16;
/** Globus label rules (globus-api.md §1.2). */
export const MAX_LABEL_LENGTH = 128;

/** `ID` or `ID:PATH`; `path` is undefined when only the endpoint is named (batch mode). */
export interface TransferEndpointArg { endpointId: string; path: string | undefined }

export function parseTransferEndpoint(value: string): TransferEndpointArg {
  const colon = value.indexOf(':');
  if (colon === -1 || colon === value.length - 1) {
    // parseEndpointPath checks the ID and words the error like the other commands do.
    const { endpointId } = parseEndpointPath(colon === -1 ? value : value.slice(0, colon));
    return { endpointId, path: undefined };
  }
  return parseEndpointPath(value, { requirePath: true });
}

function endpointArg(name: string, description: string): Argument {
  return new Argument(`<${name}>`, description).argParser((value: string) => {
    try {
      return parseTransferEndpoint(value);
    } catch (err) {
      if (isFerryError(err)) throw new InvalidArgumentError(err.message);
      throw err;
    }
  });
}

/** Globus refuses labels with line breaks, edge white space or more than 128 characters. */
export function checkLabel(label: string): string {
  if (label.length === 0 || label.length > MAX_LABEL_LENGTH) throw new InvalidArgumentError(`--label must be 1 to ${MAX_LABEL_LENGTH} characters`);
  if (/[\r\n]/.test(label)) throw new InvalidArgumentError('--label must not contain line breaks');
  if (label.trim() !== label) throw new InvalidArgumentError('--label must not start or end with white space');
  return label;
}

export interface TransferCliOptions extends SubmitCliOptions {
  recursive?: boolean;
  syncLevel?: SyncLevelName;
  verifyChecksum?: boolean;
  encryptData?: boolean;
  preserveMtime?: boolean;
  delete?: boolean;
  parallelism?: number;
  label?: string;
  batch?: string;
  dryRun?: boolean;
  /** --include and --exclude, in the order given on the command line. */
  filterRules?: FilterRuleDoc[];
}

/** Build the submission document; throws FerryError with a usage message on bad input. */
export function buildTransfer(src: TransferEndpointArg, dst: TransferEndpointArg, items: ReadonlyArray<Omit<BatchItem, 'line'>>, opts: TransferCliOptions): TransferSubmission {
  const DATA: TransferItemDoc[] = items.map((it) => ({
    DATA_TYPE: 'transfer_item', source_path: it.sourcePath, destination_path: it.destinationPath,
    // Left out, control detects whether the source is a file or a directory.
    ...(it.recursive === undefined ? {} : { recursive: it.recursive }),
  }));
  if (opts.delete && DATA.every((d) => d.recursive === false)) {
    throw new FerryError('ClientError.BadRequest', '--delete removes extra files from destination directories, so it needs a directory (recursive) transfer');
  }
  if (opts.filterRules?.length && DATA.every((d) => d.recursive === false)) {
    throw new FerryError('ClientError.BadRequest', '--include and --exclude filter the names found in directories, so they need a directory (recursive) transfer');
  }
  return {
    source_endpoint: src.endpointId,
    destination_endpoint: dst.endpointId,
    DATA,
    ...(opts.label === undefined ? {} : { label: opts.label }),
    ...(opts.syncLevel === undefined ? {} : { sync_level: SYNC_LEVELS[opts.syncLevel] }),
    ...(opts.verifyChecksum === undefined ? {} : { verify_checksum: opts.verifyChecksum }),
    ...(opts.encryptData === undefined ? {} : { encrypt_data: opts.encryptData }),
    ...(opts.preserveMtime ? { preserve_timestamp: true } : {}),
    ...(opts.delete ? { delete_destination_extra: true } : {}),
    ...(opts.parallelism === undefined ? {} : { perf_p: opts.parallelism }),
    ...(opts.filterRules?.length ? { filter_rules: opts.filterRules } : {}),
  };
}

/** --dry-run in text: what would be transferred. */
export function formatTransferPlan(doc: TransferSubmission): string {
  const rows = [['Source Path', 'Dest Path', 'Recursive']];
  for (const d of doc.DATA) rows.push([safeText(d.source_path), safeText(d.destination_path), d.recursive === undefined ? 'auto' : d.recursive ? 'yes' : 'no']);
  return `From ${doc.source_endpoint} to ${doc.destination_endpoint}, ${doc.DATA.length} item${doc.DATA.length === 1 ? '' : 's'}:\n` + table(rows);
}

const HELP = `
${ENDPOINT_PATH_HELP}

A source directory's contents go inside the destination directory; a source file is copied to
the destination path. Missing parent directories are created. Without --recursive or
--no-recursive, control detects whether the source is a file or a directory.

--batch FILE (or - for standard input) transfers many paths in one task. Give bare endpoint
IDs (or ID:BASE, and relative paths in the file are joined to BASE). Each line is
  [--recursive | -r | --no-recursive] SOURCE_PATH DEST_PATH
with shell-style quotes for paths with spaces; blank lines and # comments are skipped.

Sync levels (for files that exist on both sides): exists = copy if missing, size = copy if the
sizes differ, mtime = copy if the source is newer, checksum = copy if the contents differ.
Only checksum is safe for re-running a failed transfer.

--include GLOB and --exclude GLOB filter the names met while copying a directory (files and
directories alike; * ? [abc] [!abc]). Rules are tried in the order given and the first match
decides; a name no rule matches is copied, so --include only matters before an --exclude
(e.g. --include '*.h5' --exclude '*'). An excluded directory is skipped whole, and --delete
leaves excluded names on the destination alone.

The task ID goes to stdout (the rest to stderr), so scripts can capture it.
With --wait:\n  ${WAIT_HELP.replace(/\n/g, '\n  ')}

Examples:
  $ ferry transfer ${SRC_ID}:/~/data.csv ${DST_ID}:/~/in/data.csv
  $ ferry transfer -r --sync-level checksum --label "run 7" ${SRC_ID}:/~/run7 ${DST_ID}:/~/runs/run7
  $ ferry transfer --batch files.txt ${SRC_ID} ${DST_ID}:/~/inbox/
  $ task=$(ferry transfer ${SRC_ID}:/~/a ${DST_ID}:/~/a) && ferry task wait "$task"
`;

export function registerTransferCommand(program: Command, given: Partial<TaskCommandDeps> = {}): void {
  const deps: TaskCommandDeps = { ...defaultTaskDeps, ...given };
  // --include and --exclude fill one list so that their interleaving (which decides) is kept.
  const rules: FilterRuleDoc[] = [];
  const filterRule = (method: FilterRuleDoc['method']) => (name: string): FilterRuleDoc[] => {
    if (name === '' || name.includes('/')) throw new InvalidArgumentError('a filter glob matches one name, so it must be non-empty and contain no /');
    rules.push({ DATA_TYPE: 'filter_rule', method, name });
    return rules;
  };
  const cmd = program.command('transfer')
    .description('copy files or directories from one endpoint to another (prints the task ID)')
    .addArgument(endpointArg('SRC_ENDPOINT_ID:PATH', 'what to copy (with --batch: the source endpoint ID)'))
    .addArgument(endpointArg('DST_ENDPOINT_ID:PATH', 'where to put it (with --batch: the destination endpoint ID)'))
    .option('-r, --recursive', 'the source is a directory: copy all of it')
    .option('--no-recursive', 'the source is a single file')
    .addOption(new Option('--sync-level <LEVEL>', 'skip files the destination already has (see below)').choices(Object.keys(SYNC_LEVELS)))
    .option('--verify-checksum', 're-read and compare checksums after each file is written')
    .option('--no-verify-checksum', 'do not re-read files after writing')
    .option('--encrypt-data', 'encrypt the data streams (the default)')
    .option('--no-encrypt-data', 'send file data in clear text, each chunk with a MAC (faster; readable on the network; an endpoint with force_encryption overrides it)')
    .option('--preserve-mtime', 'give copied files the source\'s modification times')
    .option('--delete', 'delete destination files that are not in the source directory')
    .addOption(new Option('--include <GLOB>', 'copy names matching GLOB (repeatable; rules apply in order, first match wins)').argParser(filterRule('include')))
    .addOption(new Option('--exclude <GLOB>', 'skip names matching GLOB, and whole directories (repeatable)').argParser(filterRule('exclude')))
    .addOption(new Option('--parallelism <N>', 'data streams between the agents (default 4, more on a lossy path when the source agent has no bbr; a number given here is kept)').argParser(intParser('--parallelism', 1, MAX_PARALLELISM)))
    .addOption(new Option('--label <LABEL>', 'a name for the task, shown by `ferry task list`').argParser(checkLabel))
    .option('--batch <FILE>', 'read SOURCE_PATH DEST_PATH lines from FILE (- for standard input)')
    .option('--submission-id <ID>', 'reuse the submission ID of an earlier attempt, so at most one task is created')
    .option('--dry-run', 'show what would be transferred; submit nothing')
    .option('--wait', 'wait for the task to finish, showing progress');
  addWaitOptions(cmd)
    .addOption(formatOption())
    .addHelpText('after', HELP)
    .action(async (src: TransferEndpointArg, dst: TransferEndpointArg, opts: TransferCliOptions, self: Command) => {
      const usage = (msg: string): never => self.error(`error: ${msg}`, { exitCode: EXIT.usage, code: 'ferry.invalidArgument' });
      if ((opts.timeout !== undefined || self.getOptionValueSource('pollingInterval') === 'cli') && !opts.wait) usage('--timeout and --polling-interval need --wait');
      if (opts.submissionId !== undefined && !isUuid(opts.submissionId)) usage(`--submission-id must be a UUID, got '${opts.submissionId}'`);
      let items: Array<Omit<BatchItem, 'line'>>;
      if (opts.batch !== undefined) {
        if (opts.recursive !== undefined) usage('with --batch, put --recursive or --no-recursive on the lines of the batch file that need it');
        try {
          const text = await readBatchText(opts.batch, deps.stdin);
          items = parseBatch(text, { source: src.path, destination: dst.path }, opts.batch === '-' ? 'standard input' : opts.batch);
        } catch (err) {
          if (isFerryError(err)) return usage(err.message);
          throw err;
        }
      } else {
        if (src.path === undefined || dst.path === undefined) {
          return usage('give SRC_ENDPOINT_ID:PATH and DST_ENDPOINT_ID:PATH, or endpoint IDs with --batch FILE');
        }
        items = [{ sourcePath: src.path, destinationPath: dst.path, recursive: opts.recursive }];
      }
      let doc: TransferSubmission;
      try {
        doc = buildTransfer(src, dst, items, { ...opts, filterRules: rules });
      } catch (err) {
        if (isFerryError(err)) return usage(err.message);
        throw err;
      }
      if (opts.dryRun) {
        deps.io.out(opts.format === 'json' ? formatJson({ DATA_TYPE: 'transfer', ...doc }) : formatTransferPlan(doc));
        return;
      }
      await submitAndReport(deps, 'transfer', opts, (tasks, sid) => tasks.submitTransfer(sid, doc));
    });
}
