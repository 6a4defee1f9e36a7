/**
 * Moves dead-lettered messages back to the source queue, where the sync applies them
 * like any other delivery: the order stamps make a late redrive safe (an old add
 * redriven after a newer removal changes nothing). Portable across AWS and the local
 * emulator (which has no StartMessageMoveTask): receive, send, then delete, so a crash
 * in between duplicates a message rather than losing it.
 */
import {
  DeleteMessageBatchCommand,
  ListMessageMoveTasksCommand,
  ReceiveMessageCommand,
  SendMessageBatchCommand,
  type SQSClient,
  StartMessageMoveTaskCommand,
} from '@aws-sdk/client-sqs';
import { setTimeout as sleep } from 'node:timers/promises';

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

export interface MoveTaskProgress {
  moved: number;
  /** Known once SQS has counted the DLQ. */
  toMove?: number;
}

/**
 * On AWS, SQS moves dead letters back itself: StartMessageMoveTask with no destination
 * returns each message to the queue it came from, at SQS's own pace and with its own
 * retries. Resolves when the task has ended (SQS has no waiter for it: the task is polled);
 * throws if it failed or was cancelled. fauxqs has no move tasks: locally, redriveDeadLetters.
 */
export const moveDeadLetters = async (
  client: SQSClient,
  deadLetterQueueArn: string,
  options: { pollIntervalMs?: number; onProgress?: (progress: MoveTaskProgress) => void } = {},
): Promise<{ moved: number }> => {
  const started = await client.send(new StartMessageMoveTaskCommand({ SourceArn: deadLetterQueueArn }));
  for (;;) {
    await sleep(options.pollIntervalMs ?? 2_000);
    // Most recent first, and SQS runs one task per queue at a time: the first is the one just started.
    const listed = await client.send(new ListMessageMoveTasksCommand({ SourceArn: deadLetterQueueArn, MaxResults: 1 }));
    const task = listed.Results?.[0];
    if (!task) throw new Error(`The message move task ${started.TaskHandle} is not listed for ${deadLetterQueueArn}`);
    const progress = {
      moved: task.ApproximateNumberOfMessagesMoved ?? 0,
      toMove: task.ApproximateNumberOfMessagesToMove,
    };
    if (task.Status === 'COMPLETED') return { moved: progress.moved };
    if (task.Status === 'FAILED' || task.Status === 'CANCELLED')
      throw new Error(
        `The message move task ${task.Status.toLowerCase()} after ${progress.moved} message(s)${task.FailureReason ? `: ${task.FailureReason}` : ''}`,
      );
    options.onProgress?.(progress);
  }
};
