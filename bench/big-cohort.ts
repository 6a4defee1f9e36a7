/**
 * `npm run bench -- --scenario big-cohort [--users 100000 --limits-scale 20 --lambdas 2 --senders 8 --writers 16
 *   --physical-partitions 16 --new-table --fixed-transactions 40]`
 *
 * One cohort of N existing users synced from scratch: N/1,000 partner requests of 1,000
 * distinct identifiers each, over HTTP → SQS → sync → DynamoDB Local, with the sync's
 * DynamoDB client behind the model of AWS's limits (lib/local/aws-limits.ts) with every
 * rate divided by --limits-scale, so that this machine reaches them. Then:
 * - verifies every membership and the count exactly, and that the DLQ is empty;
 * - the AWS projection from the run's own trace: the least time AWS's unscaled limits
 *   allow for the same requests (busiest partition, table quota) and the design's
 *   serialised chain (requests ÷ concurrent records × sequential round trips), → changes/s;
 * - billed units per change as AWS counts them (index writes included), and the same
 *   number of items written by the fastest raw path (BatchWriteItem 25 × 16 in flight)
 *   in the same run, as the local ceiling.
 */
import { cpus } from 'node:os';
import { mkdir, writeFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { queueDepth as sharedQueueDepth } from '../lib/local/settle.js';
import { NEW_TABLE_UNITS_PER_SECOND, projectAwsTime, type Placement } from '../lib/local/aws-limits.js';
import { forecastFirstSync, NEW_TABLE_WRITE_UNITS, TABLE_QUOTA_WRITE_UNITS } from '../lib/local/first-sync-forecast.js';
import { REGISTER_SHARDS } from '../lib/dynamodb/shards.js';
import {
  billedUnits,
  bulkWrite,
  countPublishes,
  limitSync,
  log,
  machineDescription,
  now,
  pool,
  postAsPartner,
  rawBatchWriter,
  startBenchStack,
} from './lib/harness.js';
import {
  indexItem,
  profileKey,
  USER_COUNT_LANES,
  userCountKey,
  workspaceIndexKeys,
} from '../lib/dynamodb/user-store.js';
import { randomBytes } from 'node:crypto';
import { costPerMillionChanges, INGEST_UNITS_PER_REQUEST, PRICES } from './lib/pricing.js';

process.env.POWERTOOLS_LOG_LEVEL ??= 'ERROR';
process.env.POWERTOOLS_METRICS_DISABLED ??= 'true';
process.env.POWERTOOLS_TRACE_ENABLED ??= 'false';

const { values } = parseArgs({
  options: {
    scenario: { type: 'string', default: 'big-cohort' },
    users: { type: 'string', default: '100000' },
    'limits-scale': { type: 'string', default: '20' },
    // Emulated concurrent sync invocations: as many as the machine has cores (they share
    // this process and DynamoDB Local; more only makes batches miss their timeout).
    lambdas: { type: 'string', default: String(Math.max(2, Math.min(4, cpus().length))) },
    senders: { type: 'string', default: '8' },
    writers: { type: 'string', default: '16' },
    latest: { type: 'string', default: 'yes' },
    // Hash shard keys onto this many physical partitions per table (default: each key its own).
    'physical-partitions': { type: 'string' },
    // Model a new table that is not pre-warmed (4,000 WRU / 12,000 RRU a second) instead of the quota.
    'new-table': { type: 'boolean', default: false },
    // Transactions in flight fixed at N instead of adapted (the A/B of docs/performance.md).
    'fixed-transactions': { type: 'string' },
  },
});
const USERS = Number(values.users);
const IDS_PER_REQUEST = 1_000; // contract: at most 1,000 identifiers per request
const REQUESTS = Math.ceil(USERS / IDS_PER_REQUEST);
const SCALE = Number(values['limits-scale']);
const LAMBDAS = Number(values.lambdas);
const SENDERS = Number(values.senders);
const WRITERS = Number(values.writers);
const COHORT = 'big';
const PLACEMENT: Placement = {
  ...(values['physical-partitions'] ? { physicalPartitions: Number(values['physical-partitions']) } : {}),
  ...(values['new-table'] ? { tableUnits: NEW_TABLE_UNITS_PER_SECOND } : {}),
};

/**
 * The design's serialised chain on AWS, for the projection: each record is a chain of
 * dependent round trips (cohort upsert → identifier lookups → register reads → the
 * transactions, 4 in flight, so ⌈11/4⌉ = 3 waves → report) = 7 round trips (events leave
 * from the table's stream, in parallel with the next records); DynamoDB answers in single-digit milliseconds
 * ("consistent single-digit millisecond performance at any scale", DynamoDB developer
 * guide), taken as 10 ms. The sync runs at most MAXIMUM_CONCURRENCY invocations of 10
 * records each (serverless.yml), all records of a batch in parallel.
 */
const ROUND_TRIPS_PER_RECORD = 7;
const ROUND_TRIP_SECONDS = 0.01;
const MAXIMUM_CONCURRENCY = 10;
const RECORDS_PER_BATCH = 10;

log(
  `big cohort: ${USERS.toLocaleString('en-US')} users, ${REQUESTS} requests × ${IDS_PER_REQUEST}; limits/${SCALE}; ${LAMBDAS} concurrent syncs; ${PLACEMENT.physicalPartitions ? `keys on ${PLACEMENT.physicalPartitions} physical partitions` : 'each key its own partition'}; ${PLACEMENT.tableUnits ? 'a new table (4,000 WRU/s)' : 'table at its quota'}`,
);
const FIXED = values['fixed-transactions'] ? Number(values['fixed-transactions']) : undefined;
const { stack, syncClient, syncBatchMs, eventsBatchMs } = await startBenchStack({
  prefix: `big${Date.now().toString(36)}`,
  lambdas: LAMBDAS,
  ...(FIXED ? { syncTransactionLoad: { initial: FIXED, min: FIXED, max: FIXED } } : {}),
});

try {
  const workspaceId = stack.workspace.workspaceId;
  const limits = limitSync(stack, syncClient, SCALE, PLACEMENT);
  const sns = countPublishes(stack.clients.sns);
  const requeued = { count: 0 };
  stack.clients.sqs.middlewareStack.add(
    (next, context) => async (args) => {
      const body = (args.input as { MessageBody?: string }).MessageBody;
      if (context.commandName === 'SendMessageCommand' && body?.includes('"requeues":')) requeued.count += 1;
      return next(args);
    },
    { step: 'initialize', name: 'countRequeues' },
  );

  // Users as the user store keeps them (profile, external id index item, the count), written
  // in bulk: through findOrCreate a million users take half an hour here.
  log(`seeding ${USERS.toLocaleString('en-US')} users`);
  const externalIds = Array.from({ length: USERS }, (_, index) => `big-user-${index}`);
  const brazeIds = randomBytes(12 * USERS)
    .toString('hex')
    .match(/.{24}/g)!;
  const seededAt = new Date().toISOString();
  function* userItems() {
    for (let index = 0; index < USERS; index += 1) {
      const brazeId = brazeIds[index]!;
      const externalId = externalIds[index]!;
      yield {
        pk: profileKey(workspaceId, brazeId),
        ...workspaceIndexKeys(workspaceId, brazeId),
        brazeId,
        workspaceId,
        externalId,
        aliases: [],
        deviceIds: [],
        customAttributes: {},
        createdAt: seededAt,
        updatedAt: seededAt,
      };
      yield indexItem(workspaceId, { type: 'external_id', externalId }, brazeId, true);
    }
    for (let lane = 0; lane < USER_COUNT_LANES; lane += 1) {
      yield {
        pk: userCountKey(workspaceId, lane),
        users: Math.floor(USERS / USER_COUNT_LANES) + (lane < USERS % USER_COUNT_LANES ? 1 : 0),
        lastCreatedAt: seededAt,
      };
    }
  }
  await bulkWrite(stack.clients.documents, stack.tables.users, userItems(), WRITERS, 'users');

  // --- the fastest raw write path, first half ------------------------------------------------
  const rawWrites = rawBatchWriter(stack.clients.documents, stack.tables.cohorts, workspaceId, WRITERS);
  log(`raw ceiling (1/2): ${Math.floor(USERS / 2)} items by BatchWriteItem 25 × ${WRITERS} in flight`);
  let rawMs = await rawWrites(Math.floor(USERS / 2));

  // --- the pipeline, under the limits ---------------------------------------------------------
  limits.reset();
  limits.enabled = true;
  const body = (index: number) =>
    JSON.stringify({
      partner_api_key: stack.partnerApiKey,
      client_secret: stack.workspace.dataImportKey,
      cohort_id: COHORT,
      cohort_changes: [{ user_ids: externalIds.slice(index * IDS_PER_REQUEST, (index + 1) * IDS_PER_REQUEST) }],
    });
  const ref = { workspaceId, partner: 'heap', cohortId: COHORT };
  const queueDepth = (queueUrl: string) => sharedQueueDepth(stack.clients.sqs, queueUrl);
  log(`pipeline: ${REQUESTS} requests over HTTP, ${SENDERS} in flight`);
  const pipelineStarted = now();
  let retriedRequests = 0;
  const sending = pool(REQUESTS, SENDERS, async (index) => {
    retriedRequests += await postAsPartner(`${stack.url}/partners/heap/cohorts/users`, body(index), `request ${index}`);
  });
  let progressAt = now();
  for (;;) {
    await new Promise((resolve) => setTimeout(resolve, 500));
    const members = (await stack.stores.memberships.getCohort(ref))?.memberCount ?? 0;
    if (members >= USERS && (await queueDepth(stack.queues.queueUrl)) === 0) break;
    if (now() - progressAt > 30_000) {
      progressAt = now();
      log(
        `  ${members.toLocaleString('en-US')} members after ${((now() - pipelineStarted) / 1000).toFixed(0)} s; ${limits.stats().outcomes.throttled} throttled so far`,
      );
    }
    if (now() - pipelineStarted > 3 * 60 * 60_000)
      throw new Error(`pipeline incomplete after 3 hours: ${members}/${USERS}`);
  }
  await sending;
  // Every change is a flip: the pipeline is done when its last event is published. A lost
  // event fails the run (no progress for 2 minutes) rather than hanging it.
  let eventsSeen = sns.messages;
  let eventsProgressAt = now();
  while (sns.messages < USERS) {
    if (sns.messages !== eventsSeen) [eventsSeen, eventsProgressAt] = [sns.messages, now()];
    if (now() - eventsProgressAt > 120_000)
      throw new Error(`membership events stalled at ${sns.messages.toLocaleString('en-US')} of ${USERS} flips`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  const pipelineMs = now() - pipelineStarted;
  limits.enabled = false;
  const stats = limits.stats();
  const transactionLoad = stack.syncMemberships.transactionLoad();

  // --- the raw ceiling, second half ------------------------------------------------------
  log(`raw ceiling (2/2): ${USERS - Math.floor(USERS / 2)} items`);
  rawMs += await rawWrites(USERS - Math.floor(USERS / 2));

  // --- verification ----------------------------------------------------------------------------
  log('verifying every membership, the count and the DLQ');
  const problems: string[] = [];
  const expected = [...brazeIds].sort();
  let position = 0;
  for await (const member of stack.stores.memberships.cohortMembers(ref)) {
    if (member !== expected[position]) {
      problems.push(`member #${position}: ${member}, expected ${expected[position]}`);
      break;
    }
    position += 1;
  }
  if (position !== expected.length && problems.length === 0)
    problems.push(`${position} members listed, expected ${expected.length}`);
  const memberCount = (await stack.stores.memberships.getCohort(ref))?.memberCount;
  if (memberCount !== USERS) problems.push(`member_count ${memberCount}, expected ${USERS}`);
  const deadLettered = await queueDepth(stack.queues.deadLetterQueueUrl);
  if (deadLettered !== 0) problems.push(`${deadLettered} messages in the DLQ`);
  // Events equal to the flips, not at least as many: once everything has settled, a duplicate publish shows.
  await stack.settled(10 * 60_000);
  if (sns.eventIds.size !== USERS) problems.push(`${sns.eventIds.size} distinct membership events for ${USERS} flips`);

  // --- figures ---------------------------------------------------------------------------------
  const localRate = USERS / (pipelineMs / 1000);
  const rawRate = USERS / (rawMs / 1000);
  const units = billedUnits(limits);
  const projection = projectAwsTime(stats, PLACEMENT);
  const chainSeconds =
    (REQUESTS / (MAXIMUM_CONCURRENCY * RECORDS_PER_BATCH)) * ROUND_TRIPS_PER_RECORD * ROUND_TRIP_SECONDS;
  const chain = {
    seconds: chainSeconds,
    arithmetic: `serialised chain: ${REQUESTS} records ÷ (${MAXIMUM_CONCURRENCY} invocations × ${RECORDS_PER_BATCH} records) × ${ROUND_TRIPS_PER_RECORD} round trips × ${ROUND_TRIP_SECONDS * 1000} ms = ${chainSeconds.toFixed(2)} s`,
  };
  const awsSeconds = Math.max(projection.seconds, chain.seconds);
  const awsRate = USERS / awsSeconds;
  const syncMsPerRequest = syncBatchMs.reduce((sum, value) => sum + value, 0) / REQUESTS;
  const messageBytes = Buffer.byteLength(body(0));
  const cost = costPerMillionChanges({
    identifiersPerRequest: IDS_PER_REQUEST,
    messageBytes,
    recordsPerBatch: RECORDS_PER_BATCH,
    // Ingest is measured by the many-cohorts scenario; its figure of record (docs/performance.md).
    ingestMs: 12,
    ingestMemoryGb: 0.5,
    syncMsPerRequest,
    syncMemoryGb: 1,
    syncWriteUnitsPer1000: (units.write * 1000) / USERS,
    syncReadUnitsPer1000: (units.read * 1000) / USERS,
    ingestReadUnits: INGEST_UNITS_PER_REQUEST.read,
    ingestWriteUnits: INGEST_UNITS_PER_REQUEST.write,
    snsRequestsPer1000: (sns.billedRequests * 1000) / USERS,
    eventsInvocationsPer1000: (eventsBatchMs.length * 1000) / USERS,
    eventsMsPer1000: (eventsBatchMs.reduce((sum, value) => sum + value, 0) * 1000) / USERS,
    eventsMemoryGb: 0.5,
  });

  // The forecast: what this run's rate under limits/SCALE comes to at AWS's scale, as a share
  // of the ceiling the same trace allows, carried to a 5M first sync on a new and on a warmed table.
  const forecastRate = localRate * SCALE;
  const utilisation = Math.min(1, forecastRate / awsRate);
  const fiveMillion = (warmWriteUnits: number) =>
    forecastFirstSync({
      changes: 5_000_000,
      writeUnitsPerChange: units.write / USERS,
      warmWriteUnits,
      // Shards hashed onto fewer physical partitions get those partitions' rate at most.
      shards: Math.min(REGISTER_SHARDS, PLACEMENT.physicalPartitions ?? REGISTER_SHARDS),
      utilisation,
    }).seconds / 60;
  const firstSync = {
    forecastChangesPerSecond: forecastRate,
    utilisation,
    newTableMinutes: fiveMillion(NEW_TABLE_WRITE_UNITS),
    warmedTableMinutes: fiveMillion(TABLE_QUOTA_WRITE_UNITS),
  };

  const result = {
    at: new Date().toISOString(),
    scenario: 'big-cohort',
    machine: machineDescription(),
    parameters: {
      users: USERS,
      requests: REQUESTS,
      identifiersPerRequest: IDS_PER_REQUEST,
      limitsScale: SCALE,
      lambdas: LAMBDAS,
      senders: SENDERS,
      writers: WRITERS,
      placement: PLACEMENT,
      fixedTransactions: FIXED ?? null,
    },
    local: {
      changesPerSecond: localRate,
      pipelineSeconds: pipelineMs / 1000,
      rawChangesPerSecond: rawRate,
      ratio: localRate / rawRate,
      retriedRequests,
      requeued: requeued.count,
    },
    verification: { problems, deadLettered, memberCount },
    limits: {
      outcomes: stats.outcomes,
      throttles: stats.throttles,
      conflicts: stats.conflicts,
      per1000Changes: {
        throttled: (stats.outcomes.throttled * 1000) / USERS,
        conflicts: (stats.outcomes.conflict * 1000) / USERS,
        requeued: (requeued.count * 1000) / USERS,
      },
      transactionLoad,
      byTable: stats.byTable,
      byCommand: stats.byCommand,
    },
    unitsPerChange: { write: units.write / USERS, read: units.read / USERS },
    awsProjection: { seconds: awsSeconds, changesPerSecond: awsRate, terms: projection.terms.slice(0, 6), chain },
    syncMsPerRequest,
    firstSync,
    membershipEvents: {
      messages: sns.messages,
      distinct: sns.eventIds.size,
      publishBatchCalls: sns.calls,
      billedRequests: sns.billedRequests,
    },
    costPerMillionChanges: { ...cost, prices: PRICES },
  };

  console.log(
    `\nBig cohort, ${result.at} — ${result.machine.cpus} × ${result.machine.cpu}, ${result.machine.memoryGb} GiB, Node ${result.machine.node}\n`,
  );
  console.log(
    `big cohort: ${Math.round(localRate).toLocaleString('en-US')} changes/s locally under limits/${SCALE}; AWS projection ${Math.round(awsRate).toLocaleString('en-US')} changes/s for one cohort; dead-lettered ${deadLettered}; ${problems.length === 0 ? 'verified exact' : `NOT exact: ${problems.join('; ')}`}`,
  );
  console.log(
    `billed write units per change (index writes included): ${result.unitsPerChange.write.toFixed(3)}; read units per change: ${result.unitsPerChange.read.toFixed(3)}`,
  );
  console.log(
    `pipeline / fastest raw write path (BatchWriteItem 25 × ${WRITERS} in flight, same run): ${result.local.ratio.toFixed(2)} (${Math.round(rawRate).toLocaleString('en-US')} items/s)`,
  );
  console.log(`\nAWS projection for ${USERS.toLocaleString('en-US')} changes (the slowest term binds):`);
  for (const term of [...projection.terms.slice(0, 4).map((item) => item.arithmetic), chain.arithmetic])
    console.log(`  ${term}`);
  console.log(
    `  → ${USERS.toLocaleString('en-US')} changes ÷ ${awsSeconds.toFixed(2)} s = ${Math.round(awsRate).toLocaleString('en-US')} changes/s`,
  );
  console.log(
    `forecast: ${Math.round(localRate).toLocaleString('en-US')} changes/s measured × ${SCALE} = ${Math.round(forecastRate).toLocaleString('en-US')} changes/s, ${(utilisation * 100).toFixed(0)}% of the ceiling`,
  );
  console.log(
    `5M first sync: new table ${firstSync.newTableMinutes.toFixed(1)} min, warmed ${firstSync.warmedTableMinutes.toFixed(1)} min (new: ${NEW_TABLE_WRITE_UNITS.toLocaleString('en-US')} WRU/s doubling every 30 min; warmed: ${TABLE_QUOTA_WRITE_UNITS.toLocaleString('en-US')} WRU/s, ${REGISTER_SHARDS} shards × 1,000 WCU/s; lib/local/first-sync-forecast.ts)`,
  );
  const per1000 = result.limits.per1000Changes;
  console.log(
    `\nper 1,000 changes: ${per1000.throttled.toFixed(2)} throttled requests, ${per1000.conflicts.toFixed(2)} conflicts, ${per1000.requeued.toFixed(2)} requeued records; adaptive transaction limit ${transactionLoad.limit} at the end (lowest ${transactionLoad.lowest}, cut ${transactionLoad.decreases} times on ${transactionLoad.overloads} throttled transactions)`,
  );
  console.log(
    `limits model: ${stats.requests.toLocaleString('en-US')} requests; throttled ${stats.outcomes.throttled} ${JSON.stringify(stats.throttles)}; conflicts ${JSON.stringify(stats.conflicts)}; requests requeued by the sync ${requeued.count}; partner retries ${retriedRequests}`,
  );
  console.log(
    `AWS cost per million changes: $${cost.total.toFixed(3)} (DynamoDB $${cost.dynamodb.toFixed(3)}, SNS $${cost.sns.toFixed(3)}, Lambda $${(cost.lambdaIngest + cost.lambdaSync + cost.lambdaEvents).toFixed(3)} of which events $${cost.lambdaEvents.toFixed(3)}, SQS $${cost.sqs.toFixed(4)}, API GW $${cost.apiGateway.toFixed(4)}, logs $${cost.logs.toFixed(4)}, traces $${cost.traces.toFixed(4)})`,
  );

  await mkdir('bench/results', { recursive: true });
  const stampName = `big-cohort-${result.at.replace(/[:.]/g, '-')}`;
  await writeFile(`bench/results/${stampName}.json`, JSON.stringify(result, null, 2));
  if (values.latest !== 'no') await writeFile('bench/results/big-cohort-latest.json', JSON.stringify(result, null, 2));
  console.log(`\nSaved bench/results/${stampName}.json`);
  if (problems.length > 0) process.exitCode = 1;
} finally {
  await stack.stop();
}
