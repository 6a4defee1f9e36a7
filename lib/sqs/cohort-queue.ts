import { SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import type { CohortQueue } from '../cohorts/ingest.js';
import type { CohortMessage } from '../cohorts/messages.js';
import { PayloadTooLargeError, ServiceUnavailableError } from '../errors.js';

/** AWS: an SQS message is at most 1 MiB (since August 2025). */
export const MAX_MESSAGE_BYTES = 1_048_576;

/**
 * JSON for an SQS body. SQS allows #x9 #xA #xD #x20–#xD7FF #xE000–#xFFFD #x10000–#x10FFFF;
 * JSON.stringify already escapes control characters and lone surrogates. Characters
 * beyond the BMP (emoji…) and U+FFFE/U+FFFF are escaped too: lossless through JSON.parse,
 * and accepted by every SQS implementation (fauxqs, the local emulator, rejects the
 * astral range that AWS allows).
 */
const escapeCodeUnits = (character: string): string =>
  Array.from(
    { length: character.length },
    (_, index) => `\\u${character.charCodeAt(index).toString(16).padStart(4, '0')}`,
  ).join('');

export const toSqsBody = (message: unknown): string =>
  JSON.stringify(message).replace(/[\u{10000}-\u{10FFFF}\uFFFE\uFFFF]/gu, escapeCodeUnits);

export class SqsCohortQueue implements CohortQueue {
  constructor(
    private readonly client: SQSClient,
    private readonly queueUrl: string,
  ) {}

  async send(message: CohortMessage, options: { delaySeconds?: number } = {}): Promise<void> {
    const body = toSqsBody(message);
    const size = Buffer.byteLength(body, 'utf8');
    if (size > MAX_MESSAGE_BYTES) {
      throw new PayloadTooLargeError('Request too large to queue', [
        `the request becomes a ${size}-byte message; the queue takes at most ${MAX_MESSAGE_BYTES} bytes: split the request`,
      ]);
    }
    try {
      // SendMessage resolves only once SQS has stored the message redundantly.
      await this.client.send(
        new SendMessageCommand({ QueueUrl: this.queueUrl, MessageBody: body, DelaySeconds: options.delaySeconds }),
      );
    } catch (error: unknown) {
      throw new ServiceUnavailableError(
        'The request could not be queued; nothing was accepted. Retry with exponential backoff',
        error,
      );
    }
  }
}
