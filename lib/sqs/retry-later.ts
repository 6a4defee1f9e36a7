/**
 * Hands a received message back to its queue for a later attempt: SQS ChangeMessageVisibility
 * on its receipt handle, so it comes back after `seconds` (AWS bounds that at 12 hours). The
 * `retryLater` of the functions that pace their own retries (the sender, Currents delivery).
 */
import { ChangeMessageVisibilityCommand, type SQSClient } from '@aws-sdk/client-sqs';

export type RetryLater = (receiptHandle: string, seconds: number) => Promise<void>;

export const retryLaterOn =
  (client: SQSClient, queueUrl: string): RetryLater =>
  async (receiptHandle, seconds) => {
    await client.send(
      new ChangeMessageVisibilityCommand({
        QueueUrl: queueUrl,
        ReceiptHandle: receiptHandle,
        VisibilityTimeout: seconds,
      }),
    );
  };
