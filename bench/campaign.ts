/**
 * `npm run bench -- --scenario campaign [--users 100000 --samples 20 --writers 16 --senders 4 --batch 100]`
 *
 * Campaigns on the local stack, against the raw ceiling of the same receiver:
 * - a scheduled campaign to a segment of N users (seeded straight into the tables under the
 *   stores' own keys): from the tick to the last webhook received, in messages/s; then, in
 *   the same run, N POSTs of the same size to the same receiver from a tight loop through
 *   the same HTTP client, as many in flight as the sender has (pollers × 10); the ratio
 *   of the two is the figure (goal ≥ 0.8). Every webhook is checked to arrive once and the
 *   campaign's figures to be exact;
 * - the campaign's DynamoDB use, counted by the model of AWS's limits (local/aws-limits.ts,
 *   at AWS's own limits: here it only counts, and emulates transaction conflicts) on the
 *   stack's client from the tick until the last outcome is recorded: billed units and
 *   requests per message, and the AWS projection: the least time AWS's limits allow for the
 *   same requests (busiest partition, table quotas), against what the sender's Lambda
 *   concurrency and a receiver's latency allow;
 * - an action-based campaign (no delay): time from a partner's cohort import (the POST) to
 *   the webhook received, one user at a time, p50 and p99;
 * - a promotion to --promotion-users (default 1,000,000) at several send-rate limits: the
 *   time to reach the last user, the limit's pace or the AWS projection's rate, whichever
 *   binds (lib/campaigns/pacing.ts). With --rate-limit R the measured run itself is paced at
 *   R a minute, and its rate is printed against R ÷ 60.
 * Writes bench/results/campaign-<time>.json and campaign-latest.json.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { parse } from 'yaml';
import { GetQueueAttributesCommand } from '@aws-sdk/client-sqs';
import { startLocalStack } from '../local/stack.js';
import { SafeHttpClient } from '../lib/webhooks/safe-http.js';
import { applyAwsLimits, projectAwsTime, tableShape, tableShapes } from '../local/aws-limits.js';
import type { SqsHandler } from '../local/sqs-poller.js';
import { billedUnits, bulkWrite, log, machineDescription, mean, now, percentile, pool } from './lib/harness.js';
import { seededCohort, seededProfiles } from './lib/seeding.js';
import { secondsToLastMessage } from '../lib/campaigns/pacing.js';

process.env.POWERTOOLS_LOG_LEVEL ??= 'ERROR';
process.env.POWERTOOLS_METRICS_DISABLED ??= 'true';
process.env.POWERTOOLS_TRACE_ENABLED ??= 'false';

const { values } = parseArgs({
  options: {
    scenario: { type: 'string', default: 'campaign' },
    users: { type: 'string', default: '100000' },
    samples: { type: 'string', default: '20' },
    writers: { type: 'string', default: '16' },
    senders: { type: 'string', default: '4' },
    batch: { type: 'string', default: '100' },
    'rate-limit': { type: 'string' },
    'promotion-users': { type: 'string', default: '1000000' },
  },
});
/** The measured run's own send-rate limit (messages per minute), if any. */
const RATE_LIMIT = values['rate-limit'] === undefined ? undefined : Number(values['rate-limit']);
const PROMOTION_USERS = Number(values['promotion-users']);
const USERS = Number(values.users);
const SAMPLES = Number(values.samples);
const WRITERS = Number(values.writers);
/** Sender pollers (emulated concurrent invocations), each taking batches of --batch and sending 10 at a time. */
const SENDERS = Number(values.senders);
const BATCH = Number(values.batch);
/** lib/campaigns/sender.ts: webhooks in flight per invocation. */
const PER_INVOCATION = 10;
const IN_FLIGHT = SENDERS * PER_INVOCATION;
/** The sender's event source mapping and the campaigns table, as deployed. */
const serverless = parse(readFileSync(new URL('../serverless.yml', import.meta.url), 'utf8')) as {
  functions: { sender: { events: { sqs: { batchSize: number; maximumConcurrency: number } }[] } };
};
const SENDER_SQS = serverless.functions.sender.events[0]!.sqs;
const campaignsTable = (
  parse(readFileSync(new URL('../infra/campaigns.yml', import.meta.url), 'utf8')) as {
    Resources: { CampaignsTable: { Properties: Parameters<typeof tableShape>[1] } };
  }
).Resources.CampaignsTable.Properties;
const BODY = '{"to":"{{ external_id }}","campaign":"{{ campaign.name }}"}';

/** Messages in a queue, visible or in flight. */
const queueDepth = async (queueUrl: string): Promise<number> => {
  const { Attributes } = await stack.clients.sqs.send(
    new GetQueueAttributesCommand({
      QueueUrl: queueUrl,
      AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'],
    }),
  );
  return (
    Number(Attributes?.ApproximateNumberOfMessages ?? 0) +
    Number(Attributes?.ApproximateNumberOfMessagesNotVisible ?? 0)
  );
};

const waitFor = async (check: () => boolean, timeoutMs: number, what: string) => {
  const started = now();
  while (!check()) {
    if (now() - started > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
};

log(
  `campaign: ${USERS.toLocaleString('en-US')} users, ${SENDERS} sender pollers × batches of ${BATCH} (${IN_FLIGHT} webhooks in flight)`,
);
/** Wall times of the sender's batches and of the campaigns function's work (audience chunks), and when the last chunk ended. */
const senderBatches: { ms: number; records: number }[] = [];
const workBatches: number[] = [];
let lastWorkEnded = 0;
const timed =
  (handler: SqsHandler, onDone: (ms: number, records: number) => void): SqsHandler =>
  async (event, context) => {
    const started = now();
    try {
      return await handler(event, context);
    } finally {
      onDone(now() - started, event.Records.length);
    }
  };
let eventsPublished = 0;
const stack = await startLocalStack({
  prefix: `cmp${Date.now().toString(36)}`,
  poll: true,
  visibilityTimeoutSeconds: 180,
  watchEvents: false,
  exportsFolder: 'bench/.exports',
  wrapEventPublisher: (publisher) => ({
    publish: async (events) => {
      await publisher.publish(events);
      eventsPublished += events.length;
    },
  }),
  campaigns: {
    tickEveryMs: 0,
    senderConcurrency: SENDERS,
    senderBatchSize: BATCH,
    cacheTtlMs: 5_000,
    wrapSenderHandler: (handler) => timed(handler, (ms, records) => senderBatches.push({ ms, records })),
    wrapCampaignsHandler: (handler) =>
      timed(handler, (ms) => {
        workBatches.push(ms);
        lastWorkEnded = now();
      }),
  },
});
// AWS's billing rules and transaction conflicts, on the client every store of the stack
// uses, at AWS's own limits (this machine cannot reach them: it counts). On from the tick
// to the last outcome recorded.
const limits = applyAwsLimits(stack.clients.dynamodb, {
  tables: [...tableShapes(stack.tables), tableShape(stack.campaigns.table, campaignsTable)],
  scale: 1,
});
limits.enabled = false;

try {
  const workspaceId = stack.workspace.workspaceId;
  const documents = stack.clients.documents;
  const receiver = stack.campaigns.receiver;
  const headers = { authorization: `Bearer ${stack.workspace.restApiKey}`, 'content-type': 'application/json' };
  const call = async <T>(path: string, body?: unknown): Promise<T> => {
    const response = await fetch(`${stack.url}${path}`, {
      method: body === undefined ? 'GET' : 'POST',
      headers,
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const answer = (await response.json()) as T;
    if (response.status >= 300) throw new Error(`${path}: ${response.status} ${JSON.stringify(answer)}`);
    return answer;
  };

  // --- seeding: N profiles and one cohort holding them all --------------------------------
  const seededAt = new Date().toISOString();
  const brazeIds = randomBytes(12 * USERS)
    .toString('hex')
    .match(/.{24}/g)!;
  const cohort = { workspaceId, partner: 'heap', cohortId: 'bench-audience' };
  await bulkWrite(
    documents,
    stack.tables.users,
    seededProfiles(workspaceId, brazeIds, 'bench-', seededAt),
    WRITERS,
    'users',
  );
  await bulkWrite(
    documents,
    stack.tables.cohorts,
    seededCohort(cohort, 'Bench audience', brazeIds, seededAt),
    WRITERS,
    'memberships',
  );
  // The seeded registers reach the table's stream like a sync's: the events function
  // publishes N membership events and the campaigns function reads them (no campaign is
  // triggered by this cohort). They are let through before the measured run, which they
  // would otherwise share the machine with.
  const drainStarted = now();
  const eventsQueue = stack.campaigns.queues.events.queueUrl;
  for (let quietSince = now(), published = -1; ; ) {
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    const depth = await queueDepth(eventsQueue);
    if (eventsPublished !== published || depth > 0) {
      published = eventsPublished;
      quietSince = now();
    } else if (now() - quietSince > 5_000) break;
    if (now() - drainStarted > 600_000) throw new Error(`seeded events not drained: ${eventsPublished} published`);
  }
  log(
    `  seeded membership events: ${eventsPublished.toLocaleString('en-US')} published and read in ${((now() - drainStarted) / 1000).toFixed(0)} s, before the run`,
  );

  const segment = await call<{ segment: { segment_id: string } }>('/segments', {
    name: 'Bench audience',
    filter: { cohort: { partner: 'heap', cohort_id: cohort.cohortId, includes: true } },
  });

  // --- a scheduled campaign to the whole segment ------------------------------------------
  const scheduled = await call<{ campaign: { campaign_id: string } }>('/campaigns', {
    name: 'Bench promo',
    segment_ids: [segment.segment.segment_id],
    message: { url: `${receiver.url}/scheduled`, headers: { 'content-type': 'application/json' }, body: BODY },
    delivery: { type: 'scheduled' },
    ...(RATE_LIMIT !== undefined ? { rate_limit_per_minute: RATE_LIMIT } : {}),
  });
  await call(`/campaigns/${scheduled.campaign.campaign_id}/launch`, {});
  const scheduledCount = () => receiver.received.filter((webhook) => webhook.path === '/scheduled').length;
  // Whether the sender or the audience chunks bind: the sends queue's depth, every 2 s.
  const sendsDepth: number[] = [];
  const sampler = setInterval(() => {
    queueDepth(stack.campaigns.queues.sends.queueUrl).then(
      (depth) => sendsDepth.push(depth),
      () => undefined,
    );
  }, 2_000);
  limits.reset();
  limits.enabled = true;
  // Only the run's invocations (the seeded events' batches went through the same wrapper).
  senderBatches.length = 0;
  workBatches.length = 0;
  const campaignStarted = now();
  let progress = campaignStarted;
  await stack.campaigns.tick();
  await waitFor(
    () => {
      if (now() - progress > 15_000) {
        progress = now();
        log(
          `  ${scheduledCount().toLocaleString('en-US')} webhooks after ${((progress - campaignStarted) / 1000).toFixed(0)} s`,
        );
      }
      return scheduledCount() >= USERS;
    },
    3_600_000,
    'the scheduled campaign',
  );
  const campaignMs = now() - campaignStarted;
  const campaignRate = USERS / (campaignMs / 1000);
  const audienceQueuedMs = lastWorkEnded - campaignStarted;
  log(`scheduled campaign: ${USERS} webhooks in ${(campaignMs / 1000).toFixed(1)} s (${campaignRate.toFixed(0)}/s)`);
  // Exact: every outcome recorded and counted once, every webhook received once.
  const report = async () =>
    (await stack.campaigns.service.report(workspaceId, 'campaign', scheduled.campaign.campaign_id)).stats[0]!;
  let figures = await report();
  while (figures.delivered + figures.failed < USERS && now() - campaignStarted < 3_600_000) {
    await new Promise((resolve) => setTimeout(resolve, 200));
    figures = await report();
  }
  const recordedMs = now() - campaignStarted;
  limits.enabled = false;
  clearInterval(sampler);
  // The run's own invocations (the action-based part below adds more).
  const runBatches = [...senderBatches];
  const runWork = [...workBatches];
  const keys = new Set(
    receiver.received
      .filter((webhook) => webhook.path === '/scheduled')
      .map((webhook) => webhook.headers['idempotency-key']),
  );
  const problems = [
    ...(scheduledCount() === USERS ? [] : [`${scheduledCount()} webhooks received for ${USERS} users`]),
    ...(keys.size === USERS ? [] : [`${keys.size} distinct idempotency keys`]),
    ...(figures.targeted === USERS && figures.sent === USERS && figures.delivered === USERS && figures.failed === 0
      ? []
      : [`figures ${JSON.stringify(figures)}`]),
  ];
  log(
    `  outcomes recorded after ${(recordedMs / 1000).toFixed(1)} s; audience queued after ${(audienceQueuedMs / 1000).toFixed(1)} s; ${problems.length === 0 ? 'exact' : `NOT exact: ${problems.join('; ')}`}`,
  );

  // --- DynamoDB per message, and the AWS projection ---------------------------------------
  const stats = limits.stats();
  const units = billedUnits(limits);
  const perMessage = (value: number) => Number((value / USERS).toFixed(3));
  const byTable = Object.fromEntries(
    Object.entries(stats.byTable).map(([table, totals]) => [
      table.replace(`${stack.tables.users.split('-')[0]}-`, ''),
      { write: perMessage(totals.writeUnits), read: perMessage(totals.readUnits) },
    ]),
  );
  const byCommand = Object.fromEntries(
    Object.entries(stats.byCommand).map(([command, totals]) => [
      command,
      {
        requestsPerMessage: perMessage(totals.requests),
        writeUnitsPerMessage: perMessage(totals.writeUnits),
        readUnitsPerMessage: perMessage(totals.readUnits),
      },
    ]),
  );
  const projection = projectAwsTime(stats);
  const statsLanes = [...(stats.partitions.get(stack.campaigns.table) ?? new Map())]
    .filter(([key]) => key.includes('#STATS#'))
    .map(([, totals]) => totals.writeUnits);
  const busiestLane = Math.max(0, ...statsLanes);
  const ddbRate = USERS / projection.seconds;
  // The sender's own bound on AWS: maximumConcurrency invocations, each a batch of
  // batchSize messages in claim + ⌈batch ÷ 10⌉ rounds of the receiver's latency + record.
  // DynamoDB's latency for a 100-action transaction is an assumption (not measured here).
  const TRANSACTION_MS = 20;
  const lambdaRate = (latencyMs: number) =>
    (SENDER_SQS.maximumConcurrency * SENDER_SQS.batchSize) /
    ((2 * TRANSACTION_MS + Math.ceil(SENDER_SQS.batchSize / PER_INVOCATION) * latencyMs) / 1000);

  // --- the raw ceiling: the same POSTs from a tight loop, same client, same concurrency ---
  const client = new SafeHttpClient({ allowHttp: true, allowList: [`127.0.0.1:${receiver.port}`] });
  const body = JSON.stringify({ to: 'bench-0', campaign: 'Bench promo' });
  const rawStarted = now();
  await pool(USERS, IN_FLIGHT, async () => {
    const result = await client.send({
      url: `${receiver.url}/raw`,
      method: 'POST',
      headers: { 'content-type': 'application/json', 'Idempotency-Key': 'raw' },
      body,
    });
    if (result.kind !== 'response' || result.status !== 200) throw new Error(`raw POST: ${JSON.stringify(result)}`);
  });
  const rawMs = now() - rawStarted;
  client.close();
  const rawRate = USERS / (rawMs / 1000);
  log(`raw ceiling: ${USERS} POSTs in ${(rawMs / 1000).toFixed(1)} s (${rawRate.toFixed(0)}/s)`);
  // A POST's mean time in the tight loop (Little's law: in flight ÷ rate).
  const loopbackMs = (IN_FLIGHT / rawRate) * 1000;
  const receivers = [loopbackMs, 50, 200].map((latencyMs) => ({
    latencyMs: Number(latencyMs.toFixed(1)),
    senderMessagesPerSecond: Math.round(lambdaRate(latencyMs)),
    awsMessagesPerSecond: Math.round(Math.min(lambdaRate(latencyMs), ddbRate)),
    // The same POSTs from a tight loop at the sender's concurrency (maximumConcurrency × 10 in flight).
    ratioToTightLoop: Number(
      (
        Math.min(lambdaRate(latencyMs), ddbRate) /
        ((SENDER_SQS.maximumConcurrency * PER_INVOCATION) / (latencyMs / 1000))
      ).toFixed(2),
    ),
  }));

  // --- a promotion to PROMOTION_USERS at send-rate limits: when the last user is reached ----
  // The unpaced rate on AWS is the projection's for a 200 ms receiver (sender and DynamoDB, the slower).
  const awsUnpaced = receivers.at(-1)!.awsMessagesPerSecond;
  const promotion = [undefined, 500_000, 100_000, 10_000, 1_000].map((perMinute) => {
    const seconds = secondsToLastMessage(PROMOTION_USERS, perMinute, awsUnpaced);
    return {
      rateLimitPerMinute: perMinute ?? null,
      minutesToLastUser: Number((seconds / 60).toFixed(1)),
      binds: perMinute !== undefined && perMinute / 60 < awsUnpaced ? 'the limit' : 'the sending path',
    };
  });
  // Measured pacing, when the run had a limit: its rate against the limit's.
  const paced =
    RATE_LIMIT === undefined
      ? undefined
      : {
          rateLimitPerMinute: RATE_LIMIT,
          limitPerSecond: Number((RATE_LIMIT / 60).toFixed(1)),
          measuredPerSecond: Number(campaignRate.toFixed(1)),
          ofTheLimit: Number((campaignRate / (RATE_LIMIT / 60)).toFixed(3)),
          forecastSeconds: Number(
            secondsToLastMessage(USERS, RATE_LIMIT, USERS / Math.max(0.001, rawMs / 1000)).toFixed(1),
          ),
        };

  // --- action-based: import to webhook, one user at a time --------------------------------
  await fetch(`${stack.url}/partners/heap/cohorts`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      partner_api_key: stack.partnerApiKey,
      client_secret: stack.workspace.dataImportKey,
      cohort_id: 'bench-trigger',
      name: 'Bench trigger',
      created_at: new Date().toISOString(),
    }),
  }).then((response) => {
    if (response.status !== 201) throw new Error(`naming the trigger cohort: ${response.status}`);
  });
  let triggerSegment: { segment: { segment_id: string } } | undefined;
  for (let attempt = 0; !triggerSegment; attempt += 1) {
    try {
      triggerSegment = await call('/segments', {
        name: 'Bench trigger',
        filter: { cohort: { partner: 'heap', cohort_id: 'bench-trigger', includes: true } },
      });
    } catch (error: unknown) {
      // The sync names the cohort asynchronously: a segment on it is a 400 until then.
      if (attempt > 600) throw error;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
  const action = await call<{ campaign: { campaign_id: string } }>('/campaigns', {
    name: 'Bench trigger',
    segment_ids: [triggerSegment.segment.segment_id],
    message: { url: `${receiver.url}/action/{{ external_id }}`, body: BODY },
    delivery: { type: 'action_based' },
  });
  await call(`/campaigns/${action.campaign.campaign_id}/launch`, {});
  // Users the partner can match (the seeded ones have no identifier index items: segments never read them).
  await call('/users/track', {
    attributes: Array.from({ length: SAMPLES }, (_, sample) => ({ external_id: `latency-${sample}` })),
  });
  const latencies: number[] = [];
  for (let sample = 0; sample < SAMPLES; sample += 1) {
    const externalId = `latency-${sample}`;
    const posted = Date.now();
    const response = await fetch(`${stack.url}/partners/heap/cohorts/users`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        partner_api_key: stack.partnerApiKey,
        client_secret: stack.workspace.dataImportKey,
        cohort_id: 'bench-trigger',
        cohort_changes: [{ user_ids: [externalId] }],
      }),
    });
    if (response.status !== 201) throw new Error(`import: ${response.status}`);
    await waitFor(
      () => receiver.received.some((webhook) => webhook.path === `/action/${externalId}`),
      60_000,
      `the webhook of ${externalId}`,
    );
    latencies.push(receiver.received.find((webhook) => webhook.path === `/action/${externalId}`)!.at - posted);
  }
  const p50 = percentile(latencies, 50);
  const p99 = percentile(latencies, 99);
  log(`action-based: import → webhook p50 ${p50} ms, p99 ${p99} ms over ${SAMPLES} imports`);

  const result = {
    scenario: 'campaign',
    at: new Date().toISOString(),
    machine: machineDescription(),
    users: USERS,
    inFlight: IN_FLIGHT,
    senders: SENDERS,
    batch: BATCH,
    scheduled: {
      seconds: campaignMs / 1000,
      messagesPerSecond: Math.round(campaignRate),
      outcomesRecordedSeconds: recordedMs / 1000,
      audienceQueuedSeconds: audienceQueuedMs / 1000,
      // The campaigns function's work during the run: the tick and the audience chunks (5,000 users each).
      meanSendsQueueDepth: Math.round(mean(sendsDepth)),
      maxSendsQueueDepth: Math.max(0, ...sendsDepth),
      workInvocations: runWork.length,
      meanWorkMs: Math.round(mean(runWork)),
      senderBatches: runBatches.length,
      meanRecordsPerBatch: Number(mean(runBatches.map((batch) => batch.records)).toFixed(1)),
      meanBatchMs: Math.round(mean(runBatches.map((batch) => batch.ms))),
      p99BatchMs: Math.round(
        percentile(
          runBatches.map((batch) => batch.ms),
          99,
        ),
      ),
      exact: problems.length === 0,
      problems,
    },
    raw: { seconds: rawMs / 1000, postsPerSecond: Math.round(rawRate), meanPostMs: Number(loopbackMs.toFixed(2)) },
    ratio: Number((campaignRate / rawRate).toFixed(3)),
    goal: 0.8,
    dynamodb: {
      countedBy: 'local/aws-limits.ts (AWS billing rules, unscaled limits), tick to last outcome recorded',
      requestsPerMessage: perMessage(stats.requests),
      billedWriteUnitsPerMessage: perMessage(units.write),
      billedReadUnitsPerMessage: perMessage(units.read),
      byTable,
      byCommand,
      outcomes: stats.outcomes,
      conflicts: stats.conflicts,
      throttles: stats.throttles,
    },
    aws: {
      dynamodbSeconds: Number(projection.seconds.toFixed(2)),
      dynamodbMessagesPerSecond: Math.round(ddbRate),
      terms: projection.terms.slice(0, 6).map((term) => term.arithmetic),
      busiestStatsLane: {
        writeUnits: busiestLane,
        lanes: statsLanes.length,
        seconds: Number((busiestLane / 1000).toFixed(2)),
      },
      sender: {
        maximumConcurrency: SENDER_SQS.maximumConcurrency,
        batchSize: SENDER_SQS.batchSize,
        perInvocationInFlight: PER_INVOCATION,
        assumedTransactionMs: TRANSACTION_MS,
      },
      receivers,
    },
    actionBased: { samples: SAMPLES, p50Ms: p50, p99Ms: p99 },
    promotion: { users: PROMOTION_USERS, awsUnpacedMessagesPerSecond: awsUnpaced, byRateLimit: promotion },
    ...(paced ? { paced } : {}),
  };
  console.log(JSON.stringify(result, null, 2));
  const figure = (value: number) => Math.round(value).toLocaleString('en-US');
  console.log(
    [
      '',
      `scheduled campaign: ${figure(campaignRate)} webhooks/s (${USERS.toLocaleString('en-US')} in ${(campaignMs / 1000).toFixed(1)} s; outcomes recorded at ${(recordedMs / 1000).toFixed(1)} s) against ${figure(rawRate)} POSTs/s from a tight loop, ${IN_FLIGHT} in flight: ratio ${result.ratio} (goal 0.8: ${result.ratio >= 0.8 ? 'met' : 'NOT met'}); ${problems.length === 0 ? 'exact' : `NOT exact: ${problems.join('; ')}`}`,
      `sender batches: ${runBatches.length}, ${result.scheduled.meanRecordsPerBatch} records each on average, ${result.scheduled.meanBatchMs} ms mean, ${result.scheduled.p99BatchMs} ms p99; audience queued by ${(audienceQueuedMs / 1000).toFixed(1)} s (${runWork.length} work invocations, ${result.scheduled.meanWorkMs} ms mean); sends queue depth ${result.scheduled.meanSendsQueueDepth} mean, ${result.scheduled.maxSendsQueueDepth} max`,
      `DynamoDB per message: ${result.dynamodb.requestsPerMessage} requests, ${result.dynamodb.billedWriteUnitsPerMessage} WRU, ${result.dynamodb.billedReadUnitsPerMessage} RRU (${JSON.stringify(byTable)})`,
      `  by command: ${Object.entries(byCommand)
        .map(
          ([command, totals]) =>
            `${command} ${totals.requestsPerMessage} req, ${totals.writeUnitsPerMessage} WRU, ${totals.readUnitsPerMessage} RRU`,
        )
        .join('; ')}`,
      `  conflicts ${JSON.stringify(stats.conflicts)}, throttles ${JSON.stringify(stats.throttles)}`,
      `AWS projection, DynamoDB (${USERS.toLocaleString('en-US')} messages): ${projection.seconds.toFixed(2)} s → ${figure(ddbRate)} messages/s`,
      ...projection.terms.slice(0, 6).map((term) => `  ${term.arithmetic}`),
      `  busiest stats lane: ${figure(busiestLane)} WCU over the run (${statsLanes.length} lanes) ÷ 1,000 WCU/s = ${(busiestLane / 1000).toFixed(2)} s: not hot`,
      `AWS projection, sender: ${SENDER_SQS.maximumConcurrency} invocations × ${SENDER_SQS.batchSize} ÷ (2 × ${TRANSACTION_MS} ms + ⌈${SENDER_SQS.batchSize} ÷ ${PER_INVOCATION}⌉ × receiver latency)`,
      ...receivers.map(
        (receiver) =>
          `  receiver ${receiver.latencyMs} ms: sender ${figure(receiver.senderMessagesPerSecond)}/s, with DynamoDB ${figure(receiver.awsMessagesPerSecond)}/s; ratio to a tight loop of ${SENDER_SQS.maximumConcurrency * PER_INVOCATION} in flight ${receiver.ratioToTightLoop}`,
      ),
      `action-based: import → webhook p50 ${p50} ms, p99 ${p99} ms over ${SAMPLES} imports`,
      `promotion to ${PROMOTION_USERS.toLocaleString('en-US')} users on AWS (unpaced: ${figure(awsUnpaced)}/s, the projection for a 200 ms receiver):`,
      ...promotion.map(
        (row) =>
          `  ${row.rateLimitPerMinute === null ? 'no limit' : `${row.rateLimitPerMinute.toLocaleString('en-US')}/min`}: last user after ${row.minutesToLastUser.toLocaleString('en-US')} min (${row.binds} binds)`,
      ),
      ...(paced
        ? [
            `paced run: ${USERS.toLocaleString('en-US')} at ${RATE_LIMIT!.toLocaleString('en-US')}/min → ${paced.measuredPerSecond}/s measured against ${paced.limitPerSecond}/s allowed (${paced.ofTheLimit} of the limit; forecast ${paced.forecastSeconds} s, took ${(campaignMs / 1000).toFixed(1)} s)`,
          ]
        : []),
    ].join('\n'),
  );
  await mkdir('bench/results', { recursive: true });
  const stamp = result.at.replace(/[:.]/g, '-');
  await writeFile(`bench/results/campaign-${stamp}.json`, `${JSON.stringify(result, null, 2)}\n`);
  await writeFile('bench/results/campaign-latest.json', `${JSON.stringify(result, null, 2)}\n`);
} finally {
  await stack.stop();
}
