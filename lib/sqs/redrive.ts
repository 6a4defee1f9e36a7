/**
 * Moves dead-lettered messages back to the source queue, where the sync applies them
 * like any other delivery: the order stamps make a late redrive safe (an old add
 * redriven after a newer removal changes nothing). Portable across AWS and the local
 * emulator (which has no StartMessageMoveTask): receive, send, then delete, so a crash
 * in between duplicates a message rather than losing it.
 */
import {
  DeleteMessageBatchCommand,
  ReceiveMessageCommand,
  SendMessageBatchCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';

export interface RedriveResult {
  moved: number;
  failed: number;
}

export const redriveDeadLetters = async (
  client: SQSClient,
  from: { deadLetterQueueUrl: string; queueUrl: string },
  options: { max?: number } = {},
): Promise<RedriveResult> => {
  const max = options.max ?? Number.POSITIVE_INFINITY;
  let moved = 0;
  let failed = 0;
  while (moved + failed < max) {
    const received = await client.send(
      new ReceiveMessageCommand({
        QueueUrl: from.deadLetterQueueUrl,
        MaxNumberOfMessages: Math.min(10, max - moved - failed),
        WaitTimeSeconds: 1,
        // Long enough to send and delete; if we crash, the messages reappear in the DLQ.
        VisibilityTimeout: 60,
        MessageAttributeNames: ['All'],
      }),
    );
    const messages = received.Messages ?? [];
    if (messages.length === 0) break;
    const sent = await client.send(
      new SendMessageBatchCommand({
        QueueUrl: from.queueUrl,
        Entries: messages.map((message, index) => ({
          Id: String(index),
          MessageBody: message.Body!,
          MessageAttributes: message.MessageAttributes,
        })),
      }),
    );
    // SendMessageBatch answers 200 even when entries fail: delete only what was sent.
    const sentIds = new Set((sent.Successful ?? []).map((entry) => entry.Id));
    const toDelete = messages.filter((_, index) => sentIds.has(String(index)));
    failed += messages.length - toDelete.length;
    if (toDelete.length > 0) {
      await client.send(
        new DeleteMessageBatchCommand({
          QueueUrl: from.deadLetterQueueUrl,
          Entries: toDelete.map((message, index) => ({ Id: String(index), ReceiptHandle: message.ReceiptHandle! })),
        }),
      );
    }
    moved += toDelete.length;
    if (messages.length > toDelete.length) break;
  }
  return { moved, failed };
};
