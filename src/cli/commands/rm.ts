import { Argument, InvalidArgumentError, Option, type Command } from 'commander';
import { isFerryError } from '../../common/errors.js';
import { isUuid } from '../../common/ids.js';
import { ENDPOINT_PATH_HELP, parseEndpointPath, type EndpointPath } from '../endpoint-path.js';
import { EXIT } from '../exit-codes.js';
import { formatOption } from '../output.js';
import type { DeleteSubmission } from '../task-client.js';
import { addWaitOptions, defaultTaskDeps, submitAndReport, WAIT_HELP, type SubmitCliOptions, type TaskCommandDeps } from './task.js';
import { checkLabel } from './transfer.js';

/** `ferry rm ENDPOINT_ID:PATH`: submit a delete task (globus-api.md §1.2 "Submit a delete"). */

const EXAMPLE_ID = '2f4e7a3c-0d5b-4b8e-9c4a-1e2f3a4b5c6d';

export interface RmCliOptions extends SubmitCliOptions {
  recursive?: boolean;
  ignoreMissing?: boolean;
  label?: string;
}

export function buildDelete(target: EndpointPath, opts: Pick<RmCliOptions, 'recursive' | 'ignoreMissing' | 'label'>): DeleteSubmission {
  return {
    endpoint: target.endpointId,
    // Globus requires recursive for a directory; a file is deleted either way.
    recursive: opts.recursive === true,
    ...(opts.ignoreMissing ? { ignore_missing: true } : {}),
    ...(opts.label === undefined ? {} : { label: opts.label }),
    DATA: [{ DATA_TYPE: 'delete_item', path: target.path }],
  };
}

function targetArg(): Argument {
  return new Argument('<ENDPOINT_ID:PATH>', 'the file or directory to delete').argParser((value: string) => {
    try {
      return parseEndpointPath(value, { requirePath: true });
    } catch (err) {
      if (isFerryError(err)) throw new InvalidArgumentError(err.message);
      throw err;
    }
  });
}

export function registerRmCommand(program: Command, given: Partial<TaskCommandDeps> = {}): void {
  const deps: TaskCommandDeps = { ...defaultTaskDeps, ...given };
  const cmd = program.command('rm')
    .description('delete a file or directory on an endpoint, as a task (prints the task ID)')
    .addArgument(targetArg())
    .option('-r, --recursive', 'delete a directory and everything in it')
    .option('-f, --ignore-missing', 'succeed even if the path does not exist')
    .addOption(new Option('--label <LABEL>', 'a name for the task, shown by `ferry task list`').argParser(checkLabel))
    .option('--submission-id <ID>', 'reuse the submission ID of an earlier attempt, so at most one task is created')
    .option('--wait', 'wait for the delete to finish');
  addWaitOptions(cmd)
    .addOption(formatOption())
    .addHelpText('after', `\n${ENDPOINT_PATH_HELP}\n\nA directory needs --recursive. Symbolic links are deleted, never followed.\n` +
      `The task ID goes to stdout, so scripts can capture it.\nWith --wait:\n  ${WAIT_HELP.replace(/\n/g, '\n  ')}\n\n` +
      `Examples:\n  $ ferry rm ${EXAMPLE_ID}:/~/old.csv\n  $ ferry rm -r --wait ${EXAMPLE_ID}:/~/scratch/run3\n`)
    .action(async (target: EndpointPath, opts: RmCliOptions, self: Command) => {
      const usage = (msg: string): never => self.error(`error: ${msg}`, { exitCode: EXIT.usage, code: 'ferry.invalidArgument' });
      if ((opts.timeout !== undefined || self.getOptionValueSource('pollingInterval') === 'cli') && !opts.wait) usage('--timeout and --polling-interval need --wait');
      if (opts.submissionId !== undefined && !isUuid(opts.submissionId)) usage(`--submission-id must be a UUID, got '${opts.submissionId}'`);
      const doc = buildDelete(target, opts);
      await submitAndReport(deps, 'delete', opts, (tasks, sid) => tasks.submitDelete(sid, doc));
    });
}
