/**
 * Runs an SQS-triggered handler against a queue with the semantics of Lambda's event
 * source mapping, which serverless-offline-sqs does not have (it deletes failed records):
 * - records named in `batchItemFailures` are left on the queue, to come back after the
 *   visibility timeout; the others are deleted;
 * - a handler that throws, times out or answers something malformed fails the whole batch;
 * - the queue's redrive policy moves a record to the DLQ after maxReceiveCount receives.
 */
import { DeleteMessageBatchCommand, ReceiveMessageCommand, type Message, type SQSClient } from '@aws-sdk/client-sqs';
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
}

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
  let running = true;

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
    options.onBatch?.({ received: records.length, failed: records.length - toDelete.length, error });
  };

  const loop = async (): Promise<void> => {
    while (running) {
      let messages: Message[] = [];
      try {
        const batchSize = options.batchSize ?? 10;
        // SQS gives at most 10 per call; like Lambda's batching window, gather up to batchSize.
        for (let first = true; messages.length < batchSize; first = false) {
          const response = await client.send(
            new ReceiveMessageCommand({
              QueueUrl: queueUrl,
              MaxNumberOfMessages: Math.min(10, batchSize - messages.length),
              WaitTimeSeconds: first ? 1 : 0,
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
      if (messages.length > 0) await runBatch(messages);
    }
  };

  const loops = Array.from({ length: options.concurrency ?? 2 }, () => loop());
  return {
    stop: async () => {
      running = false;
      await Promise.allSettled(loops);
    },
  };
};
