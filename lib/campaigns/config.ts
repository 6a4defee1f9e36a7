/**
 * The campaign functions' configuration, read once at cold start (a missing variable fails
 * the cold start naming it).
 */
const required = (env: NodeJS.ProcessEnv, name: string): string => {
  const value = env[name];
  if (value === undefined || value.trim() === '') throw new Error(`Missing required environment variable ${name}`);
  return value;
};

export const readCampaignsConfig = (env: NodeJS.ProcessEnv = process.env) =>
  Object.freeze({
    table: required(env, 'CAMPAIGNS_TABLE'),
    sendQueueUrl: required(env, 'WEBHOOK_SEND_QUEUE_URL'),
    workQueueUrl: required(env, 'CAMPAIGN_WORK_QUEUE_URL'),
    /** Operator allow-list of webhook destinations (comma list of hosts, addresses or CIDRs, each optionally :port). */
    allowList: (env.WEBHOOK_ALLOWED_DESTINATIONS ?? '')
      .split(',')
      .map((entry) => entry.trim())
      .filter(Boolean),
  });
