import { SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import type { CohortQueue } from '../cohorts/ingest.js';
import type { CohortMessage } from '../cohorts/messages.js';
import { PayloadTooLargeError, ServiceUnavailableError } from '../errors.js';

/** AWS: an SQS message is at most 1 MiB (since August 2025). */
export const MAX_MESSAGE_BYTES = 1_048_576;

export class SqsCohortQueue implements CohortQueue {
  constructor(
    private readonly client: SQSClient,
    private readonly queueUrl: string,
  ) {}

  async send(message: CohortMessage): Promise<void> {
    const body = JSON.stringify(message);
    const size = Buffer.byteLength(body, 'utf8');
    if (size > MAX_MESSAGE_BYTES) {
      throw new PayloadTooLargeError('Request too large to queue', [
        `the request becomes a ${size}-byte message; the queue takes at most ${MAX_MESSAGE_BYTES} bytes: split the request`,
      ]);
    }
    try {
      // SendMessage resolves only once SQS has stored the message redundantly.
      await this.client.send(new SendMessageCommand({ QueueUrl: this.queueUrl, MessageBody: body }));
    } catch (error: unknown) {
      throw new ServiceUnavailableError('The request could not be queued; nothing was accepted. Retry with exponential backoff', error);
    }
  }
}
