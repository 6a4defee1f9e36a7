/**
 * The chaos soak (issue 9). Against one local stack, for N minutes at once: partners send
 * cohort deltas and renames over HTTP (retrying 5XX and 429 as the contract says), REST
 * clients track, identify, build segments, page them and export them, and faults are
 * injected at random. Then, once the queue, the DLQ (after a redrive) and the events have
 * drained, the store is held to the serial oracle (every register and member count of
 * every cohort, every name), every membership flip to its event, every segment audience
 * to set algebra over the oracle, and every HTTP answer to what was expected.
 *
 * `npm run soak -- --minutes N` (scripts/soak.ts) prints the summary; the integration test
 * (test/integration/soak.test.ts) runs one minute of it.
 *
 * What keeps the oracle exact while so much runs at once:
 * - deltas name only the cohort pool (created before the soak starts, never merged away)
 *   and identifiers that match nobody whatever happens (unknown ids and aliases, devices of
 *   identified users): no match depends on when the sync ran;
 * - users created during the soak (tracked, anonymous, identified, merged) are never named
 *   by a delta; merges go into pool users, which keep their braze_id;
 * - the oracle applies exactly the messages the queue accepted from ingest (captured by
 *   the `wrapQueue` seam after SQS took them), in order-stamp order, each request's
 *   changes in array order.
 *
 * Events are held to the store's own record of what it applied, the cohorts table's stream
 * (read here independently), and those flips to the oracle: requests that reach a
 * membership out of stamp order supersede each other, so the store may flip it fewer times
 * than serial application would, never more, and only at the oracle's changes.
 *
 * The sync runs as `SYNC_CONCURRENCY` concurrent invocations, each on a handler instance of
 * its own, as Lambda runs them (see `sharedSyncHandler` for why not the stack's own).
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Context, SQSEvent } from 'aws-lambda';
import { DescribeTableCommand, type AttributeValue, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  DescribeStreamCommand,
  DynamoDBStreamsClient,
  GetRecordsCommand,
  GetShardIteratorCommand,
} from '@aws-sdk/client-dynamodb-streams';
import { SendMessageBatchCommand } from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import type { SyncHandler } from '../../functions/sync/app.js';
import { wireSync } from '../../functions/sync/wire.js';
import { membershipEventId, type MembershipEvent } from '../../lib/cohorts/events.js';
import { CohortMessage, changeOrderKey, type CohortRef } from '../../lib/cohorts/messages.js';
import { chunk } from '../../lib/dynamodb/batch.js';
import type { MembershipStore } from '../../lib/dynamodb/membership-store.js';
import { applyAwsLimits, tableShapes, type AwsLimitsModel } from '../../local/aws-limits.js';
import { queueDepth } from '../../local/settle.js';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '../../local/constants.js';
import type { SqsHandler } from '../../local/sqs-poller.js';
import { startLocalStack, type LocalStack } from '../../local/stack.js';
import { createObservability } from '../../lib/observability.js';
import { SqsCohortQueue, toSqsBody } from '../../lib/sqs/cohort-queue.js';
import { redriveDeadLetters } from '../../lib/sqs/redrive.js';
import { MAX_EXPORT_IDS, MAX_TRACK_ATTRIBUTES } from '../../lib/users/requests.js';
import { injectDynamoDbFaults, seededRandom, type FaultInjection } from './faults.js';
import { beforeApply, readRegisters } from './store.js';

// ---------------------------------------------------------------------------------------
// The knobs
// ---------------------------------------------------------------------------------------

export interface SoakOptions {
  /** The chaos lasts at least this long… */
  minutes: number;
  /**
   * …and until partners have had at least this many cohort deltas accepted (default 0), so
   * that a slower machine soaks as much work, not less, in a longer time.
   */
  minPartnerDeltas?: number;
  seed?: number;
  /** Reuse running emulators (the integration tests' shared ones); otherwise the stack starts its own. */
  sqsEndpoint?: string;
  dynamoDbEndpoint?: string;
  /** Progress lines while it runs (stderr in the script). */
  log?: (line: string) => void;
  /**
   * Let the stack's poller run its concurrent sync invocations on the stack's one sync
   * handler, as it does today. That loses failed records (the handler's Powertools
   * BatchProcessor is shared by concurrent invocations: one clears the failures another
   * has not reported yet, so they are deleted); by default the soak gives each concurrent
   * invocation a handler instance of its own, as each Lambda execution environment has.
   */
  sharedSyncHandler?: boolean;
}

/** Cohort pool per workspace: every user a delta may name. */
const POOL_USERS = 240;
/** Every 3rd pool user has an alias (label `crm`), every 4th a device (which never matches: its user is identified). */
const ALIAS_EVERY = 3;
const DEVICE_EVERY = 4;
/** Local visibility timeout: a batch that dies comes back after it; 5 receives (infra/queues.yml) move a record to the DLQ. */
const VISIBILITY_TIMEOUT_SECONDS = 5;
/** The sync's emulated concurrent invocations. */
const SYNC_CONCURRENCY = 3;
/** First delay of a request the sync puts back under load (AWS: 10 s), short so that the soak drains quickly. */
const REQUEUE_DELAY_BASE_SECONDS = 1;
/** Limits model's divisor in a storm: 400 WCU/s for the table, 10 per partition key, so the soak's load binds. */
const STORM_SCALE = 100;
/** In a severe storm, on top of the limits model. */
const SEVERE_STORM_FAULT_RATES = { throttle: 0.5, unprocessedKeys: 0.3, transactionConflict: 0.3 };

/** Probabilities per sync invocation, per ingest send, per events publish. */
const P_SYNC_DIES_MID_BATCH = 0.08;
const P_SYNC_DIES_AFTER_BATCH = 0.04;
const P_QUEUE_REFUSES = 0.03;
const P_PUBLISH_REFUSED = 0.04;
const P_PUBLISH_DIES_AFTER = 0.02;
/** Protocol-level faults on every call of the sync's DynamoDB client (test/support/faults.ts). */
const DYNAMODB_FAULT_RATES = { throttle: 0.02, unprocessedKeys: 0.05, transactionConflict: 0.03 };

/** Partner's backoff (contract: 5XX and 429 with exponential backoff and jitter). */
const PARTNER_BACKOFF_BASE_MS = 100;
const PARTNER_BACKOFF_CAP_MS = 5_000;
/** A workspace client's tries of a request the API answered "busy" (503 with Retry-After). */
const BUSY_ATTEMPTS = 5;
const PARTNER_MAX_ATTEMPTS = 12;
/**
 * Bounds on waits that progress by events (the queue draining, the events arriving, an
 * outage's records reaching the DLQ): far above what a slow machine of this kind needs,
 * there only so that a run that stalls ends with a mismatch saying what was pending.
 */
const DRAIN_TIMEOUT_MS = 10 * 60_000;
const SETUP_TIMEOUT_MS = 3 * 60_000;
const EVENTS_TIMEOUT_MS = 5 * 60_000;
const EXPORT_TIMEOUT_MS = 3 * 60_000;
const OUTAGE_TIMEOUT_MS = 5 * 60_000;
/**
 * The chaos lasts until the partners have sent their share of work, but no longer than
 * this past its minutes: a stack that has stalled ends the chaos with a mismatch saying so
 * (and how far the partners got), not a soak that never ends.
 */
const CHAOS_OVERRUN_MS = 5 * 60_000;
/** Everything after the chaos (the drain, the events, the final checks and exports) together. */
const CHECKS_TIMEOUT_MS = 15 * 60_000;
/** One HTTP call: the local gateway answers within its function's timeout (30 s at most), so only a hang reaches this. */
const CALL_TIMEOUT_MS = 60_000;
/** How often a wait after the chaos says what it is waiting for. */
const PROGRESS_EVERY_MS = 30_000;
/** When the first throttling storm starts, after the chaos does (later ones: at random). */
const FIRST_STORM_AFTER_MS = 3_000;

// ---------------------------------------------------------------------------------------
// The summary
// ---------------------------------------------------------------------------------------

export interface SoakSummary {
  minutes: number;
  seed: number;
  /** Logical requests by kind (a partner request retried three times is one here). */
  requests: Record<string, number>;
  /** HTTP answers by kind and status, retries included. */
  answers: Record<string, Record<string, number>>;
  faults: Record<string, number>;
  checks: string[];
  mismatches: string[];
  mismatchCount: number;
  /** Lifecycles of the requests behind the mismatches: accepted, received, failed, requeued, died… */
  diagnostics: string[];
  deadLettersAtEnd: number;
  elapsedSeconds: { chaos: number; drain: number; total: number };
}

const MAX_KEPT_MISMATCHES = 50;

class Tally {
  readonly counts: Record<string, number> = {};
  add(name: string, by = 1) {
    this.counts[name] = (this.counts[name] ?? 0) + by;
  }
}

// ---------------------------------------------------------------------------------------
// Workspaces, users, feeds
// ---------------------------------------------------------------------------------------

interface Alias {
  alias_name: string;
  alias_label: string;
}

interface SoakWorkspace {
  label: string;
  workspaceId: string;
  dataImportKey: string;
  restApiKey: string;
  /** Partner → the cohort ids its feed sends. */
  feeds: Map<string, string[]>;
  /** Pool users' braze ids, by external id and by alias (`label\0name`). */
  byExternalId: Map<string, string>;
  byAlias: Map<string, string>;
  aliases: Alias[];
  devices: string[];
  /** Live segments and their filters. */
  segments: Map<string, SegmentFilter>;
  /** Anonymous devices tracked and not yet identified. */
  anonymous: string[];
  created: number;
}

type SegmentFilter =
  | { cohort: { partner: string; cohort_id: string; includes: boolean } }
  | { all: SegmentFilter[] }
  | { any: SegmentFilter[] };

const poolExternalId = (index: number) => `user-${index}`;
const aliasKey = (alias: Alias) => `${alias.alias_label}\u0000${alias.alias_name}`;
const cohortKey = (ref: CohortRef) => JSON.stringify([ref.workspaceId, ref.partner, ref.cohortId]);

// ---------------------------------------------------------------------------------------
// The oracle: accepted requests applied once each, in stamp order
// ---------------------------------------------------------------------------------------

interface OracleEntry {
  orderKey: string;
  member: boolean;
}

interface OracleCohort {
  /** brazeId → member (tombstones included: a removal writes one, as the store does). */
  members: Map<string, boolean>;
  /** brazeId → each request's net change to the user, in stamp order (what a register may be written with). */
  history: Map<string, OracleEntry[]>;
  /** Flips of serial application, request by request. */
  serialFlips: number;
  name?: { orderKey: string; name: string };
}

/**
 * The serial oracle of test/support/oracle.ts, extended to aliases, renames, several
 * workspaces and partners, and the flips it implies. Within a request a user's last change
 * wins (serial application of the array ends there); requests apply in stamp order.
 */
export const soakOracle = (
  bodies: readonly string[],
  brazeIdOf: (workspaceId: string, identifier: { externalId?: string; alias?: Alias }) => string | undefined,
) => {
  const messages = bodies
    .map((body) => CohortMessage.parse(JSON.parse(body)))
    .sort((a, b) => (changeOrderKey(a.stamp, 0) < changeOrderKey(b.stamp, 0) ? -1 : 1));
  const cohorts = new Map<string, OracleCohort>();
  const cohortOf = (ref: CohortRef) => {
    const key = cohortKey(ref);
    let cohort = cohorts.get(key);
    if (!cohort) cohorts.set(key, (cohort = { members: new Map(), history: new Map(), serialFlips: 0 }));
    return cohort;
  };
  for (const message of messages) {
    const cohort = cohortOf(message);
    if (message.type === 'cohort.named') {
      cohort.name = { orderKey: changeOrderKey(message.stamp, 0), name: message.name };
      continue;
    }
    const net = new Map<string, OracleEntry>();
    message.changes.forEach((change, index) => {
      const entry = { orderKey: changeOrderKey(message.stamp, index), member: change.should_remove !== true };
      const matched = [
        ...(change.user_ids ?? []).map((externalId) => brazeIdOf(message.workspaceId, { externalId })),
        ...(change.aliases ?? []).map((alias) => brazeIdOf(message.workspaceId, { alias })),
        // Device ids in deltas are identified users' or nobody's: never matched (contract rule 3).
      ];
      for (const brazeId of matched) if (brazeId !== undefined) net.set(brazeId, entry);
    });
    for (const [brazeId, entry] of net) {
      if ((cohort.members.get(brazeId) ?? false) !== entry.member) cohort.serialFlips += 1;
      cohort.members.set(brazeId, entry.member);
      const history = cohort.history.get(brazeId) ?? [];
      history.push(entry);
      cohort.history.set(brazeId, history);
    }
  }
  return { cohorts, requests: messages.length };
};

/** Segment audiences by set algebra over the oracle. An exclusion is only ever inside an `all` beside an inclusion. */
const evaluateFilter = (
  filter: SegmentFilter,
  membersOf: (partner: string, cohortId: string) => Set<string>,
  universe: Set<string>,
): Set<string> => {
  if ('cohort' in filter) {
    const members = membersOf(filter.cohort.partner, filter.cohort.cohort_id);
    return filter.cohort.includes ? members : new Set([...universe].filter((brazeId) => !members.has(brazeId)));
  }
  const parts = ('all' in filter ? filter.all : filter.any).map((part) => evaluateFilter(part, membersOf, universe));
  if ('any' in filter) return new Set(parts.flatMap((part) => [...part]));
  return parts.reduce((kept, part) => new Set([...kept].filter((brazeId) => part.has(brazeId))));
};

// ---------------------------------------------------------------------------------------
// Reading the store
// ---------------------------------------------------------------------------------------

interface StreamFlip {
  ref: CohortRef;
  brazeId: string;
  effect: 'added' | 'removed';
  orderKey: string;
  endedBy?: 'merge' | 'orphan';
}

const REGISTER_PK = /^([^#]+)#M\d{2}#([^#]+)#(.+)$/s;

/**
 * Every register flip the cohorts table's stream holds, read from its start on every
 * shard: the store's own record of what it applied, to hold the events to. Read here on
 * its own (not through the events function), with the stream's images compared directly.
 */
const readStreamFlips = async (stack: LocalStack): Promise<StreamFlip[]> => {
  const streams = new DynamoDBStreamsClient({
    region: LOCAL_REGION,
    credentials: LOCAL_CREDENTIALS,
    endpoint: stack.dynamoDbEndpoint,
  });
  try {
    const { Table } = await stack.clients.dynamodb.send(new DescribeTableCommand({ TableName: stack.tables.cohorts }));
    const streamArn = Table!.LatestStreamArn!;
    const shardIds: string[] = [];
    let exclusiveStartShardId: string | undefined;
    do {
      const { StreamDescription } = await streams.send(
        new DescribeStreamCommand({ StreamArn: streamArn, ExclusiveStartShardId: exclusiveStartShardId }),
      );
      shardIds.push(...(StreamDescription?.Shards ?? []).map((shard) => shard.ShardId!));
      exclusiveStartShardId = StreamDescription?.LastEvaluatedShardId;
    } while (exclusiveStartShardId);
    const flips: StreamFlip[] = [];
    for (const shardId of shardIds) {
      let { ShardIterator: iterator } = await streams.send(
        new GetShardIteratorCommand({ StreamArn: streamArn, ShardId: shardId, ShardIteratorType: 'TRIM_HORIZON' }),
      );
      while (iterator) {
        const { Records = [], NextShardIterator } = await streams.send(
          new GetRecordsCommand({ ShardIterator: iterator, Limit: 1_000 }),
        );
        for (const record of Records) {
          const keys = unmarshall((record.dynamodb?.Keys ?? {}) as Record<string, AttributeValue>);
          const key = REGISTER_PK.exec(String(keys.pk ?? ''));
          if (
            !key ||
            !String(keys.sk ?? '').startsWith('M#') ||
            record.eventName === 'REMOVE' ||
            !record.dynamodb?.NewImage
          )
            continue;
          const next = unmarshall(record.dynamodb.NewImage as Record<string, AttributeValue>);
          const previous = record.dynamodb.OldImage
            ? unmarshall(record.dynamodb.OldImage as Record<string, AttributeValue>)
            : undefined;
          if ((previous?.member === true) === (next.member === true)) continue;
          flips.push({
            ref: { workspaceId: key[1]!, partner: key[2]!, cohortId: key[3]! },
            brazeId: String(next.brazeId),
            effect: next.member === true ? 'added' : 'removed',
            orderKey: String(next.orderKey),
            // Who ended a membership without a partner's change (lib/dynamodb/membership-store.ts):
            // a merge (its event has an id of its own), or the events function, for a profile
            // that no longer exists (no event; never a pool user's, which are never merged away).
            endedBy: next.endedBy === 'merge' || next.endedBy === 'orphan' ? next.endedBy : undefined,
          });
        }
        // DynamoDB Local answers an open shard's end with no records (AWS may do so mid-shard; this reads Local only).
        if (Records.length === 0) break;
        iterator = NextShardIterator;
      }
    }
    return flips;
  } finally {
    streams.destroy();
  }
};

// ---------------------------------------------------------------------------------------
// The run
// ---------------------------------------------------------------------------------------

interface HttpAnswer {
  status: number;
  body: Record<string, unknown>;
  text: string;
}

export const runSoak = async (options: SoakOptions): Promise<SoakSummary> => {
  const log = options.log ?? (() => undefined);
  const seed = options.seed ?? Date.now() % 1_000_000;
  // First, so that a run that hangs or dies can still be replayed.
  log(`seed ${seed} (replay: npm run soak -- --minutes ${options.minutes} --seed ${seed})`);
  const random = seededRandom(seed);
  const chance = (p: number) => random() < p;
  const int = (below: number) => Math.floor(random() * below);
  const pick = <T>(items: readonly T[]): T => items[int(items.length)]!;
  const shuffled = <T>(items: readonly T[]): T[] => {
    const result = [...items];
    for (let index = result.length - 1; index > 0; index -= 1) {
      const other = int(index + 1);
      [result[index], result[other]] = [result[other]!, result[index]!];
    }
    return result;
  };

  const requests = new Tally();
  const faults = new Tally();
  const answers: Record<string, Record<string, number>> = {};
  const mismatches: string[] = [];
  let mismatchCount = 0;
  const mismatch = (text: string) => {
    mismatchCount += 1;
    if (mismatches.length < MAX_KEPT_MISMATCHES) mismatches.push(text);
  };
  const checks: string[] = [];
  /** What may explain the mismatches (where the requests of a cohort that mismatches went). */
  const diagnostics: string[] = [];
  const diagnose = (text: string) => {
    if (diagnostics.length < MAX_KEPT_MISMATCHES) diagnostics.push(text);
    log(text);
  };
  const started = Date.now();

  /** Faults fire only while this is on: off for the setup and the drain. */
  const chaos = { on: false };

  // --- Seams (installed before the stack exists; they reach it through `stackRef`) ---
  let stackRef: LocalStack | undefined;
  /**
   * When the current phase (setup, the chaos with its overrun, the checks after it) must be
   * over: clients stop retrying past it, so no call outlives its phase's bound.
   */
  let phaseDeadline = started + SETUP_TIMEOUT_MS;
  const phaseOver = () => Date.now() > phaseDeadline;
  let syncClient: DynamoDBClient | undefined;
  let injected: FaultInjection | undefined;
  const dynamoDbFaultRates = { throttle: 0, unprocessedKeys: 0, transactionConflict: 0 };
  const accepted: string[] = [];
  const published = new Map<string, { event: MembershipEvent; copies: number }>();
  let publishedTotal = 0;
  let outage: string | undefined;
  let requeued = 0;

  /** What happened to each accepted request on its way through the sync (printed for a cohort that mismatches). */
  const lifecycle = new Map<string, string[]>();
  const trace = (requestId: string, what: string) => {
    const steps = lifecycle.get(requestId) ?? [];
    if (steps.length < 40) steps.push(`${((Date.now() - started) / 1000).toFixed(1)}s ${what}`);
    lifecycle.set(requestId, steps);
  };
  const requestIdOf = (body: string) => {
    try {
      return (JSON.parse(body) as { stamp?: { requestId?: string } }).stamp?.requestId ?? '?';
    } catch {
      return '?';
    }
  };

  /**
   * Faults the soak is about fire at least once whatever the dice say (the rest at
   * random): a death mid-batch and one before answering, a queue refusal.
   */
  const owed = { diesMidBatch: true, diesAfterBatch: true, queueRefusal: true };

  /** Per sync invocation: dies (every later DynamoDB call fails) after its Nth committed transaction. */
  const invocation = new AsyncLocalStorage<{ dieAfterTransactions?: number; transactions: number; dead: boolean }>();

  /** One sync invocation, with the faults of a Lambda invocation: dying mid-batch after committed writes, or before answering. */
  const invokeSync = async (handler: SqsHandler, event: SQSEvent, context: Context) => {
    const ids = new Map(event.Records.map((record) => [record.messageId, requestIdOf(record.body)]));
    for (const record of event.Records)
      trace(ids.get(record.messageId)!, `received (receive ${record.attributes.ApproximateReceiveCount})`);
    const roll = chaos.on ? random() : 1;
    const state = {
      dieAfterTransactions: chaos.on && owed.diesMidBatch ? 1 : roll < P_SYNC_DIES_MID_BATCH ? 1 + int(3) : undefined,
      transactions: 0,
      dead: false,
    };
    let result: Awaited<ReturnType<typeof handler>>;
    try {
      result = await invocation.run(state, () => handler(event, context));
    } catch (error: unknown) {
      for (const requestId of ids.values())
        trace(requestId, `the invocation threw: ${error instanceof Error ? error.message : String(error)}`);
      throw error;
    }
    const failed = new Set((result?.batchItemFailures ?? []).map((failure) => failure.itemIdentifier));
    for (const [messageId, requestId] of ids)
      trace(requestId, failed.has(messageId) ? 'failed (batchItemFailures)' : 'done');
    if (state.dead) {
      owed.diesMidBatch = false;
      faults.add('sync died mid-batch, after committed writes');
      for (const requestId of ids.values()) trace(requestId, 'the invocation died mid-batch');
      throw new Error('injected: the function died in the middle of the batch');
    }
    if (
      (chaos.on && owed.diesAfterBatch) ||
      (roll >= P_SYNC_DIES_MID_BATCH && roll < P_SYNC_DIES_MID_BATCH + P_SYNC_DIES_AFTER_BATCH)
    ) {
      owed.diesAfterBatch = false;
      faults.add('sync died after its batch, before answering');
      for (const requestId of ids.values()) trace(requestId, 'the invocation died before answering');
      throw new Error('injected: the function died before answering');
    }
    return result;
  };

  /**
   * Sync handler instances, one per concurrent invocation (a Lambda execution environment
   * runs one invocation at a time), wired as the stack wires its own (functions/sync/wire.ts).
   */
  const syncInstances: SyncHandler[] = [];
  const takeSyncInstance = async (): Promise<SyncHandler> => {
    const free = syncInstances.pop();
    if (free) return free;
    const documents = DynamoDBDocumentClient.from(syncClient!, { marshallOptions: { removeUndefinedValues: true } });
    return wireSync({
      documents,
      sqs: stackRef!.clients.sqs,
      tables: stackRef!.tables,
      queueUrl: stackRef!.queues.queueUrl,
      wrapMemberships: withOutage,
      requeueDelayBaseSeconds: REQUEUE_DELAY_BASE_SECONDS,
      observability: await createObservability('sync'),
    }).handler;
  };
  const withOutage = (store: MembershipStore): MembershipStore =>
    beforeApply(store, async (cohort) => {
      if (outage !== undefined && cohortKey(cohort) === outage) {
        faults.add('cohort store outage: applies refused');
        throw new Error('injected: the store is unavailable for this cohort');
      }
    });

  let refusing: SqsCohortQueue | undefined;
  const exportsFolder = await mkdtemp(join(tmpdir(), 'soak-exports-'));

  const stack = await startLocalStack({
    sqsEndpoint: options.sqsEndpoint,
    dynamoDbEndpoint: options.dynamoDbEndpoint,
    prefix: `soak${randomBytes(4).toString('hex')}`,
    // `npm run soak` on a shared emulator (the test suite's) leaves nothing behind to slow what follows.
    dropTablesOnStop: true,
    partners: ['heap', 'segment', 'amplitude'],
    visibilityTimeoutSeconds: VISIBILITY_TIMEOUT_SECONDS,
    pollerConcurrency: SYNC_CONCURRENCY,
    requeueDelayBaseSeconds: REQUEUE_DELAY_BASE_SECONDS,
    eventsRetryDelayMs: 250,
    // Events are counted as published (below); nothing needs to hold hundreds of thousands of them.
    watchEvents: false,
    exportsFolder,
    configureSyncDynamoDb: (client) => {
      syncClient = client;
      client.middlewareStack.add(
        (next, context) => async (args) => {
          const state = invocation.getStore();
          if (state?.dead) throw new Error('injected: the function is dead');
          const result = await next(args);
          if (state?.dieAfterTransactions !== undefined && context.commandName === 'TransactWriteItemsCommand') {
            state.transactions += 1;
            if (state.transactions >= state.dieAfterTransactions) state.dead = true;
          }
          return result;
        },
        { step: 'deserialize', priority: 'high', name: 'soakDeath' },
      );
      injected = injectDynamoDbFaults(client, dynamoDbFaultRates, seed);
    },
    wrapSyncHandler: (shared) => async (event, context) => {
      const handler = options.sharedSyncHandler ? shared : await takeSyncInstance();
      try {
        return await invokeSync(handler, event, context);
      } finally {
        if (!options.sharedSyncHandler) syncInstances.push(handler as SyncHandler);
      }
    },
    wrapQueue: (queue) => ({
      send: async (message, sendOptions) => {
        if (chaos.on && (owed.queueRefusal || chance(P_QUEUE_REFUSES))) {
          owed.queueRefusal = false;
          // SQS refusing, for real: a send to a queue that does not exist.
          refusing ??= new SqsCohortQueue(stackRef!.clients.sqs, `${stackRef!.queues.queueUrl}-missing`);
          faults.add('ingest queue refused the message (503)');
          await refusing.send(message, sendOptions);
          throw new Error('the refusing queue accepted a message');
        }
        await queue.send(message, sendOptions);
        accepted.push(toSqsBody(message));
        trace(message.stamp.requestId, `accepted (${message.type} ${message.partner}/${message.cohortId})`);
      },
    }),
    // The stack's own sync handler (used with `sharedSyncHandler`).
    wrapMemberships: withOutage,
    wrapEventPublisher: (publisher) => ({
      publish: async (events) => {
        if (chaos.on && chance(P_PUBLISH_REFUSED)) {
          faults.add('events publish refused (SNS down)');
          throw new Error('injected: SNS refused the batch');
        }
        await publisher.publish(events);
        for (const event of events) {
          publishedTotal += 1;
          const seen = published.get(event.event_id);
          if (seen) seen.copies += 1;
          else published.set(event.event_id, { event, copies: 1 });
        }
        if (chaos.on && chance(P_PUBLISH_DIES_AFTER)) {
          faults.add('events function died after publishing (republished)');
          throw new Error('injected: the events function died after publishing');
        }
      },
    }),
  }).catch(async (error: unknown) => {
    await rm(exportsFolder, { recursive: true, force: true });
    throw error;
  });
  stackRef = stack;
  // The sync puts a request back on the queue itself under load (a fresh copy, `requeues` + 1): seen here, counted, traced.
  stack.clients.sqs.middlewareStack.add(
    (next) => async (args) => {
      const input = (args as { input: { QueueUrl?: string; MessageBody?: string; DelaySeconds?: number } }).input;
      const result = await next(args);
      if (input.QueueUrl === stack.queues.queueUrl && input.MessageBody?.includes('"requeues":')) {
        requeued += 1;
        trace(requestIdOf(input.MessageBody), `requeued by the sync (delay ${input.DelaySeconds ?? 0} s)`);
      }
      return result;
    },
    { step: 'initialize', name: 'soakRequeues' },
  );
  // AWS's limits on the sync's client, off until a storm turns them on.
  const limits: AwsLimitsModel = applyAwsLimits(syncClient!, { tables: tableShapes(stack.tables), scale: STORM_SCALE });
  limits.enabled = false;

  // --- HTTP, as partners and workspace clients speak it ---
  const recordAnswer = (kind: string, status: string) => {
    const byStatus = (answers[kind] ??= {});
    byStatus[status] = (byStatus[status] ?? 0) + 1;
  };
  /**
   * A workspace client's call, as a careful client makes it: a 503 that says the service is
   * busy (the API answers it when a request runs out of time on a starved machine) is retried
   * after its Retry-After, a few times, and counted; any other 5XX is a mismatch.
   */
  const call = async (
    kind: string,
    path: string,
    init: { method?: string; body?: unknown; token?: string } = {},
  ): Promise<HttpAnswer | undefined> => {
    for (let attempt = 1; ; attempt += 1) {
      const answer = await callOnce(kind, path, init, attempt < BUSY_ATTEMPTS && !phaseOver());
      if (answer !== 'busy') return answer;
      await sleep(2_000);
    }
  };
  const callOnce = async (
    kind: string,
    path: string,
    init: { method?: string; body?: unknown; token?: string },
    mayRetryBusy: boolean,
  ): Promise<HttpAnswer | 'busy' | undefined> => {
    try {
      const response = await fetch(`${stack.url}${path}`, {
        method: init.method ?? (init.body === undefined ? 'GET' : 'POST'),
        headers: {
          'content-type': 'application/json',
          ...(init.token ? { authorization: `Bearer ${init.token}` } : {}),
        },
        body: init.body === undefined ? undefined : JSON.stringify(init.body),
        signal: AbortSignal.timeout(CALL_TIMEOUT_MS),
      });
      const text = await response.text();
      if (
        mayRetryBusy &&
        response.status === 503 &&
        !kind.startsWith('partner') &&
        response.headers.get('retry-after') !== null &&
        /ran out of time/.test(text)
      ) {
        recordAnswer(kind, '503 busy, retried');
        return 'busy';
      }
      recordAnswer(kind, String(response.status));
      let body: Record<string, unknown> = {};
      try {
        body = text ? (JSON.parse(text) as Record<string, unknown>) : {};
      } catch {
        mismatch(`${kind} ${path}: ${response.status} with a body that is not JSON: ${text.slice(0, 200)}`);
      }
      if (response.status >= 500 && !(response.status === 503 && kind.startsWith('partner'))) {
        mismatch(`${kind} ${path}: ${response.status} ${text.slice(0, 300)}`);
      }
      return { status: response.status, body, text };
    } catch (error: unknown) {
      recordAnswer(kind, 'no answer');
      mismatch(`${kind} ${path}: no answer (${error instanceof Error ? error.message : String(error)})`);
      return undefined;
    }
  };
  /** A partner request until it is accepted: 5XX and 429 again with exponential backoff and full jitter (contract). */
  const sendAsPartner = async (kind: string, path: string, body: unknown): Promise<boolean> => {
    requests.add(kind);
    for (let attempt = 0; attempt < PARTNER_MAX_ATTEMPTS; attempt += 1) {
      if (attempt > 0 && phaseOver()) {
        mismatch(`${kind} ${path}: still refused after ${attempt} attempts when the phase's time ran out`);
        return false;
      }
      if (attempt > 0) requests.add('partner retries');
      const answer = await call(kind, path, { body });
      if (answer?.status === 201) return true;
      if (answer?.status === 503 && !/nothing was accepted/.test(String(answer.body.message)))
        mismatch(`${kind}: a 503 that does not say nothing was accepted: ${answer.text}`);
      if (answer && answer.status < 500 && answer.status !== 429) {
        mismatch(`${kind} ${path}: ${answer.status} ${answer.text.slice(0, 300)}`);
        return false;
      }
      await sleep(random() * Math.min(PARTNER_BACKOFF_CAP_MS, PARTNER_BACKOFF_BASE_MS * 2 ** attempt));
    }
    mismatch(`${kind} ${path}: still refused after ${PARTNER_MAX_ATTEMPTS} attempts`);
    return false;
  };
  const expectStatus = (
    kind: string,
    answer: HttpAnswer | undefined,
    expected: readonly number[],
  ): answer is HttpAnswer => {
    if (!answer) return false;
    if (!expected.includes(answer.status)) {
      if (answer.status < 500)
        mismatch(`${kind}: ${answer.status} where ${expected.join(' or ')} was expected: ${answer.text.slice(0, 300)}`);
      return false;
    }
    if (Array.isArray(answer.body.errors) && answer.body.errors.length > 0)
      mismatch(`${kind}: per-item errors for valid items: ${JSON.stringify(answer.body.errors).slice(0, 300)}`);
    return true;
  };

  try {
    // --- Setup: two workspaces, four partner feeds, the cohort pool, every cohort named ---
    const second = await stack.stores.workspaces.createWorkspace({ name: 'soak-b', partners: ['heap', 'amplitude'] });
    const workspaces: SoakWorkspace[] = [
      {
        label: 'demo',
        ...stack.workspace,
        feeds: new Map([
          ['heap', ['h1', 'h2', 'h3']],
          ['segment', ['s1', 's2']],
        ]),
      },
      // The same cohort ids under heap in both workspaces: isolation is checked by the same comparisons.
      {
        label: 'b',
        ...second,
        feeds: new Map([
          ['heap', ['h1', 'h2']],
          ['amplitude', ['a1', 'a2', 'a3']],
        ]),
      },
    ].map((workspace) => ({
      label: workspace.label,
      workspaceId: workspace.workspaceId,
      dataImportKey: workspace.dataImportKey,
      restApiKey: workspace.restApiKey,
      feeds: workspace.feeds,
      byExternalId: new Map(),
      byAlias: new Map(),
      aliases: [],
      devices: [],
      segments: new Map(),
      anonymous: [],
      created: 0,
    }));
    const refsOf = (workspace: SoakWorkspace): CohortRef[] =>
      [...workspace.feeds].flatMap(([partner, cohortIds]) =>
        cohortIds.map((cohortId) => ({ workspaceId: workspace.workspaceId, partner, cohortId })),
      );

    for (const workspace of workspaces) {
      const pool = Array.from({ length: POOL_USERS }, (_, index) => ({
        external_id: poolExternalId(index),
        ...(index % ALIAS_EVERY === 0 ? { user_alias: { alias_name: `alias-${index}`, alias_label: 'crm' } } : {}),
        ...(index % DEVICE_EVERY === 0 ? { device_id: `device-of-user-${index}` } : {}),
        tier: 'pool',
      }));
      for (const part of chunk(pool, MAX_TRACK_ATTRIBUTES)) {
        if (
          !expectStatus(
            'setup: /users/track',
            await call('setup', '/users/track', { body: { attributes: part }, token: workspace.restApiKey }),
            [201],
          )
        ) {
          throw new Error('the cohort pool could not be created');
        }
      }
      for (const part of chunk(pool, MAX_EXPORT_IDS)) {
        const answer = await call('setup', '/users/export/ids', {
          body: { external_ids: part.map((user) => user.external_id) },
          token: workspace.restApiKey,
        });
        if (!expectStatus('setup: /users/export/ids', answer, [201]))
          throw new Error('the cohort pool could not be read back');
        for (const user of answer.body.users as { braze_id: string; external_id: string; user_aliases: Alias[] }[]) {
          workspace.byExternalId.set(user.external_id, user.braze_id);
          for (const alias of user.user_aliases) {
            workspace.byAlias.set(aliasKey(alias), user.braze_id);
            workspace.aliases.push(alias);
          }
        }
        workspace.devices.push(
          ...part.flatMap((user) => ('device_id' in user && user.device_id ? [user.device_id] : [])),
        );
      }
      if (workspace.byExternalId.size !== POOL_USERS)
        throw new Error(`${workspace.label}: ${workspace.byExternalId.size} of ${POOL_USERS} pool users read back`);
      for (const ref of refsOf(workspace)) {
        const named = await sendAsPartner('partner names (setup)', `/partners/${ref.partner}/cohorts`, {
          partner_api_key: stack.partnerApiKey,
          client_secret: workspace.dataImportKey,
          cohort_id: ref.cohortId,
          name: `${ref.partner} ${ref.cohortId}`,
          created_at: '2021-01-21T19:20:30+05:00',
        });
        if (!named) throw new Error(`cohort ${ref.partner}/${ref.cohortId} could not be named`);
      }
    }
    // Segments may name a cohort only once the workspace knows it (the sync has applied its name).
    const setupDeadline = phaseDeadline;
    for (const workspace of workspaces) {
      for (;;) {
        const answer = await call('setup', '/cohorts', { token: workspace.restApiKey });
        if ((answer?.body.cohorts as unknown[] | undefined)?.length === refsOf(workspace).length) break;
        if (Date.now() > setupDeadline)
          throw new Error(
            `${workspace.label}: the cohorts were not named within ${SETUP_TIMEOUT_MS / 60_000} minutes of the start (the queue holds ${await queueDepth(stack.clients.sqs, stack.queues.queueUrl)})`,
          );
        await sleep(200);
      }
    }
    const brazeIdOf = (workspaceId: string, identifier: { externalId?: string; alias?: Alias }) => {
      const workspace = workspaces.find((candidate) => candidate.workspaceId === workspaceId);
      if (!workspace) return undefined;
      if (identifier.externalId !== undefined) return workspace.byExternalId.get(identifier.externalId);
      return identifier.alias ? workspace.byAlias.get(aliasKey(identifier.alias)) : undefined;
    };
    log(
      `setup done in ${((Date.now() - started) / 1000).toFixed(1)} s: 2 workspaces, ${workspaces.reduce((sum, w) => sum + refsOf(w).length, 0)} cohorts, ${POOL_USERS} pool users each; chaos for ${options.minutes} min (seed ${seed})`,
    );

    // --- Chaos ---
    const chaosStarted = Date.now();
    const chaosEnds = chaosStarted + options.minutes * 60_000;
    phaseDeadline = chaosEnds + CHAOS_OVERRUN_MS;
    const minPartnerDeltas = options.minPartnerDeltas ?? 0;
    /** Until the time is up and the partners have sent their share of work: a slower machine soaks longer, not less. */
    let chaosOver = false;
    const running = () => {
      if (chaosOver) return false;
      const deltas = requests.counts['partner cohort deltas'] ?? 0;
      if (Date.now() >= chaosEnds && deltas >= minPartnerDeltas) chaosOver = true;
      else if (Date.now() >= chaosEnds + CHAOS_OVERRUN_MS) {
        chaosOver = true;
        mismatch(
          `the partners sent ${deltas} of their ${minPartnerDeltas} deltas in ${Math.round((Date.now() - chaosStarted) / 1000)} s: ` +
            `the stack stalled (${accepted.length} accepted; the progress lines say where)`,
        );
      }
      return !chaosOver;
    };
    chaos.on = true;
    Object.assign(dynamoDbFaultRates, DYNAMODB_FAULT_RATES);

    const cohortDelta = (workspace: SoakWorkspace) => {
      const changes = Array.from({ length: 1 + int(3) }, () => {
        const userIds: string[] = [];
        const aliases: Alias[] = [];
        const deviceIds: string[] = [];
        for (let count = 1 + int(40); count > 0; count -= 1) {
          const roll = random();
          if (roll < 0.68) userIds.push(poolExternalId(int(POOL_USERS)));
          else if (roll < 0.84) aliases.push(pick(workspace.aliases));
          else if (roll < 0.9) userIds.push(`ghost-${int(1_000)}`);
          // An alias nobody has: an unknown name, or a pool alias's name under another label.
          else if (roll < 0.95)
            aliases.push(
              chance(0.5)
                ? { alias_name: `ghost-alias-${int(1_000)}`, alias_label: 'crm' }
                : { alias_name: `alias-${int(POOL_USERS)}`, alias_label: 'email' },
            );
          // A device of an identified user (contract rule 3: never matched), or nobody's.
          else deviceIds.push(chance(0.7) ? pick(workspace.devices) : `ghost-device-${int(1_000)}`);
        }
        return {
          user_ids: userIds,
          ...(aliases.length > 0 ? { aliases } : {}),
          ...(deviceIds.length > 0 ? { device_ids: deviceIds } : {}),
          ...(chance(0.4) ? { should_remove: true } : {}),
        };
      });
      return changes;
    };

    const partnerFeed = async (workspace: SoakWorkspace, partner: string, cohortIds: string[]) => {
      let version = 0;
      while (running()) {
        const cohortId = pick(cohortIds);
        const keys = {
          partner_api_key: stack.partnerApiKey,
          client_secret: workspace.dataImportKey,
          cohort_id: cohortId,
        };
        if (chance(0.05)) {
          version += 1;
          await sendAsPartner('partner renames', `/partners/${partner}/cohorts`, {
            ...keys,
            name: `${partner} ${cohortId} v${version}`,
            created_at: new Date().toISOString(),
          });
        } else {
          await sendAsPartner('partner cohort deltas', `/partners/${partner}/cohorts/users`, {
            ...keys,
            cohort_changes: cohortDelta(workspace),
          });
        }
        await sleep(150 + int(350));
      }
    };

    /** Two clients share a workspace's segments: one may delete a segment the other is reading (404, expected). */
    const deletedMeanwhile = (workspace: SoakWorkspace, segmentId: string, answer: HttpAnswer | undefined) =>
      answer?.status === 404 && !workspace.segments.has(segmentId);

    const randomFilter = (workspace: SoakWorkspace): SegmentFilter => {
      const refs = refsOf(workspace);
      const includes = (includes = true): SegmentFilter => {
        const ref = pick(refs);
        return { cohort: { partner: ref.partner, cohort_id: ref.cohortId, includes } };
      };
      switch (int(4)) {
        case 0:
          return includes();
        case 1:
          return { all: [includes(), includes(false)] };
        case 2:
          return { any: [includes(), includes()] };
        default:
          return { all: [includes(), { any: [includes(), includes()] }] };
      }
    };

    const restClient = async (workspace: SoakWorkspace) => {
      const token = workspace.restApiKey;
      while (running()) {
        const roll = random();
        if (roll < 0.14) {
          // New users, never named by a delta.
          requests.add('/users/track (new users)');
          const attributes = Array.from({ length: 1 + int(8) }, () => ({
            external_id: `tracked-${workspace.label}-${(workspace.created += 1)}`,
            plan: pick(['free', 'pro']),
            visits: int(100),
          }));
          expectStatus(
            '/users/track',
            await call('/users/track', '/users/track', { body: { attributes }, token }),
            [201],
          );
        } else if (roll < 0.28) {
          // Attributes, events and purchases of pool users (events go on to Currents).
          requests.add('/users/track (attributes, events, purchases)');
          const externalId = poolExternalId(int(POOL_USERS));
          const time = new Date().toISOString();
          expectStatus(
            '/users/track',
            await call('/users/track', '/users/track', {
              body: {
                attributes: [{ external_id: externalId, last_seen_soak: time, score: int(1_000) }],
                events: [{ external_id: externalId, name: 'soaked', time, properties: { round: int(10) } }],
                purchases: chance(0.3)
                  ? [{ external_id: externalId, product_id: 'sku-1', currency: 'USD', price: 9.99, quantity: 1, time }]
                  : undefined,
              },
              token,
            }),
            [201],
          );
        } else if (roll < 0.4) {
          // Anonymous profiles, as an SDK creates them.
          requests.add('/users/track (anonymous profiles)');
          const devices = Array.from(
            { length: 1 + int(4) },
            () => `anon-${workspace.label}-${(workspace.created += 1)}`,
          );
          if (
            expectStatus(
              '/users/track',
              await call('/users/track', '/users/track', {
                body: { attributes: devices.map((device_id) => ({ device_id, source: 'sdk' })) },
                token,
              }),
              [201],
            )
          ) {
            workspace.anonymous.push(...devices);
          }
        } else if (roll < 0.5 && workspace.anonymous.length > 0) {
          // Identify: into a new external id (in place), or merged into a pool user.
          requests.add('/users/identify');
          const devices = workspace.anonymous.splice(0, 1 + int(4));
          const devicesToIdentify = devices.map((device_id) => ({
            device_id,
            external_id: chance(0.5) ? poolExternalId(int(POOL_USERS)) : `identified-${device_id}`,
          }));
          const answer = await call('/users/identify', '/users/identify', {
            body: { devices_to_identify: devicesToIdentify },
            token,
          });
          if (expectStatus('/users/identify', answer, [201])) {
            requests.add('identify: merged into a pool user', Number(answer.body.merged ?? 0));
            requests.add('identify: identified in place', Number(answer.body.identified ?? 0));
          }
        } else if (roll < 0.62) {
          requests.add('segment create');
          if (workspace.segments.size >= 6) {
            const [segmentId] = shuffled([...workspace.segments.keys()]);
            workspace.segments.delete(segmentId!);
            requests.add('segment delete');
            expectStatus(
              'segment delete',
              await call('segment delete', `/segments/${segmentId}`, { method: 'DELETE', token }),
              [200],
            );
          }
          const filter = randomFilter(workspace);
          const answer = await call('segment create', '/segments', {
            body: { name: `soak ${int(1e6)}`, filter },
            token,
          });
          if (expectStatus('segment create', answer, [201]))
            workspace.segments.set((answer.body.segment as { segment_id: string }).segment_id, filter);
        } else if (roll < 0.72 && workspace.segments.size > 0) {
          requests.add('segment read');
          const segmentId = pick([...workspace.segments.keys()]);
          const answer = await call('segment read', `/segments/${segmentId}`, { token });
          if (!deletedMeanwhile(workspace, segmentId, answer)) expectStatus('segment read', answer, [200]);
          expectStatus('segment list', await call('segment list', '/segments', { token }), [200]);
        } else if (roll < 0.84 && workspace.segments.size > 0) {
          requests.add('segment page');
          const segmentId = pick([...workspace.segments.keys()]);
          let cursor: string | null = null;
          for (let page = 0; page < 4; page += 1) {
            const query: string = new URLSearchParams({ limit: '25', ...(cursor ? { cursor } : {}) }).toString();
            const answer = await call('segment page', `/segments/${segmentId}/users?${query}`, { token });
            if (deletedMeanwhile(workspace, segmentId, answer)) break;
            if (!expectStatus('segment page', answer, [200])) break;
            cursor = answer.body.next_cursor as string | null;
            if (cursor === null) break;
          }
        } else if (roll < 0.9 && workspace.segments.size > 0) {
          requests.add('export');
          const segmentId = pick([...workspace.segments.keys()]);
          const answer = await call('export start', `/segments/${segmentId}/exports`, { method: 'POST', token });
          if (deletedMeanwhile(workspace, segmentId, answer)) continue;
          if (!expectStatus('export start', answer, [201, 202])) continue;
          let exportView = answer.body.export as { export_id: string; status: string };
          const pollStarted = Date.now();
          const pollUntil = Math.min(pollStarted + EXPORT_TIMEOUT_MS, phaseDeadline);
          while (exportView.status !== 'done' && Date.now() < pollUntil) {
            await sleep(250);
            const status = await call('export poll', `/segments/${segmentId}/exports/${exportView.export_id}`, {
              token,
            });
            if (!expectStatus('export poll', status, [200])) break;
            exportView = status.body.export as typeof exportView;
          }
          if (exportView.status !== 'done')
            mismatch(
              `export ${exportView.export_id} of segment ${segmentId} not done in ${Math.round((Date.now() - pollStarted) / 1000)} s (${exportView.status})`,
            );
        } else {
          requests.add('cohorts read');
          const ref = pick(refsOf(workspace));
          expectStatus('cohorts read', await call('cohorts read', '/cohorts', { token }), [200]);
          expectStatus(
            'cohorts read',
            await call('cohorts read', `/cohorts/${ref.partner}/${ref.cohortId}`, { token }),
            [200],
          );
          expectStatus(
            'cohorts read',
            await call('cohorts read', '/users/export/ids', {
              body: { external_ids: Array.from({ length: 5 }, () => poolExternalId(int(POOL_USERS))) },
              token,
            }),
            [201],
          );
        }
        await sleep(int(150));
      }
    };

    /** Copies of already-accepted messages, sent again to the cohort queue in shuffled order: SQS's at-least-once, reordered. */
    const duplicator = async () => {
      let rounds = 0;
      // At least one round, whatever the timing: the chaos always has accepted messages to copy.
      while (running() || (rounds === 0 && accepted.length > 0)) {
        await sleep(500 + int(1_500));
        if (accepted.length === 0) continue;
        rounds += 1;
        const copies = shuffled(
          Array.from({ length: 1 + int(10) }, () =>
            chance(0.5) ? accepted[accepted.length - 1 - int(Math.min(50, accepted.length))]! : pick(accepted),
          ),
        );
        const sent = await stack.clients.sqs.send(
          new SendMessageBatchCommand({
            QueueUrl: stack.queues.queueUrl,
            Entries: copies.map((body, index) => ({ Id: String(index), MessageBody: body })),
          }),
        );
        faults.add('duplicate deliveries (accepted messages re-sent, shuffled)', sent.Successful?.length ?? 0);
      }
    };

    /**
     * DynamoDB at AWS's limits (÷STORM_SCALE) for a few seconds at a time: throttling and
     * transaction conflicts. One storm in three is severe: on top, half of all calls are
     * throttled and a third of the transactions conflict, so that the store's own retries
     * give up and the sync puts requests back on the queue.
     */
    const storms = async () => {
      for (let storm = 0; running(); storm += 1) {
        // The first a few seconds in, so that every soak has one; the others at random.
        await sleep(storm === 0 ? FIRST_STORM_AFTER_MS : (5 + int(15)) * 1_000);
        if (!running()) break;
        const severe = chance(1 / 3);
        limits.enabled = true;
        if (severe) Object.assign(dynamoDbFaultRates, SEVERE_STORM_FAULT_RATES);
        // Whatever the model and the dice make of the load meanwhile, each storm throttles, holds back keys and conflicts.
        for (const kind of ['throttle', 'unprocessedKeys', 'transactionConflict'] as const) injected?.force(kind);
        faults.add(
          severe
            ? `severe throttling storms (AWS limits model ÷${STORM_SCALE}, and more)`
            : `throttling storms (AWS limits model ÷${STORM_SCALE})`,
        );
        await sleep((4 + int(8)) * 1_000);
        limits.enabled = false;
        if (severe && chaos.on) Object.assign(dynamoDbFaultRates, DYNAMODB_FAULT_RATES);
      }
    };

    /**
     * One cohort's store refuses every apply until its records have gone to the DLQ (5
     * receives, a visibility timeout apart, behind whatever backlog there is), then
     * recovers; the dead letters are redriven at the end, older than what followed them.
     * The outage sends a delta of its own to the cohort, so that a record always reaches
     * the DLQ, however the partners' random picks fall.
     */
    const outages = async () => {
      const shortest = VISIBILITY_TIMEOUT_SECONDS * (stack.queues.maxReceiveCount + 1) * 1_000;
      const allRefs = workspaces.flatMap(refsOf);
      let next = chaosStarted + Math.min(10_000, options.minutes * 6_000);
      while (running()) {
        await sleep(Math.max(0, Math.min(next, chaosEnds) - Date.now()));
        if (Date.now() + shortest > chaosEnds) break;
        const ref = pick(allRefs);
        outage = cohortKey(ref);
        const began = Date.now();
        faults.add('cohort store outages (until records are dead-lettered)');
        log(`outage of ${ref.partner}/${ref.cohortId} (${ref.workspaceId})`);
        const workspace = workspaces.find((candidate) => candidate.workspaceId === ref.workspaceId)!;
        await sendAsPartner('partner cohort deltas', `/partners/${ref.partner}/cohorts/users`, {
          partner_api_key: stack.partnerApiKey,
          client_secret: workspace.dataImportKey,
          cohort_id: ref.cohortId,
          cohort_changes: [{ user_ids: [poolExternalId(int(POOL_USERS))] }],
        });
        // It may outlast the chaos: the drain starts once its records are in the DLQ.
        while (
          Date.now() - began < shortest ||
          (await queueDepth(stack.clients.sqs, stack.queues.deadLetterQueueUrl)) === 0
        ) {
          if (Date.now() - began > OUTAGE_TIMEOUT_MS || Date.now() > chaosEnds + CHAOS_OVERRUN_MS) {
            mismatch(
              `outage of ${ref.partner}/${ref.cohortId}: nothing reached the DLQ in ${Math.round((Date.now() - began) / 1000)} s ` +
                `(the queue holds ${await queueDepth(stack.clients.sqs, stack.queues.queueUrl)})`,
            );
            break;
          }
          await sleep(1_000);
        }
        outage = undefined;
        log(`outage over after ${Math.round((Date.now() - began) / 1000)} s`);
        next = Date.now() + 60_000 + int(120_000);
      }
    };

    const progress = async () => {
      while (running()) {
        await sleep(Math.min(30_000, Math.max(1_000, chaosEnds - Date.now())));
        const depth = await queueDepth(stack.clients.sqs, stack.queues.queueUrl).catch(() => NaN);
        log(
          `${Math.round((Date.now() - chaosStarted) / 1000)} s: ${accepted.length} accepted, queue ${depth}, ${publishedTotal} events, ` +
            `${Object.values(faults.counts).reduce((sum, count) => sum + count, 0)} faults, ${mismatchCount} mismatches`,
        );
      }
    };

    await Promise.all([
      ...workspaces.flatMap((workspace) =>
        [...workspace.feeds].map(([partner, cohortIds]) => partnerFeed(workspace, partner, cohortIds)),
      ),
      ...workspaces.flatMap((workspace) => [restClient(workspace), restClient(workspace)]),
      duplicator(),
      storms(),
      outages(),
      progress(),
    ]);
    const chaosSeconds = (Date.now() - chaosStarted) / 1000;

    // --- Drain: faults off; the queue, the DLQ (redriven) and the events settle ---
    chaos.on = false;
    limits.enabled = false;
    outage = undefined;
    Object.assign(dynamoDbFaultRates, { throttle: 0, unprocessedKeys: 0, transactionConflict: 0 });
    const drainStarted = Date.now();
    const checksDeadline = drainStarted + CHECKS_TIMEOUT_MS;
    phaseDeadline = checksDeadline;
    /** The end of a wait after the chaos: its own bound, or what is left of the checks' time. */
    const until = (timeoutMs: number) => Math.min(Date.now() + timeoutMs, checksDeadline);
    log(`chaos over after ${chaosSeconds.toFixed(0)} s; draining`);
    let redriven = 0;
    let said = Date.now();
    const drainUntil = until(DRAIN_TIMEOUT_MS);
    for (let quiet = 0; quiet < 3; ) {
      if (Date.now() - said > PROGRESS_EVERY_MS) {
        said = Date.now();
        log(
          `draining for ${Math.round((said - drainStarted) / 1000)} s: queue ${await queueDepth(stack.clients.sqs, stack.queues.queueUrl)}, ` +
            `DLQ ${await queueDepth(stack.clients.sqs, stack.queues.deadLetterQueueUrl)}, ${redriven} redriven, ${requeued} requeued by the sync`,
        );
      }
      if (Date.now() > drainUntil) {
        mismatch(
          `the queue did not drain in ${Math.round((Date.now() - drainStarted) / 1000)} s: it holds ${await queueDepth(stack.clients.sqs, stack.queues.queueUrl)}, ` +
            `the DLQ ${await queueDepth(stack.clients.sqs, stack.queues.deadLetterQueueUrl)}`,
        );
        break;
      }
      await sleep(1_000);
      if ((await queueDepth(stack.clients.sqs, stack.queues.queueUrl)) > 0) {
        quiet = 0;
        continue;
      }
      if ((await queueDepth(stack.clients.sqs, stack.queues.deadLetterQueueUrl)) > 0) {
        const result = await redriveDeadLetters(stack.clients.sqs, stack.queues);
        redriven += result.moved;
        if (result.failed > 0) mismatch(`DLQ redrive: ${result.failed} message(s) could not be moved`);
        quiet = 0;
        continue;
      }
      quiet += 1;
    }
    if (redriven > 0) faults.add('dead letters redriven (DLQ → queue)', redriven);
    const deadLettersAtEnd = await queueDepth(stack.clients.sqs, stack.queues.deadLetterQueueUrl);
    if (deadLettersAtEnd > 0) mismatch(`${deadLettersAtEnd} message(s) left in the DLQ after the redrive`);

    // --- The store against the oracle ---
    const oracle = soakOracle(accepted, brazeIdOf);
    let registers = 0;
    let exactCounts = 0;
    let exactNames = 0;
    const allRefs = workspaces.flatMap(refsOf);
    for (const ref of allRefs) {
      const expected: OracleCohort = oracle.cohorts.get(cohortKey(ref)) ?? {
        members: new Map(),
        history: new Map(),
        serialFlips: 0,
      };
      const before = mismatchCount;
      const stored = await readRegisters(stack, ref);
      registers += stored.size;
      const where = `${ref.workspaceId}/${ref.partner}/${ref.cohortId}`;
      for (const brazeId of new Set([...stored.keys(), ...expected.members.keys()])) {
        if (stored.get(brazeId) !== expected.members.get(brazeId)) {
          mismatch(
            `membership ${where} ${brazeId}: stored ${stored.get(brazeId) ?? 'nothing'}, oracle ${expected.members.get(brazeId) ?? 'nothing'}`,
          );
        }
      }
      const expectedCount = [...expected.members.values()].filter(Boolean).length;
      const cohort = await stack.stores.memberships.getCohort(ref);
      if (cohort?.memberCount === expectedCount) exactCounts += 1;
      else mismatch(`member_count ${where}: stored ${cohort?.memberCount}, oracle ${expectedCount}`);
      if (cohort?.name === expected.name?.name) exactNames += 1;
      else
        mismatch(
          `name ${where}: stored ${JSON.stringify(cohort?.name)}, oracle (latest rename) ${JSON.stringify(expected.name?.name)}`,
        );
      if (mismatchCount > before) {
        // Where the requests of a cohort that mismatches went: those the store has no report of.
        for (const body of accepted) {
          const message = CohortMessage.parse(JSON.parse(body));
          if (message.type !== 'cohort.changed' || cohortKey(message) !== cohortKey(ref)) continue;
          if (await stack.stores.memberships.hasSyncReport(ref, message.stamp)) continue;
          diagnose(
            `no sync report for ${where} ${message.stamp.requestId}: ${(lifecycle.get(message.stamp.requestId) ?? []).join('; ')}`,
          );
        }
      }
    }
    // What the workspace sees over the API: the same counts.
    for (const workspace of workspaces) {
      const answer = await call('final check', '/cohorts', { token: workspace.restApiKey });
      for (const view of (answer?.body.cohorts ?? []) as {
        partner: string;
        cohort_id: string;
        member_count: number;
      }[]) {
        const expected = oracle.cohorts.get(
          cohortKey({ workspaceId: workspace.workspaceId, partner: view.partner, cohortId: view.cohort_id }),
        );
        const expectedCount = expected ? [...expected.members.values()].filter(Boolean).length : 0;
        if (view.member_count !== expectedCount)
          mismatch(
            `GET /cohorts ${workspace.label} ${view.partner}/${view.cohort_id}: member_count ${view.member_count}, oracle ${expectedCount}`,
          );
      }
    }
    checks.push(
      `memberships: ${registers} registers of ${allRefs.length} cohorts (2 workspaces, 3 partners) against the oracle of ${oracle.requests} accepted requests`,
      `member_count: ${exactCounts}/${allRefs.length} exact (and as GET /cohorts shows them); names: ${exactNames}/${allRefs.length} the latest rename`,
    );

    // --- Every flip has its event, every event its flip ---
    const flips = await readStreamFlips(stack);
    for (const flip of flips.filter((candidate) => candidate.endedBy !== undefined)) {
      mismatch(
        `${cohortKey(flip.ref)} ${flip.brazeId}: membership ended by ${flip.endedBy}, but pool users are never merged away`,
      );
    }
    const flipIds = new Map(
      flips.map((flip) => [
        membershipEventId(flip.ref, flip.brazeId, flip.endedBy === 'merge' ? `${flip.orderKey}#merged` : flip.orderKey),
        flip,
      ]),
    );
    const eventsDeadline = until(EVENTS_TIMEOUT_MS);
    log(
      `drained in ${Math.round((Date.now() - drainStarted) / 1000)} s; waiting for the events of ${flipIds.size} flips`,
    );
    said = Date.now();
    while ([...flipIds.keys()].some((id) => !published.has(id)) && Date.now() < eventsDeadline) {
      await sleep(500);
      if (Date.now() - said > PROGRESS_EVERY_MS) {
        said = Date.now();
        log(
          `events: ${[...flipIds.keys()].filter((id) => !published.has(id)).length} of ${flipIds.size} flips still unpublished`,
        );
      }
    }
    for (const [id, flip] of flipIds) {
      const event = published.get(id)?.event;
      if (!event)
        mismatch(`flip without an event: ${cohortKey(flip.ref)} ${flip.brazeId} ${flip.effect} at ${flip.orderKey}`);
      else if (
        event.type !== `cohort.membership.${flip.effect}` ||
        event.order_stamp !== flip.orderKey ||
        event.user.braze_id !== flip.brazeId
      ) {
        mismatch(
          `event ${id} says ${event.type} of ${event.user.braze_id} at ${event.order_stamp}; the flip was ${flip.effect} of ${flip.brazeId} at ${flip.orderKey}`,
        );
      }
    }
    for (const [id, { event }] of published) {
      if (!flipIds.has(id))
        mismatch(
          `event without a flip: ${event.type} ${event.workspace_id}/${event.partner}/${event.cohort_id} ${event.user.braze_id} at ${event.order_stamp}`,
        );
    }
    // The flips against the oracle: each at a change the oracle has for that user with that
    // effect, alternating from an add, ending in the oracle's state. Requests that reached a
    // register out of stamp order (concurrent invocations, retries, the redrive) supersede
    // each other there, so the store flips at most as often as serial application.
    const flipsByMembership = new Map<string, StreamFlip[]>();
    for (const flip of flips) {
      const key = `${cohortKey(flip.ref)}\u0000${flip.brazeId}`;
      flipsByMembership.set(key, [...(flipsByMembership.get(key) ?? []), flip]);
    }
    let serialFlips = 0;
    let inOrderMemberships = 0;
    for (const cohort of oracle.cohorts.values()) serialFlips += cohort.serialFlips;
    const flipsPerCohort = new Map<string, number>();
    for (const flip of flips)
      flipsPerCohort.set(cohortKey(flip.ref), (flipsPerCohort.get(cohortKey(flip.ref)) ?? 0) + 1);
    for (const [key, count] of flipsPerCohort) {
      const expected = oracle.cohorts.get(key)?.serialFlips ?? 0;
      if (count > expected)
        mismatch(`${key}: ${count} flips in the store, more than the ${expected} of serial application`);
    }
    for (const [key, cohort] of oracle.cohorts) {
      for (const [brazeId, history] of cohort.history) {
        const membershipFlips = (flipsByMembership.get(`${key}\u0000${brazeId}`) ?? []).sort((a, b) =>
          a.orderKey < b.orderKey ? -1 : 1,
        );
        let member = false;
        let legal = true;
        for (const flip of membershipFlips) {
          const change = history.find((entry) => entry.orderKey === flip.orderKey);
          const effect = flip.effect === 'added';
          if (!change || change.member !== effect || member === effect) legal = false;
          member = effect;
        }
        if (member !== (cohort.members.get(brazeId) ?? false)) legal = false;
        if (!legal)
          mismatch(
            `flips of ${key} ${brazeId} are no history of the oracle's changes: ${membershipFlips.map((flip) => `${flip.effect}@${flip.orderKey}`).join(', ')}`,
          );
        let serial = 0;
        let state = false;
        for (const entry of history) if (entry.member !== state) (serial += 1), (state = entry.member);
        if (serial === membershipFlips.length) inOrderMemberships += 1;
      }
    }
    const memberships = [...oracle.cohorts.values()].reduce((sum, cohort) => sum + cohort.history.size, 0);
    checks.push(
      `events: ${publishedTotal} published, ${published.size} distinct event_ids = ${flipIds.size} flips on the cohorts table's stream ` +
        `(each flip's event found, no event without a flip; ${publishedTotal - published.size} redelivered copies)`,
      `flips against the oracle: ${flips.length} in the store, ${serialFlips} in serial application; every membership's flips a history of its ` +
        `changes ending in the oracle's state; ${inOrderMemberships}/${memberships} memberships flipped exactly as serially`,
    );

    // --- Segments: audiences, sizes and exports against the oracle ---
    let audiences = 0;
    let sizes = 0;
    let exportsChecked = 0;
    for (const workspace of workspaces) {
      const membersOf = (partner: string, cohortId: string) => {
        const cohort = oracle.cohorts.get(cohortKey({ workspaceId: workspace.workspaceId, partner, cohortId }));
        return new Set([...(cohort?.members ?? [])].filter(([, member]) => member).map(([brazeId]) => brazeId));
      };
      const universe = new Set(refsOf(workspace).flatMap((ref) => [...membersOf(ref.partner, ref.cohortId)]));
      for (const [segmentId, filter] of workspace.segments) {
        const expected = evaluateFilter(filter, membersOf, universe);
        const seen: string[] = [];
        let cursor: string | null = null;
        do {
          const query: string = new URLSearchParams({ limit: '500', ...(cursor ? { cursor } : {}) }).toString();
          const answer = await call('final check', `/segments/${segmentId}/users?${query}`, {
            token: workspace.restApiKey,
          });
          if (!expectStatus('final segment page', answer, [200])) break;
          seen.push(...(answer.body.users as { braze_id: string }[]).map((user) => user.braze_id));
          cursor = answer.body.next_cursor as string | null;
        } while (cursor !== null);
        const distinct = new Set(seen);
        const missing = [...expected].filter((brazeId) => !distinct.has(brazeId));
        const extra = [...distinct].filter((brazeId) => !expected.has(brazeId));
        if (distinct.size !== seen.length || missing.length > 0 || extra.length > 0) {
          mismatch(
            `segment ${segmentId} ${JSON.stringify(filter)}: ${seen.length} users paged (${distinct.size} distinct), oracle ${expected.size}; missing ${missing.length}, extra ${extra.length}`,
          );
        } else audiences += 1;
        const segment = await call('final check', `/segments/${segmentId}`, { token: workspace.restApiKey });
        const view = segment?.body.segment as { size: number | null; size_status: string } | undefined;
        if (view && (view.size_status === 'exact' || view.size_status === 'current')) {
          if (view.size !== expected.size)
            mismatch(`segment ${segmentId}: size ${view.size} (${view.size_status}), oracle ${expected.size}`);
          else sizes += 1;
        }
      }
      for (const segmentId of [...workspace.segments.keys()].slice(0, 2)) {
        const expected = evaluateFilter(workspace.segments.get(segmentId)!, membersOf, universe);
        const started = await call('final check', `/segments/${segmentId}/exports`, {
          method: 'POST',
          token: workspace.restApiKey,
        });
        if (!expectStatus('final export', started, [201, 202])) continue;
        let view = started.body.export as { export_id: string; status: string; users_written: number };
        const exportUntil = until(EXPORT_TIMEOUT_MS);
        while (view.status !== 'done' && Date.now() < exportUntil) {
          await sleep(250);
          const polled = await call('final check', `/segments/${segmentId}/exports/${view.export_id}`, {
            token: workspace.restApiKey,
          });
          if (!expectStatus('final export poll', polled, [200])) break;
          view = polled.body.export as typeof view;
        }
        if (view.status !== 'done' || view.users_written !== expected.size)
          mismatch(
            `export of segment ${segmentId}: ${view.status}, ${view.users_written} users written, oracle ${expected.size}`,
          );
        else exportsChecked += 1;
      }
    }
    const segmentCount = workspaces.reduce((sum, workspace) => sum + workspace.segments.size, 0);
    checks.push(
      `segments: ${audiences}/${segmentCount} audiences paged to the end = set algebra over the oracle; ${sizes} sizes reported exact or current, all equal; ` +
        `${exportsChecked} final exports wrote the oracle's count`,
    );

    // --- HTTP: no 5XX but the injected 503s ---
    const partner503 = Object.entries(answers)
      .filter(([kind]) => kind.startsWith('partner'))
      .reduce((sum, [, byStatus]) => sum + (byStatus['503'] ?? 0), 0);
    const refused = faults.counts['ingest queue refused the message (503)'] ?? 0;
    if (partner503 !== refused) mismatch(`partners got ${partner503} 503s; ${refused} were injected`);
    const other5xx = Object.entries(answers).flatMap(([kind, byStatus]) =>
      Object.entries(byStatus)
        .filter(([status]) => Number(status) >= 500 && !(status === '503' && kind.startsWith('partner')))
        .map(([status, count]) => `${kind} ${status} ×${count}`),
    );
    checks.push(
      `HTTP: ${partner503} 503s, each an injected queue refusal retried to a 201; other 5XX: ${other5xx.length === 0 ? 'none' : other5xx.join(', ')}`,
    );
    checks.push(
      `DLQ: ${deadLettersAtEnd} after ${redriven} redriven; the sync put ${requeued} requests back under load; drained in ${((Date.now() - drainStarted) / 1000).toFixed(0)} s`,
    );

    faults.add('DynamoDB throttled (limits model)', limits.stats().outcomes.throttled);
    faults.add('transaction conflicts (limits model)', limits.stats().outcomes.conflict);
    faults.add('DynamoDB throttled (injected at the SDK)', injected?.throttled ?? 0);
    faults.add('transaction conflicts (injected at the SDK)', injected?.transactionConflicts ?? 0);
    faults.add('BatchGetItem keys left unprocessed (injected)', injected?.unprocessedKeys ?? 0);

    return {
      minutes: options.minutes,
      seed,
      requests: requests.counts,
      answers,
      faults: faults.counts,
      checks,
      mismatches,
      mismatchCount,
      diagnostics,
      deadLettersAtEnd,
      elapsedSeconds: {
        chaos: chaosSeconds,
        drain: (Date.now() - drainStarted) / 1000,
        total: (Date.now() - started) / 1000,
      },
    };
  } finally {
    chaos.on = false;
    await stack.stop();
    await rm(exportsFolder, { recursive: true, force: true });
  }
};

// ---------------------------------------------------------------------------------------
// Printing
// ---------------------------------------------------------------------------------------

const number = (value: number) => value.toLocaleString('en-US');

export const formatSummary = (summary: SoakSummary, shown = 10): string => {
  const lines: string[] = [];
  const width = 58;
  const row = (name: string, value: string) => `  ${name.padEnd(width)} ${value}`;
  lines.push(
    `Chaos soak: ${summary.minutes} min of chaos (seed ${summary.seed}), drained in ${summary.elapsedSeconds.drain.toFixed(0)} s, ${summary.elapsedSeconds.total.toFixed(0)} s in all`,
    '',
    'Requests sent (logical; partner retries counted apart)',
  );
  for (const [kind, count] of Object.entries(summary.requests).sort()) lines.push(row(kind, number(count)));
  lines.push('', 'HTTP answers by status');
  for (const [kind, byStatus] of Object.entries(summary.answers).sort()) {
    lines.push(
      row(
        kind,
        Object.entries(byStatus)
          .map(([status, count]) => `${status} ×${number(count)}`)
          .join(', '),
      ),
    );
  }
  lines.push('', 'Faults injected');
  for (const [kind, count] of Object.entries(summary.faults).sort()) lines.push(row(kind, number(count)));
  lines.push('', 'Checked after the drain');
  for (const check of summary.checks) lines.push(`  ${check}`);
  lines.push('', `Mismatches: ${summary.mismatchCount}`);
  for (const text of summary.mismatches.slice(0, shown)) lines.push(`  - ${text}`);
  if (summary.mismatchCount > shown) lines.push(`  … and ${summary.mismatchCount - shown} more`);
  if (summary.diagnostics.length > 0)
    lines.push('', 'Requests behind the mismatches', ...summary.diagnostics.slice(0, shown).map((text) => `  ${text}`));
  return lines.join('\n');
};
