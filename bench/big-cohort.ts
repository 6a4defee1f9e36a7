/**
 * `npm run bench -- --scenario big-cohort [--users 100000 --limits-scale 20 --lambdas 2 --senders 8 --writers 16
 *   --physical-partitions 16 --new-table --fixed-transactions 40
 *   --churn yes --removes 0.5 --readds 0.5 --duplicates 0.02 --reorder 0.05 --redeliver 0.05 --seed N]`
 *
 * One cohort of N existing users synced from scratch: N/1,000 partner requests of 1,000
 * distinct identifiers each, over HTTP → SQS → sync → DynamoDB Local, with the sync's
 * DynamoDB client behind the model of AWS's limits (local/aws-limits.ts) with every
 * rate divided by --limits-scale, so that this machine reaches them. With churn (the
 * default; `--churn no` is the first sync alone), two refreshes follow the first sync, each
 * once the one before has been applied: the removal of a fraction of the users (--removes),
 * then the return of a fraction of those (--readds). In every phase a seeded PRNG (--seed,
 * printed; the same seed replays the same plan) picks requests the partner sends twice
 * (--duplicates: the same body, two acceptances) and accepted requests SQS delivers 5–30 s
 * late (--reorder: DelaySeconds, behind later ones); after the last phase a share of all
 * accepted requests is delivered again, shuffled (--redeliver: every change in them older
 * than, or the same as, its membership's last, so the ordering rule must ignore them).
 * Why phases: a membership's flips are then the same whatever order the sync applies its
 * changes in (in a phase every change to a user goes the same way), so the events can be
 * held EQUAL to the serial oracle's flips; where adds and removes of one user race, the
 * store may rightly flip fewer times than serial application (the cohort soak,
 * test/support/soak.ts, checks that case). Then:
 * - holds every membership and the count to the serial oracle (test/support/oracle.ts) over
 *   the requests ingest accepted, and checks that the DLQ is empty;
 * - holds the membership events (distinct event_ids), by type and user by user, EQUAL to
 *   the oracle's flips; a phase that stops progressing or events that stall fail the run
 *   (bounded waits) instead of hanging it;
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
import { queueDepth as sharedQueueDepth } from '../local/settle.js';
import { NEW_TABLE_UNITS_PER_SECOND, projectAwsTime, type Placement } from '../local/aws-limits.js';
import { forecastFirstSync, NEW_TABLE_WRITE_UNITS, TABLE_QUOTA_WRITE_UNITS } from '../local/first-sync-forecast.js';
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
import { SendMessageCommand } from '@aws-sdk/client-sqs';
import type { MembershipEvent } from '../lib/cohorts/events.js';
import type { CohortQueue } from '../lib/cohorts/ingest.js';
import { toSqsBody } from '../lib/sqs/cohort-queue.js';
import { serialReplay } from '../test/support/oracle.js';
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
    // The oracle's workload (see the header): refreshes after the first sync, duplicates, reordering.
    churn: { type: 'string', default: 'yes' },
    removes: { type: 'string', default: '0.5' },
    readds: { type: 'string', default: '0.5' },
    duplicates: { type: 'string', default: '0.02' },
    reorder: { type: 'string', default: '0.05' },
    redeliver: { type: 'string', default: '0.05' },
    seed: { type: 'string' },
  },
});
const USERS = Number(values.users);
const IDS_PER_REQUEST = 1_000; // contract: at most 1,000 identifiers per request
const CHURN = values.churn !== 'no';
const share = (value: string | undefined) => (CHURN ? Number(value) : 0);
const REMOVES = share(values.removes);
const READDS = share(values.readds);
const DUPLICATES = share(values.duplicates);
const REORDER = share(values.reorder);
const REDELIVER = share(values.redeliver);
const SEED = values.seed !== undefined ? Number(values.seed) >>> 0 : randomBytes(4).readUInt32BE(0);
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
/** Bounded waits: a phase with no progress this long, or a drained queue with the count still off the oracle's. */
const STALL_MS = 5 * 60_000;
const DRAINED_MISMATCH_MS = 30_000;
const EVENTS_STALL_MS = 120_000;

/** mulberry32: a small seeded PRNG, so that `--seed` replays the same plan (users, duplicates, delays, redeliveries). */
const prng = (seed: number) => {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
};
const random = prng(SEED);
const shuffle = <T>(items: T[]): T[] => {
  for (let index = items.length - 1; index > 0; index -= 1) {
    const other = Math.floor(random() * (index + 1));
    [items[index], items[other]] = [items[other]!, items[index]!];
  }
  return items;
};

// --- the plan: phases of partner requests, from the seed ----------------------------------------
interface PlannedRequest {
  phase: number;
  userIndexes: number[];
  remove: boolean;
  /** 2: the partner sends the same body twice. */
  copies: number;
  /** > 0: SQS delivers the accepted request this many seconds late. */
  delaySeconds: number;
}
interface Phase {
  number: number;
  name: string;
  requests: PlannedRequest[];
  /** Members once the phase is applied: every user of a phase flips (removes hit members, re-adds removed users). */
  membersAfter: number;
}
const everyone = Array.from({ length: USERS }, (_, index) => index);
const removed = shuffle([...everyone]).slice(0, Math.round(USERS * REMOVES));
const readded = shuffle(removed.slice(0, Math.round(removed.length * READDS)));
const phases: Phase[] = [];
for (const [name, users, remove] of [
  ['first sync', everyone, false],
  ['removes', removed, true],
  ['re-adds', readded, false],
] as const) {
  if (users.length === 0) continue;
  const number = phases.length + 1;
  const requests = Array.from({ length: Math.ceil(users.length / IDS_PER_REQUEST) }, (_, index) => ({
    phase: number,
    userIndexes: users.slice(index * IDS_PER_REQUEST, (index + 1) * IDS_PER_REQUEST),
    remove,
    copies: random() < DUPLICATES ? 2 : 1,
    delaySeconds: random() < REORDER ? 5 + Math.floor(random() * 26) : 0,
  }));
  const before = phases.at(-1)?.membersAfter ?? 0;
  phases.push({ number, name, requests, membersAfter: before + (remove ? -users.length : users.length) });
}
const PLANNED = phases.flatMap((phase) => phase.requests);
const PARTNER_REQUESTS = PLANNED.reduce((sum, request) => sum + request.copies, 0);
const DUPLICATE_REQUESTS = PARTNER_REQUESTS - PLANNED.length;
const CHANGES = PLANNED.reduce((sum, request) => sum + request.copies * request.userIndexes.length, 0);
const DISTINCT_CHANGES = PLANNED.reduce((sum, request) => sum + request.userIndexes.length, 0);
const externalIds = Array.from({ length: USERS }, (_, index) => `big-user-${index}`);
/** 96 random bits each, from the seed too (they place the registers on shards). */
const brazeIds = Array.from({ length: USERS }, () =>
  Array.from({ length: 3 }, () =>
    Math.floor(random() * 2 ** 32)
      .toString(16)
      .padStart(8, '0'),
  ).join(''),
);
/** The command that replays this plan: the same arguments, this seed. */
const REPLAY = `npm run bench -- ${process.argv
  .slice(2)
  .filter((arg, index, args) => !arg.startsWith('--seed') && args[index - 1] !== '--seed')
  .join(' ')} --seed ${SEED}`;
/** Changes (identifiers) in the accepted requests that add, or that remove. */
const oracleChanges = (bodies: readonly string[], remove: boolean) =>
  bodies.reduce((sum, body) => {
    const message = JSON.parse(body) as { changes?: { user_ids?: string[]; should_remove?: boolean }[] };
    return (
      sum +
      (message.changes ?? [])
        .filter((change) => (change.should_remove === true) === remove)
        .reduce((count, change) => count + (change.user_ids?.length ?? 0), 0)
    );
  }, 0);
const brazeIdOf = (externalId: string) => {
  const index = /^big-user-(\d+)$/.exec(externalId)?.[1];
  return index === undefined ? undefined : brazeIds[Number(index)];
};

log(
  `big cohort: ${USERS.toLocaleString('en-US')} users; ${phases.map((phase) => `${phase.name} ${phase.requests.length} requests`).join(', ')} (+${DUPLICATE_REQUESTS} sent twice), ${CHANGES.toLocaleString('en-US')} changes × ≤ ${IDS_PER_REQUEST} a request; seed ${SEED}; limits/${SCALE}; ${LAMBDAS} concurrent syncs; ${PLACEMENT.physicalPartitions ? `keys on ${PLACEMENT.physicalPartitions} physical partitions` : 'each key its own partition'}; ${PLACEMENT.tableUnits ? 'a new table (4,000 WRU/s)' : 'table at its quota'}`,
);

// What ingest accepted (the oracle's input), and SQS's late deliveries of the planned ones.
const accepted: string[] = [];
let currentPhase = 0;
let delayedRequests = 0;
const delays = new Map(
  PLANNED.filter((request) => request.delaySeconds > 0).map((request) => [
    `${request.phase}:${externalIds[request.userIndexes[0]!]}`,
    request.delaySeconds,
  ]),
);
const recordAndDelay = (queue: CohortQueue): CohortQueue => ({
  async send(message, options) {
    const late =
      message.type === 'cohort.changed'
        ? delays.get(`${currentPhase}:${message.changes[0]?.user_ids?.[0]}`)
        : undefined;
    await queue.send(message, late ? { ...options, delaySeconds: late } : options);
    if (late) delayedRequests += 1;
    accepted.push(toSqsBody(message));
  },
});

const FIXED = values['fixed-transactions'] ? Number(values['fixed-transactions']) : undefined;
const { stack, syncClient, syncBatchMs, eventsBatchMs } = await startBenchStack({
  prefix: `big${Date.now().toString(36)}`,
  lambdas: LAMBDAS,
  wrapQueue: recordAndDelay,
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
  // Every distinct membership event, by type and by user (its order stamp and type), to hold to the oracle's flips.
  const events = { added: 0, removed: 0, byUser: new Map<string, [string, 'a' | 'r'][]>(), ids: new Set<string>() };
  stack.clients.sns.middlewareStack.add(
    (next) => async (args) => {
      const input = args.input as { PublishBatchRequestEntries?: { Message?: string }[]; Message?: string };
      for (const entry of input.PublishBatchRequestEntries ?? [{ Message: input.Message }]) {
        const event = JSON.parse(entry.Message ?? '{}') as Partial<MembershipEvent>;
        if (!event.event_id || events.ids.has(event.event_id) || !event.user) continue;
        events.ids.add(event.event_id);
        const type = event.type === 'cohort.membership.added' ? 'a' : 'r';
        if (type === 'a') events.added += 1;
        else events.removed += 1;
        const seen = events.byUser.get(event.user.braze_id) ?? [];
        seen.push([event.order_stamp ?? '', type]);
        events.byUser.set(event.user.braze_id, seen);
      }
      return next(args);
    },
    { step: 'initialize', name: 'recordMembershipEvents' },
  );

  // Users as the user store keeps them (profile, external id index item, the count), written
  // in bulk: through findOrCreate a million users take half an hour here.
  log(`seeding ${USERS.toLocaleString('en-US')} users`);
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

  // --- the pipeline, under the limits: the phases, each applied before the next -------------------
  limits.reset();
  limits.enabled = true;
  const bodyOf = (request: PlannedRequest) =>
    JSON.stringify({
      partner_api_key: stack.partnerApiKey,
      client_secret: stack.workspace.dataImportKey,
      cohort_id: COHORT,
      cohort_changes: [
        {
          user_ids: request.userIndexes.map((index) => externalIds[index]!),
          ...(request.remove ? { should_remove: true } : {}),
        },
      ],
    });
  const ref = { workspaceId, partner: 'heap', cohortId: COHORT };
  const queueDepth = (queueUrl: string) => sharedQueueDepth(stack.clients.sqs, queueUrl);
  const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
  const problems: string[] = [];
  /**
   * Waits until the phase is applied: the queue empty (visible, in flight, delayed) and the
   * count at the oracle's. Bounded: a drained queue with the count off for 30 s, or no
   * progress at all for 5 minutes, is a failure (returned), never a hang.
   */
  const applied = async (phase: Phase): Promise<string | undefined> => {
    let last = '';
    let progressAt = now();
    let saidAt = now();
    let drainedAt: number | undefined;
    for (;;) {
      await sleep(500);
      const members = (await stack.stores.memberships.getCohort(ref))?.memberCount ?? 0;
      const depth = await queueDepth(stack.queues.queueUrl);
      if (members === phase.membersAfter && depth === 0) return undefined;
      if (`${members}/${depth}` !== last) [last, progressAt] = [`${members}/${depth}`, now()];
      drainedAt = depth === 0 ? (drainedAt ?? now()) : undefined;
      const state = `${members.toLocaleString('en-US')} members (oracle ${phase.membersAfter.toLocaleString('en-US')}), ${depth} messages queued`;
      if (drainedAt !== undefined && now() - drainedAt > DRAINED_MISMATCH_MS)
        return `phase ${phase.number} (${phase.name}): queue drained ${DRAINED_MISMATCH_MS / 1000} s ago at ${state}`;
      if (now() - progressAt > STALL_MS)
        return `phase ${phase.number} (${phase.name}): no progress for ${STALL_MS / 60_000} minutes at ${state}`;
      if (now() - saidAt > 30_000) {
        saidAt = now();
        log(
          `  ${phase.name}: ${state} after ${((now() - pipelineStarted) / 1000).toFixed(0)} s; ${limits.stats().outcomes.throttled} throttled so far`,
        );
      }
    }
  };
  log(
    `pipeline: ${PARTNER_REQUESTS} requests over HTTP in ${phases.length} phases, ${SENDERS} in flight; ${delays.size} planned late deliveries`,
  );
  const pipelineStarted = now();
  let retriedRequests = 0;
  for (const phase of phases) {
    currentPhase = phase.number;
    const sends = shuffle(phase.requests.flatMap((request) => Array.from({ length: request.copies }, () => request)));
    log(
      `phase ${phase.number}, ${phase.name}: ${sends.length} requests (${sends.length - phase.requests.length} sent twice)`,
    );
    await pool(sends.length, SENDERS, async (index) => {
      retriedRequests += await postAsPartner(
        `${stack.url}/partners/heap/cohorts/users`,
        bodyOf(sends[index]!),
        `phase ${phase.number} request ${index}`,
      );
    });
    const failed = await applied(phase);
    if (failed) {
      problems.push(failed);
      break;
    }
  }
  // The membership events: as many as the oracle's flips, bounded (a lost event fails the run, no progress for 2 minutes).
  const flipsSoFar = serialReplay(accepted, brazeIdOf);
  const expectedFlips = flipsSoFar.added + flipsSoFar.removed;
  let eventsSeen = events.ids.size;
  let eventsProgressAt = now();
  while (problems.length === 0 && events.ids.size < expectedFlips) {
    if (events.ids.size !== eventsSeen) [eventsSeen, eventsProgressAt] = [events.ids.size, now()];
    if (now() - eventsProgressAt > EVENTS_STALL_MS) {
      problems.push(
        `membership events stalled at ${events.ids.size.toLocaleString('en-US')} of ${expectedFlips.toLocaleString('en-US')} flips`,
      );
      break;
    }
    await sleep(200);
  }
  const pipelineMs = now() - pipelineStarted;
  limits.enabled = false;
  const stats = limits.stats();
  const transactionLoad = stack.syncMemberships.transactionLoad();
  // What the measured part cost, before the redeliveries below add their (unmeasured) batches.
  const acceptedRequests = accepted.length;
  const syncMs = syncBatchMs.reduce((sum, value) => sum + value, 0);
  const eventsBatches = [...eventsBatchMs];
  const published = { messages: sns.messages, calls: sns.calls, billedRequests: sns.billedRequests };

  // --- the raw ceiling, second half ------------------------------------------------------
  log(`raw ceiling (2/2): ${USERS - Math.floor(USERS / 2)} items`);
  rawMs += await rawWrites(USERS - Math.floor(USERS / 2));

  // --- stale redeliveries: accepted requests again, shuffled, after everything they could change ----
  const redelivered = shuffle([...accepted].sort()).slice(0, Math.round(accepted.length * REDELIVER));
  if (problems.length === 0 && redelivered.length > 0) {
    log(`redelivering ${redelivered.length} accepted requests, shuffled (older than their memberships' last changes)`);
    for (const body of redelivered)
      await stack.clients.sqs.send(new SendMessageCommand({ QueueUrl: stack.queues.queueUrl, MessageBody: body }));
  }
  try {
    // Events equal to the flips, not at least as many: once everything has settled, a duplicate publish shows.
    await stack.settled(10 * 60_000);
  } catch (error: unknown) {
    problems.push(`not settled: ${(error as Error).message}`);
  }

  // --- verification against the serial oracle -------------------------------------------------------
  log('verifying every membership, the count, the events and the DLQ against the serial oracle');
  const oracle = serialReplay(accepted, brazeIdOf);
  const expected = new Set<string>();
  for (const [brazeId, member] of oracle.state) if (member) expected.add(brazeId);
  const listed = new Set<string>();
  let listedTwice = 0;
  for await (const member of stack.stores.memberships.cohortMembers(ref)) {
    if (listed.has(member)) listedTwice += 1;
    listed.add(member);
  }
  const missing = [...expected].filter((brazeId) => !listed.has(brazeId));
  const extra = [...listed].filter((brazeId) => !expected.has(brazeId));
  if (missing.length + extra.length + listedTwice > 0)
    problems.push(
      `memberships: ${missing.length} of the oracle's members missing (e.g. ${missing.slice(0, 3).join(', ')}), ${extra.length} members the oracle has not (e.g. ${extra.slice(0, 3).join(', ')}), ${listedTwice} listed twice`,
    );
  const memberCount = (await stack.stores.memberships.getCohort(ref))?.memberCount;
  if (memberCount !== expected.size) problems.push(`member_count ${memberCount}, oracle ${expected.size}`);
  const deadLettered = await queueDepth(stack.queues.deadLetterQueueUrl);
  if (deadLettered !== 0) problems.push(`${deadLettered} messages in the DLQ`);
  if (events.added !== oracle.added || events.removed !== oracle.removed)
    problems.push(
      `events: ${events.added} added and ${events.removed} removed, the oracle's flips ${oracle.added} added and ${oracle.removed} removed`,
    );
  const userMismatches: string[] = [];
  for (const brazeId of new Set([...oracle.flips.keys(), ...events.byUser.keys()])) {
    const published = (events.byUser.get(brazeId) ?? [])
      .sort(([a], [b]) => (a < b ? -1 : 1))
      .map(([, type]) => type)
      .join('');
    const flips = oracle.flips.get(brazeId) ?? '';
    if (published !== flips) userMismatches.push(`${brazeId}: events '${published}', oracle '${flips}'`);
  }
  if (userMismatches.length > 0)
    problems.push(
      `${userMismatches.length} users whose events are not the oracle's flips (a added, r removed), e.g. ${userMismatches.slice(0, 3).join('; ')}`,
    );
  const reordered = delayedRequests + redelivered.length;
  const countedAdds = oracleChanges(accepted, false);
  const countedRemoves = oracleChanges(accepted, true);
  const ACCEPTED_CHANGES = countedAdds + countedRemoves;
  const oracleLine = `oracle: ${(countedAdds + countedRemoves).toLocaleString('en-US')} changes (${countedAdds.toLocaleString('en-US')} adds, ${countedRemoves.toLocaleString('en-US')} removes, ${DUPLICATE_REQUESTS} duplicate requests, ${reordered} reordered), ${expected.size.toLocaleString('en-US')} members, ${(events.added + events.removed).toLocaleString('en-US')} events ${events.added === oracle.added && events.removed === oracle.removed ? '= flips' : `≠ ${(oracle.added + oracle.removed).toLocaleString('en-US')} flips`}, ${problems.length === 0 ? 'exact' : 'NOT exact'}`;

  // --- figures ---------------------------------------------------------------------------------
  const localRate = ACCEPTED_CHANGES / (pipelineMs / 1000);
  const rawRate = USERS / (rawMs / 1000);
  const units = billedUnits(limits);
  const projection = projectAwsTime(stats, PLACEMENT);
  const REQUESTS = acceptedRequests;
  const chainSeconds =
    (REQUESTS / (MAXIMUM_CONCURRENCY * RECORDS_PER_BATCH)) * ROUND_TRIPS_PER_RECORD * ROUND_TRIP_SECONDS;
  const chain = {
    seconds: chainSeconds,
    arithmetic: `serialised chain: ${REQUESTS} records ÷ (${MAXIMUM_CONCURRENCY} invocations × ${RECORDS_PER_BATCH} records) × ${ROUND_TRIPS_PER_RECORD} round trips × ${ROUND_TRIP_SECONDS * 1000} ms = ${chainSeconds.toFixed(2)} s`,
  };
  const awsSeconds = Math.max(projection.seconds, chain.seconds);
  const awsRate = ACCEPTED_CHANGES / awsSeconds;
  const syncMsPerRequest = syncMs / REQUESTS;
  const messageBytes = Buffer.byteLength(bodyOf(PLANNED[0]!));
  const cost = costPerMillionChanges({
    identifiersPerRequest: IDS_PER_REQUEST,
    messageBytes,
    recordsPerBatch: RECORDS_PER_BATCH,
    // Ingest is measured by the many-cohorts scenario; its figure of record (docs/performance.md).
    ingestMs: 12,
    ingestMemoryGb: 0.5,
    syncMsPerRequest,
    syncMemoryGb: 1,
    syncWriteUnitsPer1000: (units.write * 1000) / ACCEPTED_CHANGES,
    syncReadUnitsPer1000: (units.read * 1000) / ACCEPTED_CHANGES,
    ingestReadUnits: INGEST_UNITS_PER_REQUEST.read,
    ingestWriteUnits: INGEST_UNITS_PER_REQUEST.write,
    snsRequestsPer1000: (published.billedRequests * 1000) / ACCEPTED_CHANGES,
    eventsInvocationsPer1000: (eventsBatches.length * 1000) / ACCEPTED_CHANGES,
    eventsMsPer1000: (eventsBatches.reduce((sum, value) => sum + value, 0) * 1000) / ACCEPTED_CHANGES,
    eventsMemoryGb: 0.5,
  });

  // The forecast: what this run's rate under limits/SCALE comes to at AWS's scale, as a share
  // of the ceiling the same trace allows, carried to a 5M first sync on a new and on a warmed table.
  const forecastRate = localRate * SCALE;
  const utilisation = Math.min(1, forecastRate / awsRate);
  const fiveMillion = (warmWriteUnits: number) =>
    forecastFirstSync({
      changes: 5_000_000,
      writeUnitsPerChange: units.write / ACCEPTED_CHANGES,
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
      seed: SEED,
      churn: { removes: REMOVES, readds: READDS, duplicates: DUPLICATES, reorder: REORDER, redeliver: REDELIVER },
      changes: CHANGES,
      distinctChanges: DISTINCT_CHANGES,
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
        throttled: (stats.outcomes.throttled * 1000) / ACCEPTED_CHANGES,
        conflicts: (stats.outcomes.conflict * 1000) / ACCEPTED_CHANGES,
        requeued: (requeued.count * 1000) / ACCEPTED_CHANGES,
      },
      transactionLoad,
      byTable: stats.byTable,
      byCommand: stats.byCommand,
    },
    unitsPerChange: { write: units.write / ACCEPTED_CHANGES, read: units.read / ACCEPTED_CHANGES },
    awsProjection: { seconds: awsSeconds, changesPerSecond: awsRate, terms: projection.terms.slice(0, 6), chain },
    syncMsPerRequest,
    firstSync,
    membershipEvents: {
      messages: published.messages,
      distinct: sns.eventIds.size,
      publishBatchCalls: published.calls,
      billedRequests: published.billedRequests,
      added: events.added,
      removed: events.removed,
    },
    oracle: {
      line: oracleLine,
      changes: ACCEPTED_CHANGES,
      adds: countedAdds,
      removes: countedRemoves,
      acceptedRequests,
      duplicateRequests: DUPLICATE_REQUESTS,
      delayedRequests,
      redeliveredRequests: redelivered.length,
      members: expected.size,
      flips: { added: oracle.added, removed: oracle.removed },
      replay: REPLAY,
    },
    costPerMillionChanges: { ...cost, prices: PRICES },
  };

  console.log(
    `\nBig cohort, ${result.at} — ${result.machine.cpus} × ${result.machine.cpu}, ${result.machine.memoryGb} GiB, Node ${result.machine.node}\n`,
  );
  console.log(
    `big cohort: ${Math.round(localRate).toLocaleString('en-US')} changes/s locally under limits/${SCALE}; AWS projection ${Math.round(awsRate).toLocaleString('en-US')} changes/s for one cohort; dead-lettered ${deadLettered}; ${problems.length === 0 ? 'verified exact' : `NOT exact: ${problems.join('; ')}`}`,
  );
  console.log(oracleLine);
  console.log(
    `  reordered: ${delayedRequests} accepted requests delivered 5–30 s late (DelaySeconds), behind later ones; ${redelivered.length} delivered again after the run, shuffled; seed ${SEED} (replay: ${REPLAY})`,
  );
  console.log(
    `billed write units per change (index writes included): ${result.unitsPerChange.write.toFixed(3)}; read units per change: ${result.unitsPerChange.read.toFixed(3)}`,
  );
  console.log(
    `pipeline / fastest raw write path (BatchWriteItem 25 × ${WRITERS} in flight, same run): ${result.local.ratio.toFixed(2)} (${Math.round(rawRate).toLocaleString('en-US')} items/s)`,
  );
  console.log(`\nAWS projection for ${ACCEPTED_CHANGES.toLocaleString('en-US')} changes (the slowest term binds):`);
  for (const term of [...projection.terms.slice(0, 4).map((item) => item.arithmetic), chain.arithmetic])
    console.log(`  ${term}`);
  console.log(
    `  → ${ACCEPTED_CHANGES.toLocaleString('en-US')} changes ÷ ${awsSeconds.toFixed(2)} s = ${Math.round(awsRate).toLocaleString('en-US')} changes/s`,
  );
  console.log(
    `forecast: ${Math.round(localRate).toLocaleString('en-US')} changes/s measured × ${SCALE} = ${Math.round(forecastRate).toLocaleString('en-US')} changes/s, ${(utilisation * 100).toFixed(0)}% of the ceiling`,
  );
  console.log(
    `5M first sync: new table ${firstSync.newTableMinutes.toFixed(1)} min, warmed ${firstSync.warmedTableMinutes.toFixed(1)} min (new: ${NEW_TABLE_WRITE_UNITS.toLocaleString('en-US')} WRU/s doubling every 30 min; warmed: ${TABLE_QUOTA_WRITE_UNITS.toLocaleString('en-US')} WRU/s, ${REGISTER_SHARDS} shards × 1,000 WCU/s; local/first-sync-forecast.ts)`,
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
