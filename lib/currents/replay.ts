/** Dead letters of a Currents connector queued again (the console's replay; the admin CLI does the same). */
import type { CurrentsEvent } from './events.js';
import type { CurrentsQueue } from './ports.js';

export interface DeadLetterStore {
  deadLetterPage(
    workspaceId: string,
    connectorId: string,
    page: { limit: number },
  ): Promise<{ letters: { key: string; event: CurrentsEvent }[]; next?: string }>;
  /** Takes the letter for this replay until `claim.until`; false when it is gone or another replay holds it. */
  claimDeadLetter(
    workspaceId: string,
    connectorId: string,
    key: string,
    claim: { now: number; until: number },
  ): Promise<boolean>;
  releaseDeadLetter(workspaceId: string, connectorId: string, key: string): Promise<void>;
  hasUnclaimedDeadLetters(workspaceId: string, connectorId: string, now: number): Promise<boolean>;
  deleteDeadLetter(workspaceId: string, connectorId: string, key: string): Promise<void>;
}

/**
 * Letters one replay request queues at most: each is a claim, a queue send and a delete
 * (~30 ms), so a request stays well inside API Gateway's 29 s however many letters a
 * connector holds; the answer says whether more remain (ask again).
 */
export const REPLAY_PER_REQUEST = 200;

/**
 * How long a replay holds a letter it claimed: far longer than queueing and deleting one
 * letter takes, and than the API function's 29 s, so a live claim is never taken over; a
 * replay that died between claim and delete leaves the letter to the next replay after this.
 */
export const REPLAY_CLAIM_MS = 5 * 60_000;

/**
 * Each letter is claimed (a conditional write), queued, then deleted: two replays at once
 * (two operators, a double click, the CLI and the console) split the letters instead of
 * queueing each twice, and a failure midway loses none (a letter whose send failed is given
 * back; one claimed by a replay that died returns after REPLAY_CLAIM_MS).
 */
export const replayDeadLetters = async (
  store: DeadLetterStore,
  queue: CurrentsQueue,
  workspaceId: string,
  connectorId: string,
  now: () => number = Date.now,
  limit = REPLAY_PER_REQUEST,
): Promise<{ requeued: number; remaining: boolean }> => {
  const { letters, next } = await store.deadLetterPage(workspaceId, connectorId, { limit });
  let requeued = 0;
  for (const letter of letters) {
    const claimedAt = now();
    if (
      !(await store.claimDeadLetter(workspaceId, connectorId, letter.key, {
        now: claimedAt,
        until: claimedAt + REPLAY_CLAIM_MS,
      }))
    )
      continue;
    try {
      // A fresh delivery window for the replay: the event is queued again now.
      await queue.send([{ v: 1, workspaceId, connectorId, queuedAt: now(), event: letter.event }]);
    } catch (error: unknown) {
      // The send's error is the one to report; a release that fails too leaves the claim to run out.
      await store.releaseDeadLetter(workspaceId, connectorId, letter.key).catch(() => undefined);
      throw error;
    }
    await store.deleteDeadLetter(workspaceId, connectorId, letter.key);
    requeued += 1;
  }
  // DynamoDB answers a continuation whenever a page stops at its limit, even at the end: look.
  // Letters another replay holds are that replay's to queue, not "remaining" for this one.
  const remaining = next !== undefined && (await store.hasUnclaimedDeadLetters(workspaceId, connectorId, now()));
  return { requeued, remaining };
};
