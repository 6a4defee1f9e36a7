/**
 * What the operator CLI acts on: a deployed stage on AWS (names from the stage, credentials
 * and region from the usual AWS chain), or the local stack that `npm start` runs (endpoints
 * and names from its stack file), and the one line to say when talking to either fails.
 */
import { readFileSync } from 'node:fs';
import { GetQueueUrlCommand, type SQSClient } from '@aws-sdk/client-sqs';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { createDocumentClient, createSqsClient } from '../../lib/aws/clients.js';
import { createSecretsProvider, stageSecrets } from '../../lib/aws/secrets.js';
import { readLocalSecrets } from '../../local/secrets.js';
import type { ServiceSecrets } from '../../lib/secrets/secret.js';
import type { Tables } from '../../lib/config.js';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '../../local/constants.js';
import { type Args, CliError, UsageError } from './cli.js';

const SERVICE = 'heap-braze-cohort-import';
export const INVOCATION = 'npm run admin --';
export const DEFAULT_STACK_FILE = '.local/stack.json';

/** The queues with a dead-letter queue, by the name that infra/queues.yml gives them after the stage. */
export const QUEUES = {
  'cohort-changes': 'cohort changes accepted (201) but never applied to the cohorts',
  'segment-exports': 'segment export jobs that kept failing',
  currents: 'Currents events whose delivery kept crashing the currents function',
} as const;
export type QueueName = keyof typeof QUEUES;

export interface Target {
  local: boolean;
  /** For messages: "the local stack" or "stage dev". */
  where: string;
  tables: Tables;
  documents: DynamoDBDocumentClient;
  sqs: SQSClient;
  /** `<prefix>-<queue>` and `<prefix>-<queue>-dlq` name the queues, on AWS and locally alike. */
  queuePrefix: string;
  /** Local stack only: the queue subscribed to the membership events topic. */
  watchQueueUrl?: string;
  /** Local stack only. */
  endpoints?: { sqs: string; dynamodb: string };
  /** The key-hash pepper and connector-token key, read only by the commands that hash a key or seal a token. */
  secrets: ServiceSecrets;
}

interface StackFile {
  sqsEndpoint: string;
  dynamoDbEndpoint: string;
  tables: Tables;
  queueUrl: string;
  membershipEventsWatchQueueUrl: string;
  secretsFile?: string;
}

const stackFilePath = (args: Args): string => args.string('stack-file') ?? DEFAULT_STACK_FILE;
const stage = (args: Args): string => args.string('stage') ?? process.env.STAGE ?? 'dev';

/** A command to suggest, as the operator would type it next (with --local if they used it). */
export const suggest = (args: Args, command: string): string =>
  `\`${INVOCATION} ${command}${args.flag('local') ? ' --local' : ''}\``;

export const connect = (args: Args): Target => {
  if (args.flag('local')) {
    for (const name of ['stage', 'region'])
      if (args.string(name) !== undefined)
        throw new UsageError(`--${name} is for AWS, --local for the local stack: drop one of them`);
    let stack: StackFile;
    try {
      stack = JSON.parse(readFileSync(stackFilePath(args), 'utf8')) as StackFile;
    } catch {
      throw new CliError(`no local stack found (${stackFilePath(args)}): run \`npm start\` first, in another terminal`);
    }
    const config = { region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS };
    return {
      local: true,
      where: 'the local stack',
      tables: stack.tables,
      documents: createDocumentClient({ ...config, endpoint: stack.dynamoDbEndpoint }),
      sqs: createSqsClient({ ...config, endpoint: stack.sqsEndpoint }),
      queuePrefix: stack.queueUrl
        .split('/')
        .pop()!
        .replace(/-cohort-changes$/, ''),
      watchQueueUrl: stack.membershipEventsWatchQueueUrl,
      endpoints: { sqs: stack.sqsEndpoint, dynamodb: stack.dynamoDbEndpoint },
      secrets: readLocalSecrets(stack.secretsFile ?? '.local/state/secrets.json'),
    };
  }
  if (args.string('stack-file') !== undefined)
    throw new UsageError('--stack-file describes the local stack: add --local, or drop it to act on AWS');
  const prefix = `${SERVICE}-${stage(args)}`;
  // No region given: the SDK's chain (AWS_REGION, then the profile's region) decides, as for the AWS CLI.
  const region = args.string('region');
  return {
    local: false,
    where: `stage ${stage(args)}${region ? ` in ${region}` : ''}`,
    tables: {
      workspaces: process.env.WORKSPACES_TABLE ?? `${prefix}-workspaces`,
      users: process.env.USERS_TABLE ?? `${prefix}-users`,
      cohorts: process.env.COHORTS_TABLE ?? `${prefix}-cohorts`,
    },
    documents: createDocumentClient({ region }),
    sqs: createSqsClient({ region }),
    queuePrefix: prefix,
    // The stage's Secrets Manager secrets (infra/secrets.yml): reading them takes secretsmanager:GetSecretValue.
    secrets: stageSecrets(createSecretsProvider(new SecretsManagerClient({ region })), prefix),
  };
};

export const queueUrl = async (target: Target, name: string): Promise<string> =>
  (await target.sqs.send(new GetQueueUrlCommand({ QueueName: name }))).QueueUrl!;

const codeOf = (error: unknown): string | undefined => {
  if (typeof error !== 'object' || error === null) return undefined;
  const { code, cause, errors } = error as { code?: unknown; cause?: unknown; errors?: unknown };
  if (typeof code === 'string') return code;
  // Node reports a refused connection to every address of a name as an AggregateError.
  if (Array.isArray(errors)) return errors.map(codeOf).find(Boolean);
  return codeOf(cause);
};

/** One line, what went wrong and what to do, for the errors an operator meets; undefined for the rest. */
export const explain = (error: unknown, args: Args): string | undefined => {
  if (!(error instanceof Error)) return undefined;
  // Powertools wraps what Secrets Manager answered (keys are hashed with the stage's pepper, read first).
  if (error.name === 'GetParameterError' && error.cause instanceof Error) {
    const secretError = error.cause;
    if (secretError.name === 'ResourceNotFoundException')
      return `a secret of stage ${stage(args)} does not exist (${secretError.message}): check --stage and --region (is the stage deployed there, with infra/secrets.yml?)`;
    return explain(secretError, args);
  }
  const { name, message } = error;
  const local = args.flag('local');
  const where = local
    ? 'the local stack'
    : `stage ${stage(args)}${args.string('region') ? ` in ${args.string('region')}` : ''}`;
  if (['ECONNREFUSED', 'ECONNRESET', 'EHOSTUNREACH'].includes(codeOf(error) ?? '') && local)
    return `the local stack does not answer (${codeOf(error)}; ${stackFilePath(args)} is from its last start): start it with \`npm start\` in another terminal`;
  const configure =
    'pass --local to act on the local stack (`npm start`), or configure AWS credentials (AWS_PROFILE, `aws configure` or `aws sso login`) and a region (--region, AWS_REGION or the profile’s)';
  if (name === 'CredentialsProviderError' || /could not load credentials/i.test(message))
    return `no AWS credentials found: ${configure}`;
  if (/region is missing/i.test(message)) return `no AWS region given: ${configure}`;
  if (/^(ExpiredToken|ExpiredTokenException|RequestExpired)$/.test(name))
    return `the AWS credentials have expired (${name}): renew them (\`aws sso login\`, or new keys) and run the command again`;
  if (/^(UnrecognizedClientException|InvalidClientTokenId|InvalidSignatureException|SignatureDoesNotMatch)$/.test(name))
    return `AWS rejected the credentials (${name}): check AWS_PROFILE or the access keys, and that --region is the stage's region`;
  if (/AccessDenied/.test(name))
    return `AWS denied it (${name}: ${message}): use credentials allowed to act on the ${SERVICE}-${stage(args)} tables, queues and secrets`;
  // local/secrets.ts: the stack file names a secrets file that is gone (the stack was reset or moved).
  if (local && /^No secrets file /.test(message))
    return `the local stack's secrets are missing (${message.replace(/: is the local stack running\?$/, '')}): start it with \`npm start\`, or pass the --stack-file of the running one`;
  const missing =
    name === 'ResourceNotFoundException'
      ? 'table'
      : name === 'QueueDoesNotExist' || name === 'AWS.SimpleQueueService.NonExistentQueue'
        ? 'queue'
        : undefined;
  if (missing)
    return `a ${missing} of ${where} does not exist (${message}): ${local ? `${stackFilePath(args)} is stale, restart \`npm start\`` : 'check --stage and --region (is the stage deployed there?)'}`;
  if (name === 'PurgeQueueInProgress')
    return 'a purge of this queue is already running (SQS allows one every 60 s): wait a minute, then count again';
  return undefined;
};
