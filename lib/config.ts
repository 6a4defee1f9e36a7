/**
 * Configuration is read once, at cold start, into a frozen object. A missing variable
 * fails the cold start naming the variable, not record 7 of a batch.
 */
export interface Tables {
  readonly workspaces: string;
  readonly users: string;
  readonly cohorts: string;
}

const required = (env: NodeJS.ProcessEnv, name: string): string => {
  const value = env[name];
  if (value === undefined || value.trim() === '') {
    throw new Error(`Missing required environment variable ${name}`);
  }
  return value;
};

export const readTables = (env: NodeJS.ProcessEnv = process.env): Tables =>
  Object.freeze({
    workspaces: required(env, 'WORKSPACES_TABLE'),
    users: required(env, 'USERS_TABLE'),
    cohorts: required(env, 'COHORTS_TABLE'),
  });

export const readQueueUrl = (env: NodeJS.ProcessEnv = process.env): string => required(env, 'COHORT_QUEUE_URL');

/** RATE_LIMIT_PER_HOUR: requests per hour per partner and workspace (default: the contract's 250,000). */
export const readRequestsPerHour = (env: NodeJS.ProcessEnv = process.env): number | undefined => {
  const raw = env.RATE_LIMIT_PER_HOUR;
  if (raw === undefined || raw === '') return undefined;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 1)
    throw new Error(`RATE_LIMIT_PER_HOUR must be a positive integer, got ${raw}`);
  return value;
};

export const readEventsTopicArn = (env: NodeJS.ProcessEnv = process.env): string =>
  required(env, 'MEMBERSHIP_EVENTS_TOPIC_ARN');

export const readExportsConfig = (env: NodeJS.ProcessEnv = process.env) =>
  Object.freeze({ bucket: required(env, 'EXPORTS_BUCKET'), queueUrl: required(env, 'EXPORT_QUEUE_URL') });

export const readCurrentsQueueUrl = (env: NodeJS.ProcessEnv = process.env): string =>
  required(env, 'CURRENTS_QUEUE_URL');

/** KEY_PEPPER_SECRET_ARN: the Secrets Manager secret whose value peppers key hashes (ingest, api). */
export const readKeyPepperSecretId = (env: NodeJS.ProcessEnv = process.env): string =>
  required(env, 'KEY_PEPPER_SECRET_ARN');

/** CONNECTOR_TOKEN_SECRET_ARN: the Secrets Manager secret whose value seals Currents connector tokens (currents). */
export const readConnectorTokenSecretId = (env: NodeJS.ProcessEnv = process.env): string =>
  required(env, 'CONNECTOR_TOKEN_SECRET_ARN');
