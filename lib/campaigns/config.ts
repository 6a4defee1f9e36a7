/**
 * The campaign functions' configuration, read once at cold start (a missing variable fails
 * the cold start naming it).
 */
const required = (env: NodeJS.ProcessEnv, name: string): string => {
  const value = env[name];
  if (value === undefined || value.trim() === '') throw new Error(`Missing required environment variable ${name}`);
  return value;
};

/** What the API needs: the table, the queues API triggers release to, and the allow-list for test sends. */
export const readCampaignsApiConfig = (env: NodeJS.ProcessEnv = process.env) =>
  Object.freeze({
    table: required(env, 'CAMPAIGNS_TABLE'),
    sendQueueUrl: required(env, 'WEBHOOK_SEND_QUEUE_URL'),
    workQueueUrl: required(env, 'CAMPAIGN_WORK_QUEUE_URL'),
    allowList: allowListOf(env),
  });
/**
 * The operator allow-list of webhook destinations that are not public (comma list of hosts,
 * addresses or CIDRs, each optionally :port): the deployed functions and `npm start` read it
 * from the same variable.
 */
export const allowListOf = (env: NodeJS.ProcessEnv = process.env) =>
  (env.WEBHOOK_ALLOWED_DESTINATIONS ?? '')
    .split(',')
    .map((entry) => entry.trim())
    .filter(Boolean);

export const readCampaignsConfig = (env: NodeJS.ProcessEnv = process.env) =>
  Object.freeze({
    table: required(env, 'CAMPAIGNS_TABLE'),
    sendQueueUrl: required(env, 'WEBHOOK_SEND_QUEUE_URL'),
    workQueueUrl: required(env, 'CAMPAIGN_WORK_QUEUE_URL'),
    /** Operator allow-list of webhook destinations (comma list of hosts, addresses or CIDRs, each optionally :port). */
    allowList: allowListOf(env),
  });
