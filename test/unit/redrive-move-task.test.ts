/**
 * The AWS redrive (SQS message move task): fauxqs has no move tasks, so SQS's answers are
 * given at the SDK's protocol boundary (middleware on a real client, nothing sent).
 */
import { describe, expect, it } from 'vitest';
import { SQSClient } from '@aws-sdk/client-sqs';
import { moveDeadLetters } from '../../lib/sqs/redrive.js';

const DLQ_ARN = 'arn:aws:sqs:eu-west-1:123456789012:svc-prod-cohort-changes-dlq';

/** A client on which SQS answers `answers[command]` in turn; records what was asked. */
const sqsAnswering = (answers: Record<string, Record<string, unknown>[]>) => {
  const client = new SQSClient({
    region: 'eu-west-1',
    credentials: { accessKeyId: 'unit', secretAccessKey: 'unit' },
    // Nothing listens here: a request that got past the middleware would fail the test.
    endpoint: 'http://127.0.0.1:9',
  });
  const asked: { command: string; input: Record<string, unknown> }[] = [];
  client.middlewareStack.add(
    (_next, context) => async (args) => {
      const command = context.commandName ?? '';
      asked.push({ command, input: (args as { input: Record<string, unknown> }).input });
      const output = answers[command]?.shift();
      if (!output) throw new Error(`unexpected ${command}`);
      return { output: { ...output, $metadata: {} }, response: {} };
    },
    { step: 'initialize', name: 'answerAsSqs' },
  );
  return { client, asked };
};

describe('moveDeadLetters', () => {
  it('starts a move task back to the source queue and waits until it completes', async () => {
    // Prepare
    const { client, asked } = sqsAnswering({
      StartMessageMoveTaskCommand: [{ TaskHandle: 'task-1' }],
      ListMessageMoveTasksCommand: [
        { Results: [{ TaskHandle: 'task-1', Status: 'RUNNING', ApproximateNumberOfMessagesMoved: 2 }] },
        {
          Results: [{ Status: 'COMPLETED', ApproximateNumberOfMessagesMoved: 5, ApproximateNumberOfMessagesToMove: 5 }],
        },
      ],
    });
    const progress: number[] = [];

    // Act
    const result = await moveDeadLetters(client, DLQ_ARN, {
      pollIntervalMs: 1,
      onProgress: ({ moved }) => progress.push(moved),
    });

    // Assess: no destination, so each message returns to the queue it came from.
    expect(result).toEqual({ moved: 5 });
    expect(progress).toEqual([2]);
    expect(asked[0]).toEqual({ command: 'StartMessageMoveTaskCommand', input: { SourceArn: DLQ_ARN } });
    expect(asked.slice(1).map(({ input }) => input)).toEqual([
      { SourceArn: DLQ_ARN, MaxResults: 1 },
      { SourceArn: DLQ_ARN, MaxResults: 1 },
    ]);
  });

  it('fails with SQS’s reason when the task fails', async () => {
    // Prepare
    const { client } = sqsAnswering({
      StartMessageMoveTaskCommand: [{ TaskHandle: 'task-2' }],
      ListMessageMoveTasksCommand: [
        { Results: [{ Status: 'FAILED', ApproximateNumberOfMessagesMoved: 1, FailureReason: 'AccessDenied' }] },
      ],
    });

    // Act
    const moving = moveDeadLetters(client, DLQ_ARN, { pollIntervalMs: 1 });

    // Assess
    await expect(moving).rejects.toThrow('The message move task failed after 1 message(s): AccessDenied');
  });
});
