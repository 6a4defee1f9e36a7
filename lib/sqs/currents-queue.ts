import { SendMessageBatchCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { chunk } from '../dynamodb/batch.js';
import { ServiceUnavailableError } from '../errors.js';
import type { CurrentsMessage, CurrentsQueue } from '../currents/ports.js';
import { toSqsBody } from './cohort-queue.js';

/** The message's schema lives with the port; the delivery function parses what this queue carries with it. */
export { CurrentsMessage } from '../currents/ports.js';

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
