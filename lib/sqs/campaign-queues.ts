/**
 * The campaign queues: webhook sends (one message per send, with a delay of up to SQS's
 * 900 s) and campaign work (ticks, audience chunks, timer drains). SendMessageBatch of 10
 * (AWS's limit per call), failed entries retried once and then thrown, so nothing is
 * dropped silently.
 */
import { SendMessageBatchCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { chunk } from '../dynamodb/batch.js';
import type { SendMessage, WorkMessage } from '../campaigns/messages.js';
import type { SendQueue, WorkQueue } from '../campaigns/ports.js';

/** AWS: SendMessageBatch takes at most 10 entries; DelaySeconds is at most 900. */
const SEND_BATCH_LIMIT = 10;
export const MAX_DELAY_SECONDS = 900;
const BATCHES_IN_FLIGHT = 10;

const sendAll = async (
  client: SQSClient,
  queueUrl: string,
  entries: readonly { body: string; delaySeconds?: number }[],
): Promise<void> => {
  const batches = chunk(entries, SEND_BATCH_LIMIT);
  for (let start = 0; start < batches.length; start += BATCHES_IN_FLIGHT) {
    await Promise.all(
      batches.slice(start, start + BATCHES_IN_FLIGHT).map(async (batch) => {
        let pending = batch.map((entry, index) => ({ ...entry, id: String(index) }));
        for (let attempt = 0; pending.length > 0; attempt += 1) {
          if (attempt > 1) throw new Error(`SQS refused ${pending.length} campaign message(s)`);
          const response = await client.send(
            new SendMessageBatchCommand({
              QueueUrl: queueUrl,
              Entries: pending.map((entry) => ({
                Id: entry.id,
                MessageBody: entry.body,
                ...(entry.delaySeconds ? { DelaySeconds: Math.min(MAX_DELAY_SECONDS, entry.delaySeconds) } : {}),
              })),
            }),
          );
          const failed = new Set((response.Failed ?? []).map((entry) => entry.Id));
          pending = pending.filter((entry) => failed.has(entry.id));
        }
      }),
    );
  }
};

export class SqsSendQueue implements SendQueue {
  constructor(
    private readonly client: SQSClient,
    private readonly queueUrl: string,
  ) {}

  send(messages: readonly { message: SendMessage; delaySeconds?: number }[]): Promise<void> {
    return sendAll(
      this.client,
      this.queueUrl,
      messages.map((entry) => ({ body: JSON.stringify(entry.message), delaySeconds: entry.delaySeconds })),
    );
  }
}

export class SqsWorkQueue implements WorkQueue {
  constructor(
    private readonly client: SQSClient,
    private readonly queueUrl: string,
  ) {}

  send(messages: readonly WorkMessage[], delaySeconds?: number): Promise<void> {
    return sendAll(
      this.client,
      this.queueUrl,
      messages.map((message) => ({ body: JSON.stringify(message), delaySeconds })),
    );
  }
}
