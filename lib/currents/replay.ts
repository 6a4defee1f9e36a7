/** Dead letters of a Currents connector queued again (the console's replay; the admin CLI does the same). */
import type { CurrentsEvent } from './events.js';
import type { CurrentsQueue } from './ports.js';

export interface DeadLetterStore {
  deadLetterPage(
    workspaceId: string,
    connectorId: string,
    page: { limit: number },
  ): Promise<{ letters: { key: string; event: CurrentsEvent }[]; next?: string }>;
  deleteDeadLetter(workspaceId: string, connectorId: string, key: string): Promise<void>;
}

/**
 * Letters one replay request queues at most: each is a queue send and a delete (~20 ms), so a
 * request stays well inside API Gateway's 29 s however many letters a connector holds; the
 * answer says whether more remain (ask again).
 */
export const REPLAY_PER_REQUEST = 200;

/** Each letter is queued before it is deleted, so a failure midway loses none (a retry may queue one twice: Currents consumers dedupe by event id). */
export const replayDeadLetters = async (
  store: DeadLetterStore,
  queue: CurrentsQueue,
  workspaceId: string,
  connectorId: string,
  now: () => number = Date.now,
  limit = REPLAY_PER_REQUEST,
): Promise<{ requeued: number; remaining: boolean }> => {
  const { letters, next } = await store.deadLetterPage(workspaceId, connectorId, { limit });
  for (const letter of letters) {
    // A fresh delivery window for the replay: the event is queued again now.
    await queue.send([{ v: 1, workspaceId, connectorId, queuedAt: now(), event: letter.event }]);
    await store.deleteDeadLetter(workspaceId, connectorId, letter.key);
  }
  // DynamoDB answers a continuation whenever a page stops at its limit, even at the end: look.
  const remaining =
    next !== undefined && (await store.deadLetterPage(workspaceId, connectorId, { limit: 1 })).letters.length > 0;
  return { requeued: letters.length, remaining };
};
