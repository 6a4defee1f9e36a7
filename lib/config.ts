/**
 * Configuration is read once, at cold start, into a frozen object. A missing variable
 * fails the cold start naming the variable, not record 7 of a batch.
 */
export interface Tables {
  readonly workspaces: string;
  readonly users: string;
  readonly cohorts: string;
}

export interface ServiceConfig {
  readonly tables: Tables;
  readonly cohortQueueUrl: string;
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
