/** Dead letters of a Currents connector queued again (the console's replay; the admin CLI does the same). */
import type { CurrentsEvent } from './events.js';
import type { CurrentsQueue } from './ports.js';

export interface DeadLetterStore {
  listDeadLetters(workspaceId: string, connectorId: string): Promise<{ key: string; event: CurrentsEvent }[]>;
  deleteDeadLetter(workspaceId: string, connectorId: string, key: string): Promise<void>;
}

/** Each letter is queued before it is deleted, so a failure midway loses none (a retry may queue one twice: Currents consumers dedupe by event id). */
export const replayDeadLetters = async (
  store: DeadLetterStore,
  queue: CurrentsQueue,
  workspaceId: string,
  connectorId: string,
  now: () => number = Date.now,
): Promise<number> => {
  const letters = await store.listDeadLetters(workspaceId, connectorId);
  for (const letter of letters) {
    // A fresh delivery window for the replay: the event is queued again now.
    await queue.send([{ v: 1, workspaceId, connectorId, queuedAt: now(), event: letter.event }]);
    await store.deleteDeadLetter(workspaceId, connectorId, letter.key);
  }
  return letters.length;
};
