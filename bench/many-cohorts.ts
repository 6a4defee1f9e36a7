/**
 * `npm run bench [-- --scenario many-cohorts --changes 200000 --users 1000 --lambdas 4 --senders 8 --writers 16]`
 *
 * Measures, side by side in one run on the local stack (so the machine's noise cancels out):
 * 1. end to end: HTTP → queue → sync → store, changes/s, against the raw ceiling of the
 *    same number of items written by the fastest raw path (BatchWriteItem 25 × 16 in
 *    flight) with the same client;
 * 2. DynamoDB requests and consumed capacity per 1,000 applied changes, against the
 *    design's lower bound;
 * 3. ingest cost: the handler in-process against JSON.parse + one SendMessage;
 * 4. cost per million changes on AWS from 1–3 and list prices.
 * Cold start has a benchmark of its own: `npm run bench:cold-start` (bench/cold-start.ts).
 * Prints a table, writes bench/results/<time>.json and latest.json, and a chart.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { cpus } from 'node:os';
import { parseArgs } from 'node:util';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { SendMessageCommand } from '@aws-sdk/client-sqs';
import { lambdaContext } from '../local/lambda-context.js';
import { toSqsBody } from '../lib/sqs/cohort-queue.js';
import { meterDynamoDb, subtract, type Meter } from './lib/metering.js';
import { barChartPng } from './lib/chart.js';
import { costPerMillionChanges, INGEST_UNITS_PER_REQUEST, PRICES } from './lib/pricing.js';
import {
  billedUnits,
  countPublishes,
  limitSync,
  log,
  machineDescription,
  mean,
  now,
  percentile,
  pool,
  postAsPartner,
  rawBatchWriter,
  startBenchStack,
} from './lib/harness.js';

process.env.POWERTOOLS_LOG_LEVEL ??= 'ERROR';
process.env.POWERTOOLS_METRICS_DISABLED ??= 'true';
process.env.POWERTOOLS_TRACE_ENABLED ??= 'false';

const { values } = parseArgs({
  options: {
    scenario: { type: 'string', default: 'many-cohorts' },
    changes: { type: 'string', default: '200000' },
    users: { type: 'string', default: '1000' },
    // Emulated concurrent sync invocations; they share this process and DynamoDB Local, so
    // more than the machine's cores makes batches miss the 30 s function timeout.
    lambdas: { type: 'string', default: String(Math.max(1, Math.min(4, cpus().length))) },
    senders: { type: 'string', default: '8' },
    writers: { type: 'string', default: '16' },
    'ingest-samples': { type: 'string', default: '200' },
    // `--latest no` keeps bench/results/latest.json and docs/throughput.png as they are.
    latest: { type: 'string', default: 'yes' },
  },
});
const USERS = Number(values.users);
const IDS_PER_REQUEST = Math.min(1_000, USERS);
const REQUESTS = Math.ceil(Number(values.changes) / IDS_PER_REQUEST);
const CHANGES = REQUESTS * IDS_PER_REQUEST;
const LAMBDAS = Number(values.lambdas);
const SENDERS = Number(values.senders);
const WRITERS = Number(values.writers);
const INGEST_SAMPLES = Number(values['ingest-samples']);

// ---------------------------------------------------------------------------------------
log(
  `stack: ${REQUESTS} requests × ${IDS_PER_REQUEST} identifiers = ${CHANGES} changes; ${USERS} users; ${LAMBDAS} concurrent syncs`,
);
const { stack, syncClient, syncBatchMs, eventsBatchMs } = await startBenchStack({ prefix: 'bench', lambdas: LAMBDAS });
const metering = meterDynamoDb(syncClient);

try {
  const workspaceId = stack.workspace.workspaceId;
  const sns = countPublishes(stack.clients.sns);
  const rawClient = DynamoDBDocumentClient.from(syncClient);
  // AWS's billing rules, counted by the limits model at AWS's own (unscaled) limits, which
  // this machine cannot reach: it only counts here (index writes included).
  const limits = limitSync(stack, syncClient, 1);

  log(`seeding ${USERS} users`);
  const userIds = Array.from({ length: USERS }, (_, index) => `bench-user-${index}`);
  await pool(USERS, 16, async (index) => {
    await stack.stores.users.findOrCreate(
      workspaceId,
      { type: 'external_id', externalId: userIds[index]! },
      new Date(),
    );
  });

  // --- 1a. raw ceiling, first half ----------------------------------------------------
  // The ceiling goes through the sync's own client (metered; the limits model is off then).
  const rawWrites = rawBatchWriter(rawClient, stack.tables.cohorts, workspaceId, WRITERS);
  log(`raw ceiling (1/2): ${Math.floor(CHANGES / 2)} items by BatchWriteItem 25 × ${WRITERS} in flight`);
  let rawMs = await rawWrites(Math.floor(CHANGES / 2));
  const meterAfterRaw1 = metering.snapshot();

  // --- 1b. the pipeline --------------------------------------------------------------
  const body = (index: number) =>
    JSON.stringify({
      partner_api_key: stack.partnerApiKey,
      client_secret: stack.workspace.dataImportKey,
      cohort_id: `bench-${index}`,
      cohort_changes: [{ user_ids: userIds.slice(0, IDS_PER_REQUEST) }],
    });
  const countMembers = async (): Promise<number> => {
    let total = 0;
    let after: string | undefined;
    do {
      const page = await stack.stores.memberships.listCohorts(workspaceId, { limit: 500, ...(after ? { after } : {}) });
      total += page.cohorts.reduce((sum, cohort) => sum + cohort.memberCount, 0);
      after = page.next;
    } while (after !== undefined);
    return total;
  };

  log(`pipeline: ${REQUESTS} requests over HTTP, ${SENDERS} in flight`);
  limits.enabled = true;
  const pipelineStarted = now();
  let ingestDoneMs = 0;
  let retriedRequests = 0;
  const sending = pool(REQUESTS, SENDERS, async (index) => {
    retriedRequests += await postAsPartner(`${stack.url}/partners/heap/cohorts/users`, body(index), `request ${index}`);
  }).then(() => {
    ingestDoneMs = now() - pipelineStarted;
  });
  for (;;) {
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    const members = await countMembers();
    if (members >= CHANGES) break;
    if (now() - pipelineStarted > 60 * 60_000)
      throw new Error(`pipeline incomplete after an hour: ${members}/${CHANGES}`);
  }
  await sending;
  // Every change is a flip: the pipeline is done when its last event is published.
  while (sns.messages < CHANGES) {
    if (now() - pipelineStarted > 60 * 60_000)
      throw new Error(`events incomplete after an hour: ${sns.messages}/${CHANGES}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  const pipelineMs = now() - pipelineStarted;
  const meterAfterPipeline = metering.snapshot();
  limits.enabled = false;
  const billed = billedUnits(limits);

  // --- 1c. raw ceiling, second half ------------------------------------------------------
  log(`raw ceiling (2/2): ${CHANGES - Math.floor(CHANGES / 2)} items`);
  rawMs += await rawWrites(CHANGES - Math.floor(CHANGES / 2));
  const meterAfterRaw2 = metering.snapshot();

  // --- verification ----------------------------------------------------------------------
  log('verifying every membership and count');
  let verified = 0;
  const problems: string[] = [];
  const refs = Array.from({ length: REQUESTS }, (_, index) => ({
    workspaceId,
    partner: 'heap',
    cohortId: `bench-${index}`,
  }));
  const cohorts = await stack.stores.memberships.getCohorts(workspaceId, refs);
  for (const cohort of cohorts)
    if (cohort.memberCount !== IDS_PER_REQUEST) problems.push(`${cohort.cohortId}: count ${cohort.memberCount}`);
  await pool(REQUESTS, 8, async (index) => {
    let members = 0;
    for await (const _ of stack.stores.memberships.cohortMembers({
      workspaceId,
      partner: 'heap',
      cohortId: `bench-${index}`,
    }))
      members += 1;
    if (members !== IDS_PER_REQUEST) problems.push(`bench-${index}: ${members} memberships`);
    verified += members;
  });
  if (cohorts.length !== REQUESTS) problems.push(`${cohorts.length} cohorts, expected ${REQUESTS}`);

  // --- 2. store calls per 1,000 changes -------------------------------------------------------
  const pipelineMeter = subtract(meterAfterPipeline, meterAfterRaw1);
  const rawMeter = subtract(meterAfterRaw2, meterAfterPipeline);
  const perThousand = (meter: Meter) => {
    const entries = Object.entries(meter);
    const sum = (field: keyof Meter[string]) => entries.reduce((total, [, entry]) => total + entry[field], 0);
    const per = (value: number) => (value * 1000) / CHANGES;
    return {
      requests: per(sum('requests')),
      /** As AWS bills them, by the simple rules of bench/lib/metering.ts (no queries, no index writes). */
      readUnits: per(sum('billedReadUnits')),
      writeUnits: per(sum('billedWriteUnits')),
      /** As DynamoDB Local reported them: it does not count transaction items, so not billing figures. */
      reportedByEmulator: { readUnits: per(sum('readUnits')), writeUnits: per(sum('writeUnits')) },
      byCommand: Object.fromEntries(
        entries.map(([command, entry]) => [
          command,
          {
            requests: per(entry.requests),
            readUnits: per(entry.billedReadUnits),
            writeUnits: per(entry.billedWriteUnits),
          },
        ]),
      ),
    };
  };
  // The design's lower bound for 1,000 new members of one cohort, users existing (docs/performance.md):
  // identifier lookups and register reads (BatchGetItem of 100, eventually consistent),
  // transactions of 99 registers + a count lane, the cohort upsert and the report; for the
  // events (the events function, from the stream), the profiles (BatchGetItem of 100); the
  // cohort's name is remembered by the function, so it costs next to nothing per change.
  const batches = Math.ceil(IDS_PER_REQUEST / 100);
  const transactions = Math.ceil(IDS_PER_REQUEST / 99);
  const scale = 1000 / IDS_PER_REQUEST;
  const designBound = {
    requests: (batches * 3 + transactions + 2) * scale,
    readUnits: (IDS_PER_REQUEST * 0.5 + IDS_PER_REQUEST * 0.5 + IDS_PER_REQUEST * 0.5) * scale,
    writeUnits: (2 * (IDS_PER_REQUEST + transactions) + 2) * scale,
  };
  const absoluteFloor = { requests: Math.ceil(1000 / 25) + Math.ceil(1000 / 100), readUnits: 500, writeUnits: 1000 };

  // --- 3. ingest cost -------------------------------------------------------------------------
  await stack.poller?.stop();
  log(`ingest: ${INGEST_SAMPLES} in-process handler calls against JSON.parse + SendMessage`);
  const { httpEvent } = await import('../test/support/events.js');
  const sampleBody = body(0);
  const ingestSamples: number[] = [];
  const floorSamples: number[] = [];
  for (let index = 0; index < INGEST_SAMPLES; index += 1) {
    // Alternate the two, so that drift affects both alike.
    let started = now();
    const result = await stack.handlers.ingest(
      httpEvent('POST /partners/{partner}/cohorts/users', sampleBody, { pathParameters: { partner: 'heap' } }),
      lambdaContext('ingest', 10_000),
    );
    ingestSamples.push(now() - started);
    if (result.statusCode !== 201) throw new Error(`ingest answered ${result.statusCode}`);
    started = now();
    const parsed = JSON.parse(sampleBody) as unknown;
    await stack.clients.sqs.send(
      new SendMessageCommand({ QueueUrl: stack.queues.queueUrl, MessageBody: toSqsBody(parsed) }),
    );
    floorSamples.push(now() - started);
  }
  const messageBytes = Buffer.byteLength(sampleBody);

  // --- 5. cost ------------------------------------------------------------------------------------
  const pipelineUnits = perThousand(pipelineMeter);
  const syncMsPerRequest = syncBatchMs.reduce((sum, value) => sum + value, 0) / REQUESTS;
  const cost = costPerMillionChanges({
    identifiersPerRequest: IDS_PER_REQUEST,
    messageBytes,
    recordsPerBatch: 10,
    ingestMs: mean(ingestSamples),
    ingestMemoryGb: 0.5,
    syncMsPerRequest,
    syncMemoryGb: 1,
    syncWriteUnitsPer1000: (billed.write * 1000) / CHANGES,
    syncReadUnitsPer1000: (billed.read * 1000) / CHANGES,
    ingestReadUnits: INGEST_UNITS_PER_REQUEST.read,
    ingestWriteUnits: INGEST_UNITS_PER_REQUEST.write,
    snsRequestsPer1000: (sns.billedRequests * 1000) / CHANGES,
    eventsInvocationsPer1000: (eventsBatchMs.length * 1000) / CHANGES,
    eventsMsPer1000: (eventsBatchMs.reduce((sum, value) => sum + value, 0) * 1000) / CHANGES,
    eventsMemoryGb: 0.5,
  });

  // --- report ----------------------------------------------------------------------------------------
  const pipelineRate = CHANGES / (pipelineMs / 1000);
  const rawRate = CHANGES / (rawMs / 1000);
  const result = {
    at: new Date().toISOString(),
    machine: machineDescription(),
    parameters: {
      requests: REQUESTS,
      identifiersPerRequest: IDS_PER_REQUEST,
      changes: CHANGES,
      users: USERS,
      lambdas: LAMBDAS,
      senders: SENDERS,
      writers: WRITERS,
    },
    endToEnd: {
      pipelineChangesPerSecond: pipelineRate,
      rawCeilingChangesPerSecond: rawRate,
      ratio: pipelineRate / rawRate,
      pipelineSeconds: pipelineMs / 1000,
      ingestSeconds: ingestDoneMs / 1000,
      /** Partner requests answered 5XX/429 and retried by the client (0 on a machine that keeps up). */
      retriedRequests,
      rawSeconds: rawMs / 1000,
      verified: { memberships: verified, expected: CHANGES, problems },
    },
    billedUnitsPerChange: {
      write: billed.write / CHANGES,
      read: billed.read / CHANGES,
      countedBy: 'local/aws-limits.ts',
    },
    storeCallsPer1000: {
      measured: pipelineUnits,
      designLowerBound: designBound,
      absoluteFloor,
      rawLoop: perThousand(rawMeter),
    },
    ingest: {
      handlerMs: { mean: mean(ingestSamples), p50: percentile(ingestSamples, 50), p95: percentile(ingestSamples, 95) },
      floorMs: { mean: mean(floorSamples), p50: percentile(floorSamples, 50), p95: percentile(floorSamples, 95) },
      ratio: mean(ingestSamples) / mean(floorSamples),
      requestBytes: messageBytes,
    },
    syncMsPerRequest,
    membershipEvents: {
      publishBatchCallsPer1000: (sns.calls * 1000) / CHANGES,
      eventsPer1000: (sns.messages * 1000) / CHANGES,
      billedRequestsPer1000: (sns.billedRequests * 1000) / CHANGES,
    },
    costPerMillionChanges: { ...cost, prices: PRICES },
  };

  const table = [
    ['end to end (HTTP → SQS → sync → DynamoDB)', `${Math.round(pipelineRate).toLocaleString('en-US')} changes/s`],
    [
      `raw ceiling (BatchWriteItem 25 × ${WRITERS} in flight)`,
      `${Math.round(rawRate).toLocaleString('en-US')} items/s`,
    ],
    ['ratio pipeline / ceiling', result.endToEnd.ratio.toFixed(2)],
    [
      'verified memberships',
      `${verified.toLocaleString('en-US')} / ${CHANGES.toLocaleString('en-US')}${problems.length ? ` (${problems.length} problems)` : ', counts exact'}`,
    ],
    [
      'DynamoDB requests / 1,000 changes',
      `${pipelineUnits.requests.toFixed(1)} (design bound ${designBound.requests.toFixed(1)})`,
    ],
    [
      'billed write units / 1,000 changes',
      `${((billed.write * 1000) / CHANGES).toFixed(0)} (design bound ${designBound.writeUnits}, floor ${absoluteFloor.writeUnits}; index writes included)`,
    ],
    [
      'billed read units / 1,000 changes',
      `${((billed.read * 1000) / CHANGES).toFixed(0)} (design bound ${designBound.readUnits}, floor ${absoluteFloor.readUnits})`,
    ],
    [
      'units reported by DynamoDB Local',
      `${pipelineUnits.reportedByEmulator.writeUnits.toFixed(0)} W / ${pipelineUnits.reportedByEmulator.readUnits.toFixed(0)} R (it does not count transaction items)`,
    ],
    [
      'ingest handler, 1,000 ids (mean / p95)',
      `${result.ingest.handlerMs.mean.toFixed(2)} / ${result.ingest.handlerMs.p95.toFixed(2)} ms`,
    ],
    [
      'floor: JSON.parse + SendMessage',
      `${result.ingest.floorMs.mean.toFixed(2)} / ${result.ingest.floorMs.p95.toFixed(2)} ms`,
    ],
    ['sync handler per request (1,000 changes)', `${syncMsPerRequest.toFixed(1)} ms`],
    [
      'membership events / 1,000 changes',
      `${((sns.messages * 1000) / CHANGES).toFixed(0)} in ${((sns.calls * 1000) / CHANGES).toFixed(0)} PublishBatch calls`,
    ],
    [
      'AWS cost per million changes',
      `$${cost.total.toFixed(3)} (DynamoDB $${cost.dynamodb.toFixed(3)}, SNS $${cost.sns.toFixed(3)}, Lambda $${(cost.lambdaIngest + cost.lambdaSync + cost.lambdaEvents).toFixed(3)} of which events $${cost.lambdaEvents.toFixed(3)}, SQS $${cost.sqs.toFixed(4)}, API GW $${cost.apiGateway.toFixed(4)}, logs $${cost.logs.toFixed(4)}, traces $${cost.traces.toFixed(4)})`,
    ],
  ];
  const widest = Math.max(...table.map(([label]) => label!.length));
  console.log(
    `\nBenchmark, ${result.at} — ${result.machine.cpus} × ${result.machine.cpu}, ${result.machine.memoryGb} GiB, Node ${result.machine.node}\n`,
  );
  for (const [label, value] of table) console.log(`  ${label!.padEnd(widest)}  ${value}`);

  await mkdir('bench/results', { recursive: true });
  const stampName = result.at.replace(/[:.]/g, '-');
  await writeFile(`bench/results/${stampName}.json`, JSON.stringify(result, null, 2));
  if (values.latest !== 'no') await writeFile('bench/results/latest.json', JSON.stringify(result, null, 2));
  await mkdir('docs', { recursive: true });
  if (values.latest !== 'no')
    await writeFile(
      'docs/throughput.png',
      barChartPng(
        'Cohort changes applied per second',
        `${CHANGES.toLocaleString('en-US')} changes, ${result.machine.cpus} cores, DynamoDB Local; ratio ${result.endToEnd.ratio.toFixed(2)}`,
        'changes (writes) per second',
        [
          { label: 'pipeline: HTTP → SQS → sync → DynamoDB', value: pipelineRate, color: '#3b6fd8' },
          { label: 'raw ceiling: BatchWriteItem 25 × 16', value: rawRate, color: '#9aa5b1' },
        ],
      ),
    );
  console.log(
    `\nSaved bench/results/${stampName}.json${values.latest !== 'no' ? ', bench/results/latest.json and docs/throughput.png' : ''}`,
  );
  if (problems.length > 0) {
    console.error(`Verification failed: ${problems.slice(0, 10).join('; ')}`);
    process.exitCode = 1;
  }
} finally {
  await stack.stop();
}
