/**
 * fauxqs 2.4.1 with persistence on (a `dataDir`, as `npm start` runs it) loses a message
 * whose visibility is changed to 0 seconds: it takes the message out of flight but never
 * makes it ready again (its store writes NULL into a NOT NULL column), and the call answers
 * `MessageNotInflight`. SQS on AWS makes such a message visible at once. The sender and
 * Currents hand a message back with a 0-second delay now and then (a retry's jitter), so on
 * the local stack a retried webhook could vanish for good. Locally, with persistence, a
 * 0-second visibility change becomes 1 second: late by a second, never lost.
 */
import type { SQSClient } from '@aws-sdk/client-sqs';

type VisibilityInput = { VisibilityTimeout?: number; Entries?: { VisibilityTimeout?: number }[] };

export const avoidZeroVisibilityChanges = (client: SQSClient): void => {
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const input = (args as { input: VisibilityInput }).input;
      if (context.commandName === 'ChangeMessageVisibilityCommand' && input.VisibilityTimeout === 0)
        input.VisibilityTimeout = 1;
      if (context.commandName === 'ChangeMessageVisibilityBatchCommand')
        for (const entry of input.Entries ?? []) if (entry.VisibilityTimeout === 0) entry.VisibilityTimeout = 1;
      return next(args);
    },
    { step: 'initialize', name: 'fauxqsZeroVisibility' },
  );
};
