/**
 * The soak's local stack with its seams: the faults of a Lambda invocation (the sync dying
 * mid-batch or before answering), a handler instance per concurrent sync invocation, the
 * cohort store's outage, SQS refusing ingest's sends, SNS refusing or repeating publishes,
 * protocol-level DynamoDB faults and AWS's limits model on the sync's client (off until a
 * storm). The seams record what they see in the run (accepted messages, published events,
 * requeues, lifecycles). Part of the chaos soak (test/support/soak.ts).
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Context, SQSEvent } from 'aws-lambda';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { SyncHandler } from '../../../functions/sync/app.js';
import { wireSync } from '../../../functions/sync/wire.js';
import type { MembershipStore } from '../../../lib/dynamodb/membership-store.js';
import { createObservability } from '../../../lib/observability.js';
import { SqsCohortQueue, toSqsBody } from '../../../lib/sqs/cohort-queue.js';
import { applyAwsLimits, tableShapes, type AwsLimitsModel } from '../../../local/aws-limits.js';
import type { SqsHandler } from '../../../local/sqs-poller.js';
import { startLocalStack, type LocalStack } from '../../../local/stack.js';
import { injectDynamoDbFaults, type FaultInjection } from '../faults.js';
import { beforeApply } from '../store.js';
import {
  P_PUBLISH_DIES_AFTER,
  P_PUBLISH_REFUSED,
  P_QUEUE_REFUSES,
  P_SYNC_DIES_AFTER_BATCH,
  P_SYNC_DIES_MID_BATCH,
  REQUEUE_DELAY_BASE_SECONDS,
  STORM_SCALE,
  SYNC_CONCURRENCY,
  VISIBILITY_TIMEOUT_SECONDS,
} from './config.js';
import { requestIdOf, type SoakRun } from './run.js';
import { cohortKey } from './workspaces.js';

export interface SoakStack {
  stack: LocalStack;
  /** AWS's limits on the sync's client (÷STORM_SCALE), off until a storm turns them on. */
  limits: AwsLimitsModel;
  /** Protocol-level faults on the sync's DynamoDB client, at these rates (changed in place). */
  dynamoDbFaultRates: { throttle: number; unprocessedKeys: number; transactionConflict: number };
  injected: FaultInjection | undefined;
  /** Stops the stack and removes the exports folder. */
  stop(): Promise<void>;
}

/** The soak's stack, its seams installed before it starts (they reach it through `stackRef`). */
export const startSoakStack = async (run: SoakRun): Promise<SoakStack> => {
  let stackRef: LocalStack | undefined;
  let syncClient: DynamoDBClient | undefined;
  let injected: FaultInjection | undefined;
  const dynamoDbFaultRates = { throttle: 0, unprocessedKeys: 0, transactionConflict: 0 };

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
      run.trace(ids.get(record.messageId)!, `received (receive ${record.attributes.ApproximateReceiveCount})`);
    const roll = run.chaos.on ? run.random() : 1;
    const state = {
      dieAfterTransactions:
        run.chaos.on && owed.diesMidBatch ? 1 : roll < P_SYNC_DIES_MID_BATCH ? 1 + run.int(3) : undefined,
      transactions: 0,
      dead: false,
    };
    let result: Awaited<ReturnType<typeof handler>>;
    try {
      result = await invocation.run(state, () => handler(event, context));
    } catch (error: unknown) {
      for (const requestId of ids.values())
        run.trace(requestId, `the invocation threw: ${error instanceof Error ? error.message : String(error)}`);
      throw error;
    }
    const failed = new Set((result?.batchItemFailures ?? []).map((failure) => failure.itemIdentifier));
    for (const [messageId, requestId] of ids)
      run.trace(requestId, failed.has(messageId) ? 'failed (batchItemFailures)' : 'done');
    if (state.dead) {
      owed.diesMidBatch = false;
      run.faults.add('sync died mid-batch, after committed writes');
      for (const requestId of ids.values()) run.trace(requestId, 'the invocation died mid-batch');
      throw new Error('injected: the function died in the middle of the batch');
    }
    if (
      (run.chaos.on && owed.diesAfterBatch) ||
      (roll >= P_SYNC_DIES_MID_BATCH && roll < P_SYNC_DIES_MID_BATCH + P_SYNC_DIES_AFTER_BATCH)
    ) {
      owed.diesAfterBatch = false;
      run.faults.add('sync died after its batch, before answering');
      for (const requestId of ids.values()) run.trace(requestId, 'the invocation died before answering');
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
      if (run.outage !== undefined && cohortKey(cohort) === run.outage) {
        run.faults.add('cohort store outage: applies refused');
        throw new Error('injected: the store is unavailable for this cohort');
      }
    });

  let refusing: SqsCohortQueue | undefined;
  const exportsFolder = await mkdtemp(join(tmpdir(), 'soak-exports-'));

  const stack = await startLocalStack({
    sqsEndpoint: run.options.sqsEndpoint,
    dynamoDbEndpoint: run.options.dynamoDbEndpoint,
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
      injected = injectDynamoDbFaults(client, dynamoDbFaultRates, run.seed);
    },
    wrapSyncHandler: (shared) => async (event, context) => {
      const handler = run.options.sharedSyncHandler ? shared : await takeSyncInstance();
      try {
        return await invokeSync(handler, event, context);
      } finally {
        if (!run.options.sharedSyncHandler) syncInstances.push(handler as SyncHandler);
      }
    },
    wrapQueue: (queue) => ({
      send: async (message, sendOptions) => {
        if (run.chaos.on && (owed.queueRefusal || run.chance(P_QUEUE_REFUSES))) {
          owed.queueRefusal = false;
          // SQS refusing, for real: a send to a queue that does not exist.
          refusing ??= new SqsCohortQueue(stackRef!.clients.sqs, `${stackRef!.queues.queueUrl}-missing`);
          run.faults.add('ingest queue refused the message (503)');
          await refusing.send(message, sendOptions);
          throw new Error('the refusing queue accepted a message');
        }
        await queue.send(message, sendOptions);
        run.accepted.push(toSqsBody(message));
        run.trace(message.stamp.requestId, `accepted (${message.type} ${message.partner}/${message.cohortId})`);
      },
    }),
    // The stack's own sync handler (used with `sharedSyncHandler`).
    wrapMemberships: withOutage,
    wrapEventPublisher: (publisher) => ({
      publish: async (events) => {
        if (run.chaos.on && run.chance(P_PUBLISH_REFUSED)) {
          run.faults.add('events publish refused (SNS down)');
          throw new Error('injected: SNS refused the batch');
        }
        await publisher.publish(events);
        for (const event of events) {
          run.publishedTotal += 1;
          const seen = run.published.get(event.event_id);
          if (seen) seen.copies += 1;
          else run.published.set(event.event_id, { event, copies: 1 });
        }
        if (run.chaos.on && run.chance(P_PUBLISH_DIES_AFTER)) {
          run.faults.add('events function died after publishing (republished)');
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
        run.requeued += 1;
        run.trace(requestIdOf(input.MessageBody), `requeued by the sync (delay ${input.DelaySeconds ?? 0} s)`);
      }
      return result;
    },
    { step: 'initialize', name: 'soakRequeues' },
  );
  // AWS's limits on the sync's client, off until a storm turns them on.
  const limits: AwsLimitsModel = applyAwsLimits(syncClient!, { tables: tableShapes(stack.tables), scale: STORM_SCALE });
  limits.enabled = false;

  return {
    stack,
    limits,
    dynamoDbFaultRates,
    injected,
    stop: async () => {
      await stack.stop();
      await rm(exportsFolder, { recursive: true, force: true });
    },
  };
};
