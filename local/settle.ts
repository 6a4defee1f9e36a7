/**
 * "Nothing more will happen": every poller of a local stack idle and every queue empty
 * (visible, in flight and delayed), with no batch handed out meanwhile. What a test waits
 * for before it asserts an absence ("nothing sent early", "no second event"): progress by
 * events, not a fixed sleep that a slower machine outlasts.
 */
import { GetQueueAttributesCommand, type SQSClient } from '@aws-sdk/client-sqs';
import type { Poller } from './sqs-poller.js';

export interface SettleTarget {
  sqs: SQSClient;
  pollers: readonly Poller[];
  /** Queues by name, for the message when it does not settle. */
  queues: Readonly<Record<string, string>>;
}

/** Messages a queue still holds: visible, in flight and delayed. */
export const queueDepth = async (sqs: SQSClient, queueUrl: string): Promise<number> => {
  const { Attributes = {} } = await sqs.send(
    new GetQueueAttributesCommand({
      QueueUrl: queueUrl,
      AttributeNames: [
        'ApproximateNumberOfMessages',
        'ApproximateNumberOfMessagesNotVisible',
        'ApproximateNumberOfMessagesDelayed',
      ],
    }),
  );
  return (
    Number(Attributes.ApproximateNumberOfMessages ?? 0) +
    Number(Attributes.ApproximateNumberOfMessagesNotVisible ?? 0) +
    Number(Attributes.ApproximateNumberOfMessagesDelayed ?? 0)
  );
};

/**
 * Resolves once, in one round, every poller was idle (no batch running; the stream read to
 * its end), every queue was empty (visible, in flight and delayed: a message received and
 * not yet handed to a batch is in flight), and no poller started a batch during the round.
 * Fails after `timeoutMs` saying which queues still held messages (a record failing again
 * and again, a long retry delay).
 */
/** How soon a round that found work still on its way looks again. */
const RECHECK_MS = 25;

export const settled = async (target: SettleTarget, timeoutMs = 60_000): Promise<void> => {
  const deadline = Date.now() + timeoutMs;
  const batches = () => target.pollers.reduce((sum, poller) => sum + poller.batches, 0);
  let pending = 'the pollers had not gone idle';
  for (;;) {
    const before = batches();
    let timer: NodeJS.Timeout | undefined;
    const waiting = new Set(target.pollers.map((poller) => poller.name));
    const idleOf = (source: Poller['source']) =>
      Promise.all(
        target.pollers
          .filter((poller) => poller.source === source)
          .map((poller) => poller.idle().then(() => waiting.delete(poller.name))),
      );
    const idle = await Promise.race([
      // The queues' pollers first, then a pass over the streams that begins after them: what a batch that
      // ended just now wrote to the table is read in that pass (a stream has no depth to ask).
      idleOf('sqs')
        .then(() => idleOf('stream'))
        .then(() => true),
      new Promise<false>((resolve) => {
        timer = setTimeout(() => resolve(false), Math.max(0, deadline - Date.now()));
      }),
    ]).finally(() => clearTimeout(timer));
    if (idle) {
      const depths = await Promise.all(
        Object.entries(target.queues).map(async ([name, url]) => [name, await queueDepth(target.sqs, url)] as const),
      );
      const holding = depths.filter(([, depth]) => depth > 0);
      if (holding.length === 0 && batches() === before) return;
      pending =
        holding.length > 0
          ? `queues still holding messages: ${holding.map(([name, depth]) => `${name} ${depth}`).join(', ')}`
          : 'batches kept arriving';
      // Something is still on its way: look again shortly (a condition polled, not an absence slept on).
      await new Promise((resolve) => setTimeout(resolve, RECHECK_MS));
    }
    if (!idle) pending = `still running a batch: ${[...waiting].join(', ')}`;
    if (Date.now() >= deadline) throw new Error(`the local stack did not settle within ${timeoutMs} ms: ${pending}`);
  }
};
