/**
 * `npm start [-- --reset] [-- --verbose]`: the whole service on this machine, on embedded defaults. Its
 * data (tables, queued messages, topics, the demo workspace and its keys) is kept under
 * LOCAL_DATA_DIR (default .local/state) and found again at the next start; `--reset`
 * deletes it first. Keys are generated on the first start unless fixed through
 * LOCAL_DATA_IMPORT_KEY, LOCAL_PARTNER_API_KEY and LOCAL_REST_API_KEY (which apply when
 * the demo workspace is created; each must carry 256 random bits, as generated keys do).
 * The service secrets (key-hash pepper, connector-token key) are generated into
 * <LOCAL_DATA_DIR>/secrets.json. Ctrl-C stops everything it started.
 */
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { allowListOf } from '../lib/campaigns/config.js';
import { describeStack, startLocalStack } from '../local/stack.js';
import { keyStrengthProblem } from '../lib/workspaces/keys.js';
import { isKnownPartner } from '../lib/workspaces/partners.js';
import { ensureConsoleBuilt } from './console.js';

const { values: flags } = parseArgs({
  options: { reset: { type: 'boolean', default: false }, verbose: { type: 'boolean', default: false } },
});
process.env.POWERTOOLS_METRICS_DISABLED ??= 'true';
process.env.POWERTOOLS_TRACE_ENABLED ??= 'false';
// Quiet by default: the functions' warnings and errors, and what the receivers print (webhooks, Currents); the
// INFO lines (a tick every 10 s, every batch) with --verbose or POWERTOOLS_LOG_LEVEL.
process.env.POWERTOOLS_LOG_LEVEL ??= flags.verbose ? 'INFO' : 'WARN';

const partners = (process.env.LOCAL_PARTNERS ?? 'heap')
  .split(',')
  .map((name) => name.trim())
  .filter(Boolean);
const unknown = partners.filter((name) => !isKnownPartner(name));
if (unknown.length > 0) {
  console.error(`LOCAL_PARTNERS names unknown partners: ${unknown.join(', ')}`);
  process.exit(2);
}

// Unset or empty: generated. Set: refused below 256 bits, before anything starts.
const givenKey = (name: string): string | undefined => {
  const key = process.env[name] || undefined;
  const problem = key === undefined ? undefined : keyStrengthProblem(key);
  if (problem) {
    console.error(`${name} is too weak: ${problem}`);
    process.exit(2);
  }
  return key;
};
const givenKeys = {
  partnerApiKey: givenKey('LOCAL_PARTNER_API_KEY'),
  dataImportKey: givenKey('LOCAL_DATA_IMPORT_KEY'),
  restApiKey: givenKey('LOCAL_REST_API_KEY'),
};

const dataDir = process.env.LOCAL_DATA_DIR ?? '.local/state';
if (flags.reset) {
  await rm(dataDir, { recursive: true, force: true });
  console.log(`--reset: deleted ${dataDir}`);
}

// The console at / (a fresh clone has none built; an edited one is rebuilt).
if ((await ensureConsoleBuilt()) === 'built') console.log('Built the console into dist/console.');
console.log(`Starting the local stack (SQS emulator, DynamoDB Local, HTTP API, sync), data in ${dataDir}…`);
const stack = await startLocalStack({
  port: Number(process.env.PORT ?? 3000),
  host: '127.0.0.1',
  partners,
  ...givenKeys,
  visibilityTimeoutSeconds: Number(process.env.LOCAL_VISIBILITY_TIMEOUT ?? 30),
  printCurrents: true,
  dataDir,
  // Campaign webhooks go to a local receiver that prints them (port 4010 unless taken), or to any destination
  // WEBHOOK_ALLOWED_DESTINATIONS allows (as on AWS); ticks every 10 s.
  campaigns: {
    print: true,
    receiverPort: Number(process.env.LOCAL_WEBHOOK_PORT ?? 4010),
    tickEveryMs: 10_000,
    allowList: allowListOf(process.env),
  },
});

// For `npm run admin -- --local …` while the stack runs (endpoints and names, no keys).
await mkdir('.local', { recursive: true });
await writeFile('.local/stack.json', JSON.stringify(describeStack(stack), null, 2));

const partner = partners[0] ?? 'heap';
console.log(`
Heap → Braze cohort import is running.

  REST endpoint      ${stack.url}
  Workspace          ${stack.workspace.name} (${stack.workspace.workspaceId}), partners: ${partners.join(', ')}
  Partner API key    ${stack.partnerApiKey}
  Data import key    ${stack.workspace.dataImportKey}
  REST API key       ${stack.workspace.restApiKey}
  Console            ${stack.url}/   (sign in with the REST API key above)

  Data               ${dataDir} (kept across restarts; npm start -- --reset for a clean slate)
  SQS emulator       ${stack.sqsEndpoint}   queue ${stack.queues.queueUrl.split('/').pop()} (DLQ after ${stack.queues.maxReceiveCount} receives)
  DynamoDB Local     ${stack.dynamoDbEndpoint}

Try it:
  curl -s -XPOST ${stack.url}/users/track -H 'Authorization: Bearer ${stack.workspace.restApiKey}' \\
    -H 'content-type: application/json' -d '{"attributes":[{"external_id":"user-1"}]}'
  curl -s -XPOST ${stack.url}/partners/${partner}/cohorts/users -H 'content-type: application/json' \\
    -d '{"partner_api_key":"${stack.partnerApiKey}","client_secret":"${stack.workspace.dataImportKey}","cohort_id":"c1","cohort_changes":[{"user_ids":["user-1"]}]}'
  curl -s ${stack.url}/cohorts -H 'Authorization: Bearer ${stack.workspace.restApiKey}'

Membership events: npm run admin -- --local events tail     Exports: ${stack.exports.folder}
Currents: tracked events go to connector ${stack.currents.demoConnectorId} → the Heap stand-in at ${stack.currents.receiver.url} (printed below)
  curl -s -XPOST ${stack.url}/users/track -H 'Authorization: Bearer ${stack.workspace.restApiKey}' -H 'content-type: application/json' \\
    -d '{"events":[{"external_id":"user-1","name":"added_to_cart","time":"2026-01-01T00:00:00Z","properties":{"sku":"A1"}}]}'
  curl -s ${stack.url}/currents/${stack.currents.demoConnectorId} -H 'Authorization: Bearer ${stack.workspace.restApiKey}'

Campaigns and Canvases: webhooks to ${stack.campaigns.receiver.url} (or any https URL) are printed below.${
  allowListOf(process.env).length > 0
    ? `\n  Also allowed (WEBHOOK_ALLOWED_DESTINATIONS): ${allowListOf(process.env).join(', ')}`
    : ''
}

Ctrl-C stops everything.
`);

let stopping = false;
const shutdown = async (reason: string, exitCode = 0) => {
  if (stopping) return;
  stopping = true;
  console.log(`\n${reason}: stopping the local stack…`);
  // A stop that hangs still ends the process (DynamoDB Local is killed on exit either way: local/emulators.ts).
  setTimeout(() => process.exit(exitCode || 1), 10_000).unref();
  await stack.stop().catch((error: unknown) => console.error('stopping failed:', error));
  process.exit(exitCode);
};
process.on('SIGINT', () => void shutdown('SIGINT'));
process.on('SIGTERM', () => void shutdown('SIGTERM'));
process.on('SIGHUP', () => void shutdown('SIGHUP'));
// An error nothing caught: stop what was started (emulators included) rather than die and leave them running.
const die = (error: unknown) => {
  console.error('[local stack] uncaught error:', error);
  void shutdown('uncaught error', 1);
};
process.on('uncaughtException', die);
process.on('unhandledRejection', die);
