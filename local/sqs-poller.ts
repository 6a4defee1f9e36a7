/**
 * Runs an SQS-triggered handler against a queue with the semantics of Lambda's event
 * source mapping, which serverless-offline-sqs does not have (it deletes failed records):
 * - records named in `batchItemFailures` are left on the queue, to come back after the
 *   visibility timeout; the others are deleted;
 * - a handler that throws, times out or answers something malformed fails the whole batch;
 * - the queue's redrive policy moves a record to the DLQ after maxReceiveCount receives;
 * - a record is never handed out again while its batch still runs. On AWS the visibility
 *   timeout is at least 6 × the function timeout (infra test), so that holds by itself.
 *   Tests and the soak shorten a queue's visibility timeout so that failed records come
 *   back quickly; the poller then receives with the function's timeout as the visibility
 *   and, once the batch is over, makes each failed record visible after the queue's own
 *   (short) timeout, unless the handler set that record's visibility itself (the sender's
 *   retry delays). Without this a batch slower than the short timeout was handed to a
 *   second invocation while it ran, so a slower machine did more work: the duplicates
 *   made conflicts, the conflicts made it slower still.
 */
import {
  ChangeMessageVisibilityBatchCommand,
  DeleteMessageBatchCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  type Message,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { setTimeout as sleep } from 'node:timers/promises';
import { lambdaContext } from './lambda-context.js';

export type SqsHandler = (event: SQSEvent, context: Context) => Promise<SQSBatchResponse | void>;

export interface PollerOptions {
  client: SQSClient;
  queueUrl: string;
  queueArn: string;
  handler: SqsHandler;
  functionName?: string;
  timeoutMs: number;
  /** Lambda's batchSize: over 10, several receives are gathered into one batch. */
  batchSize?: number;
  /** How many batches run at once, like concurrent Lambda instances. */
  concurrency?: number;
  /** Called after each batch: what was deleted and what failed. */
  onBatch?: (outcome: { received: number; failed: number; error?: unknown }) => void;
}

export interface Poller {
  stop(): Promise<void>;
  /**
   * Resolves when this poller runs no batch (at once if it runs none). With the queues'
   * depths (a message received and not yet handed over is in flight, so counted), what
   * `LocalStack.settled()` builds on to assert that something did not happen: progress by
   * events, not time. A stream poller's idle() is a whole pass that found nothing.
   */
  idle(): Promise<void>;
  /** Batches handed to the function so far. */
  readonly batches: number;
  /** The function it stands in for the event source mapping of (for messages). */
  readonly name: string;
  /** What it reads: a queue, or a table's stream (which has no depth to ask: its idle() is a pass that found nothing). */
  readonly source: 'sqs' | 'stream';
}

/**
 * Receipt handles whose visibility somebody changed through this client (a handler's own
 * retry delay): the poller leaves those as they were set. One watch per client.
 */
const visibilityChanges = new WeakMap<SQSClient, Set<string>>();
const watchVisibilityChanges = (client: SQSClient): Set<string> => {
  const known = visibilityChanges.get(client);
  if (known) return known;
  const changed = new Set<string>();
  visibilityChanges.set(client, changed);
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const input = (args as { input: { ReceiptHandle?: string; Entries?: { ReceiptHandle?: string }[] } }).input;
      if (context.commandName === 'ChangeMessageVisibilityCommand' && input.ReceiptHandle)
        changed.add(input.ReceiptHandle);
      if (context.commandName === 'ChangeMessageVisibilityBatchCommand')
        for (const entry of input.Entries ?? []) if (entry.ReceiptHandle) changed.add(entry.ReceiptHandle);
      return next(args);
    },
    { step: 'initialize', name: 'localPollerVisibilityWatch' },
  );
  return changed;
};

const toRecord = (message: Message, queueArn: string): SQSRecord => ({
  messageId: message.MessageId!,
  receiptHandle: message.ReceiptHandle!,
  body: message.Body ?? '',
  attributes: {
    ApproximateReceiveCount: message.Attributes?.ApproximateReceiveCount ?? '1',
    SentTimestamp: message.Attributes?.SentTimestamp ?? String(Date.now()),
    SenderId: message.Attributes?.SenderId ?? 'local',
    ApproximateFirstReceiveTimestamp: message.Attributes?.ApproximateFirstReceiveTimestamp ?? String(Date.now()),
  },
  messageAttributes: {},
  md5OfBody: message.MD5OfBody ?? '',
  eventSource: 'aws:sqs',
  eventSourceARN: queueArn,
  awsRegion: 'us-east-1',
});

/** Which records to delete: all but the reported failures; none if the response is not a valid partial response. */
export const recordsToDelete = (records: readonly SQSRecord[], response: unknown): SQSRecord[] => {
  if (response === undefined || response === null) return [...records];
  const failures = (response as SQSBatchResponse).batchItemFailures;
  if (!Array.isArray(failures)) return [];
  const failed = new Set<string>();
  for (const failure of failures) {
    const id = (failure as { itemIdentifier?: unknown })?.itemIdentifier;
    // Lambda fails the whole batch on an empty or unknown identifier.
    if (typeof id !== 'string' || id === '' || !records.some((record) => record.messageId === id)) return [];
    failed.add(id);
  }
  return records.filter((record) => !failed.has(record.messageId));
};

export const startPoller = (options: PollerOptions): Poller => {
  const { client, queueUrl, queueArn, handler } = options;
  const functionName = options.functionName ?? 'sync';
  const changedVisibility = watchVisibilityChanges(client);
  let running = true;
  let batches = 0;
  let busy = 0;
  /** Who waits for the batches running now to end. */
  let waiters: (() => void)[] = [];

  /** The queue's own visibility timeout, and the one receives use so that a running batch is not handed out again. */
  let visibility: Promise<{ queueSeconds: number; receiveSeconds?: number }> | undefined;
  const visibilityOf = () =>
    (visibility ??= client
      .send(new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['VisibilityTimeout'] }))
      .then(({ Attributes }) => {
        const queueSeconds = Number(Attributes?.VisibilityTimeout ?? 30);
        // The handler's time, and a little for the deletes after it.
        const batchSeconds = Math.ceil(options.timeoutMs / 1000) + 5;
        return { queueSeconds, receiveSeconds: queueSeconds >= batchSeconds ? undefined : batchSeconds };
      })
      .catch((error: unknown) => {
        visibility = undefined;
        throw error;
      }));

  /** Failed records of a batch received with the longer visibility: visible again after the queue's own. */
  const releaseFailed = async (failed: readonly SQSRecord[]) => {
    const { queueSeconds, receiveSeconds } = await visibilityOf();
    const release = failed.filter((record) => !changedVisibility.has(record.receiptHandle));
    if (receiveSeconds === undefined || release.length === 0) return;
    // AWS: ChangeMessageVisibilityBatch takes at most 10 entries.
    await Promise.all(
      Array.from({ length: Math.ceil(release.length / 10) }, (_, call) =>
        client
          .send(
            new ChangeMessageVisibilityBatchCommand({
              QueueUrl: queueUrl,
              Entries: release.slice(call * 10, call * 10 + 10).map((record, index) => ({
                Id: String(index),
                ReceiptHandle: record.receiptHandle,
                VisibilityTimeout: queueSeconds,
              })),
            }),
          )
          // A record whose receipt is no longer valid is visible already.
          .catch(() => undefined),
      ),
    );
  };

  const runBatch = async (messages: Message[]): Promise<void> => {
    const records = messages.map((message) => toRecord(message, queueArn));
    let toDelete: SQSRecord[] = [];
    let error: unknown;
    try {
      const response = await Promise.race([
        handler({ Records: records }, lambdaContext(functionName, options.timeoutMs)),
        sleep(options.timeoutMs).then(() => {
          throw new Error(`Task timed out after ${options.timeoutMs / 1000} seconds`);
        }),
      ]);
      toDelete = recordsToDelete(records, response);
    } catch (caught: unknown) {
      error = caught;
      console.error(
        `[${functionName}] batch failed; its ${records.length} records return after the visibility timeout:`,
        caught,
      );
    }
    // AWS: DeleteMessageBatch takes at most 10 entries; a batch of more records is deleted 10 at a time.
    await Promise.all(
      Array.from({ length: Math.ceil(toDelete.length / 10) }, (_, call) =>
        client.send(
          new DeleteMessageBatchCommand({
            QueueUrl: queueUrl,
            Entries: toDelete
              .slice(call * 10, call * 10 + 10)
              .map((record, index) => ({ Id: String(index), ReceiptHandle: record.receiptHandle })),
          }),
        ),
      ),
    );
    const deleted = new Set(toDelete.map((record) => record.receiptHandle));
    await releaseFailed(records.filter((record) => !deleted.has(record.receiptHandle))).catch((caught: unknown) => {
      console.error(`[${functionName}] failed records keep the longer visibility timeout:`, caught);
    });
    for (const record of records) changedVisibility.delete(record.receiptHandle);
    options.onBatch?.({ received: records.length, failed: records.length - toDelete.length, error });
  };

  const loop = async (): Promise<void> => {
    while (running) {
      const messages: Message[] = [];
      try {
        const { receiveSeconds } = await visibilityOf();
        const batchSize = options.batchSize ?? 10;
        // SQS gives at most 10 per call; like Lambda's batching window, gather up to batchSize.
        for (let first = true; messages.length < batchSize; first = false) {
          const response = await client.send(
            new ReceiveMessageCommand({
              QueueUrl: queueUrl,
              MaxNumberOfMessages: Math.min(10, batchSize - messages.length),
              WaitTimeSeconds: first ? 1 : 0,
              VisibilityTimeout: receiveSeconds,
              MessageSystemAttributeNames: ['All'],
            }),
          );
          const received = response.Messages ?? [];
          messages.push(...received);
          if (received.length === 0) break;
        }
      } catch (error: unknown) {
        if (!running) return;
        console.error(`[${functionName}] receive failed, retrying:`, error);
        await sleep(500);
        continue;
      }
      if (messages.length === 0) continue;
      batches += 1;
      busy += 1;
      try {
        await runBatch(messages);
      } finally {
        busy -= 1;
        if (busy === 0) {
          for (const wake of waiters) wake();
          waiters = [];
        }
      }
    }
  };

  const loops = Array.from({ length: options.concurrency ?? 2 }, () => loop());
  return {
    stop: async () => {
      running = false;
      await Promise.allSettled(loops);
      for (const wake of waiters) wake();
      waiters = [];
    },
    idle: () =>
      running && busy > 0
        ? new Promise<void>((resolve) => {
            waiters.push(resolve);
          })
        : Promise.resolve(),
    get batches() {
      return batches;
    },
    name: functionName,
    source: 'sqs',
  };
};
