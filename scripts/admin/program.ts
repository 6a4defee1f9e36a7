/**
 * The operator CLI as a program: its commands, global options and help, and how it
 * connects and explains errors (scripts/admin.ts runs it; tests read its help in-process).
 */
import type { Program } from './cli.js';
import { COMMANDS, MAX_GRACE_SECONDS } from './commands.js';
import { connect, DEFAULT_STACK_FILE, explain, INVOCATION, type Target } from './target.js';

export const program: Program<Target> = {
  invocation: INVOCATION,
  description:
    'Operator CLI of the Heap → Braze cohort import: workspaces and their keys, partners, dead-letter queues, membership events, Currents connectors.',
  globalOptions: {
    local: { type: 'boolean', description: 'act on the local stack that `npm start` runs, instead of AWS' },
    'stack-file': {
      type: 'string',
      placeholder: 'path',
      description: `with --local: where \`npm start\` described the stack (default: ${DEFAULT_STACK_FILE})`,
    },
    stage: {
      type: 'string',
      placeholder: 'stage',
      description: 'the deployed stage to act on (default: $STAGE, else dev)',
    },
    region: {
      type: 'string',
      placeholder: 'region',
      description: 'its AWS region (default: $AWS_REGION, else the AWS profile’s region)',
    },
    json: {
      type: 'boolean',
      description:
        'print one JSON document on stdout and nothing else (use `npm run -s admin`, so npm prints no banner)',
    },
    debug: { type: 'boolean', description: 'print the stack trace of an error' },
    help: { type: 'boolean', description: 'describe the command and its options (also -h, or `help <command>`)' },
  },
  commands: COMMANDS,
  footer: [
    `\`${INVOCATION} <command> --help\` describes a command and its options.`,
    'Credentials come from the usual AWS chain (AWS_PROFILE, `aws configure`, `aws sso login`).',
    `Keys are printed once. Destructive steps refuse without --force (a rotated key's grace is 0 to ${MAX_GRACE_SECONDS} s).`,
    'Exit status: 0 done; 1 failed (the message says why and what to do); 2 the command line was refused (unknown command or option, a bad value, a destructive step without --force).',
  ].join('\n'),
  connect,
  explain,
};
