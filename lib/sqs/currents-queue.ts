import { SendMessageBatchCommand, type SQSClient } from '@aws-sdk/client-sqs';
import * as z from 'zod';
import { CurrentsEvent } from '../currents/events.js';
import { chunk } from '../dynamodb/batch.js';
import { ServiceUnavailableError } from '../errors.js';
import { toSqsBody } from './cohort-queue.js';

/** One Currents event on its way to one connector. */
export const CurrentsMessage = z.object({
  v: z.literal(1),
  workspaceId: z.string().min(1),
  connectorId: z.string().min(1),
  /** Epoch ms when first queued: the sender's 24 h / 48 h windows count from here. */
  queuedAt: z.number().int(),
  event: CurrentsEvent,
});
export type CurrentsMessage = z.infer<typeof CurrentsMessage>;

export interface CurrentsQueue {
  send(messages: readonly CurrentsMessage[]): Promise<void>;
}

/** AWS: SendMessageBatch takes at most 10 entries. */
const SEND_BATCH_LIMIT = 10;

export class SqsCurrentsQueue implements CurrentsQueue {
  constructor(
    private readonly client: SQSClient,
    private readonly queueUrl: string,
  ) {}

  async send(messages: readonly CurrentsMessage[]): Promise<void> {
    for (const batch of chunk(messages, SEND_BATCH_LIMIT)) {
      const response = await this.client
        .send(
          new SendMessageBatchCommand({
            QueueUrl: this.queueUrl,
            Entries: batch.map((message, index) => ({ Id: String(index), MessageBody: toSqsBody(message) })),
          }),
        )
        .catch((error: unknown) => {
          throw new ServiceUnavailableError(
            'Events could not be queued for Currents; retry with exponential backoff',
            error,
          );
        });
      // SendMessageBatch answers 200 even when entries fail.
      if ((response.Failed ?? []).length > 0)
        throw new ServiceUnavailableError(
          'Some events could not be queued for Currents; retry with exponential backoff',
        );
    }
  }
}
