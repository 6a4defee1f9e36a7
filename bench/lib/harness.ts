/** What every benchmark scenario shares: the stack, pools, statistics, a partner that retries as the contract says. */
import { cpus, totalmem } from 'node:os';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { BatchWriteCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { startLocalStack, type LocalStack, type LocalStackOptions } from '../../local/stack.js';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '../../local/constants.js';
import type { AdaptiveLimitOptions } from '../../lib/concurrency.js';
import { applyAwsLimits, tableShapes, type AwsLimitsModel, type Placement } from '../../local/aws-limits.js';
export const now = () => performance.now();

/** The machine a result was measured on, recorded with every scenario's figures. */
export const machineDescription = () => ({
  cpus: cpus().length,
  cpu: cpus()[0]?.model,
  memoryGb: Math.round(totalmem() / 2 ** 30),
  node: process.version,
});
export const log = (message: string) => console.error(`[bench] ${message}`);

export const percentile = (samples: readonly number[], p: number) => {
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
};
export const mean = (samples: readonly number[]) => samples.reduce((sum, value) => sum + value, 0) / samples.length;

/** Runs `count` tasks with at most `parallel` in flight. */
export const pool = async (count: number, parallel: number, task: (index: number) => Promise<void>) => {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(parallel, count) }, async () => {
      while (next < count) await task(next++);
    }),
  );
};

/**
 * POSTs a partner request as a partner does: 5XX and 429 are retried with exponential
 * backoff and full jitter (contract); anything else but 201 fails the benchmark.
 * Returns how many retries it took.
 */
export const postAsPartner = async (url: string, body: string, what: string): Promise<number> => {
  for (let attempt = 0; ; attempt += 1) {
    const response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    if (response.status === 201) return attempt;
    const text = await response.text();
    if ((response.status < 500 && response.status !== 429) || attempt >= 8)
      throw new Error(`${what}: ${response.status} ${text}`);
    await new Promise((resolve) => setTimeout(resolve, Math.random() * Math.min(10_000, 250 * 2 ** attempt)));
  }
};

/** Counts SNS publishes and the 64 KB chunks AWS bills a PublishBatch by (SNS pricing: each 64 KB chunk is one request). */
export const countPublishes = (sns: { middlewareStack: { add: (middleware: never, options: never) => void } }) => {
  /** `eventIds`: the distinct membership events published (SNS delivers at least once; a retried stream batch may publish one again). */
  const counts = { calls: 0, messages: 0, billedRequests: 0, eventIds: new Set<string>() };
  const middleware =
    (next: (args: unknown) => Promise<unknown>) =>
    async (args: { input: { PublishBatchRequestEntries?: { Message?: string }[]; Message?: string } }) => {
      const entries = args.input.PublishBatchRequestEntries ?? [{ Message: args.input.Message }];
      const bytes = entries.reduce((sum, entry) => sum + Buffer.byteLength(entry.Message ?? ''), 0);
      counts.calls += 1;
      counts.messages += entries.length;
      counts.billedRequests += Math.max(1, Math.ceil(bytes / 65_536));
      for (const entry of entries) {
        const id = /"event_id":"([^"]+)"/.exec(entry.Message ?? '')?.[1];
        if (id) counts.eventIds.add(id);
      }
      return next(args);
    };
  sns.middlewareStack.add(middleware as never, { step: 'initialize', name: 'countPublishes' } as never);
  return counts;
};

/**
 * The local stack as every scenario runs it: the sync polled by `lambdas` emulated
 * invocations with its own DynamoDB client (returned, for metering and the limits model),
 * AWS's 180 s visibility timeout (no spurious redelivery while the pipeline is saturated),
 * no rate limit, and no queue subscribed to the events (they are published and counted,
 * but nothing holds hundreds of thousands of them). Sync and events batch times are collected.
 */
export const startBenchStack = async (options: {
  prefix: string;
  lambdas: number;
  syncTransactionLoad?: AdaptiveLimitOptions;
  /** Wraps the queue ingest sends accepted requests to (the big cohort records them for its oracle and delays some). */
  wrapQueue?: LocalStackOptions['wrapQueue'];
}) => {
  let syncClient: DynamoDBClient | undefined;
  const syncBatchMs: number[] = [];
  const eventsBatchMs: number[] = [];
  const stack = await startLocalStack({
    prefix: options.prefix,
    poll: true,
    pollerConcurrency: options.lambdas,
    visibilityTimeoutSeconds: 180,
    requestsPerHour: 1e9,
    watchEvents: false,
    exportsFolder: 'bench/.exports',
    ...(options.syncTransactionLoad ? { syncTransactionLoad: options.syncTransactionLoad } : {}),
    ...(options.wrapQueue ? { wrapQueue: options.wrapQueue } : {}),
    configureSyncDynamoDb: (client) => {
      syncClient = client;
    },
    wrapSyncHandler: (handler) => async (event, context) => {
      const started = now();
      try {
        return await handler(event, context);
      } finally {
        syncBatchMs.push(now() - started);
      }
    },
    wrapEventsHandler: (handler) => async (event, context) => {
      const started = now();
      try {
        return await handler(event, context);
      } finally {
        eventsBatchMs.push(now() - started);
      }
    },
  });
  return { stack, syncClient: syncClient!, syncBatchMs, eventsBatchMs };
};

/**
 * The limits model on the sync's client (local/aws-limits.ts), with a client of its own
 * for the reads its index accounting needs; off until the measured part starts.
 */
export const limitSync = (
  stack: LocalStack,
  syncClient: DynamoDBClient,
  scale: number,
  placement: Placement = {},
): AwsLimitsModel => {
  const raw = new DynamoDBClient({
    region: LOCAL_REGION,
    credentials: LOCAL_CREDENTIALS,
    endpoint: stack.dynamoDbEndpoint,
  });
  const limits = applyAwsLimits(syncClient, { tables: tableShapes(stack.tables), scale, raw, ...placement });
  limits.enabled = false;
  return limits;
};

/** Billed units over every table the model saw. */
export const billedUnits = (limits: AwsLimitsModel): { read: number; write: number } =>
  Object.values(limits.stats().byTable).reduce(
    (sum, totals) => ({ read: sum.read + totals.readUnits, write: sum.write + totals.writeUnits }),
    { read: 0, write: 0 },
  );

/**
 * The fastest raw write path this machine has, as the ceiling a pipeline is held to:
 * BatchWriteItem of 25 items (AWS's limit per call), `writers` calls in flight,
 * unprocessed items written again. Each call writes `count` new items under distinct keys
 * after those of earlier calls (so two halves can be measured around a pipeline run).
 * Returns milliseconds.
 */
export const rawBatchWriter = (
  documents: DynamoDBDocumentClient,
  table: string,
  keyPrefix: string,
  writers: number,
) => {
  let written = 0;
  return async (count: number): Promise<number> => {
    const first = written;
    written += count;
    const started = now();
    await pool(Math.ceil(count / 25), writers, async (batch) => {
      let pending = Array.from({ length: Math.min(25, count - batch * 25) }, (_, index) => ({
        PutRequest: {
          Item: { pk: `${keyPrefix}#RAW#${first + batch * 25 + index}`, sk: 'M#raw', member: true, orderKey: 'k' },
        },
      }));
      while (pending.length > 0) {
        const response = await documents.send(new BatchWriteCommand({ RequestItems: { [table]: pending } }));
        pending = (response.UnprocessedItems?.[table] ?? []) as typeof pending;
      }
    });
    return now() - started;
  };
};

/** AWS: BatchWriteItem takes at most 25 items. */
const BATCH_WRITE_LIMIT = 25;

/**
 * Seeds a table fast: items from an iterator in BatchWriteItem calls of 25, `writers` in
 * flight, unprocessed items written again with backoff; logs progress every 15 s.
 */
export const bulkWrite = async (
  documents: DynamoDBDocumentClient,
  table: string,
  items: Iterator<Record<string, unknown>>,
  writers: number,
  what: string,
): Promise<{ items: number; seconds: number }> => {
  const started = now();
  let written = 0;
  let reported = started;
  await pool(writers, writers, async () => {
    for (;;) {
      const batch: Record<string, unknown>[] = [];
      for (let step = items.next(); !step.done; step = items.next()) {
        batch.push(step.value);
        if (batch.length === BATCH_WRITE_LIMIT) break;
      }
      if (batch.length === 0) return;
      let pending = batch.map((Item) => ({ PutRequest: { Item } }));
      for (let attempt = 0; pending.length > 0; attempt += 1) {
        if (attempt > 0)
          await new Promise((resolve) => setTimeout(resolve, Math.random() * Math.min(1_000, 20 * 2 ** attempt)));
        const response = await documents.send(new BatchWriteCommand({ RequestItems: { [table]: pending } }));
        pending = (response.UnprocessedItems?.[table] ?? []) as typeof pending;
      }
      written += batch.length;
      if (now() - reported > 15_000) {
        reported = now();
        log(
          `  ${what}: ${written.toLocaleString('en-US')} items, ${Math.round(written / ((now() - started) / 1000)).toLocaleString('en-US')}/s`,
        );
      }
    }
  });
  const seconds = (now() - started) / 1000;
  log(
    `  ${what}: ${written.toLocaleString('en-US')} items in ${seconds.toFixed(0)} s (${Math.round(written / seconds).toLocaleString('en-US')}/s)`,
  );
  return { items: written, seconds };
};
