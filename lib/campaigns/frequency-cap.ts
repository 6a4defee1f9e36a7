/**
 * The frequency cap's rule (docs/campaigns.md, "Frequency cap"): at most `maxMessages`
 * messages per user in any rolling window of `windowSeconds`. Pure: the store keeps a
 * user's recent sends and writes what this decides, conditioned on the version it read.
 */
import { MAX_CAP_MESSAGES, MAX_CAP_WINDOW_SECONDS } from './model.js';
import type { FrequencyCap } from './ports.js';

/** One admitted send: its idempotency key and when it was admitted (ms since the epoch). */
export interface CapSend {
  k: string;
  at: number;
}

/**
 * What a user's cap item keeps: the latest MAX_CAP_MESSAGES sends of the longest window
 * the API accepts, whatever the cap is now. So a cap changed later (a longer window, more
 * messages) still counts every send inside its own window: if a send inside it was
 * dropped, all kept ones are newer, inside it too, and already at the largest maximum.
 */
export const retainedSends = (sends: readonly CapSend[], now: number): CapSend[] =>
  sends
    .filter((send) => send.at > now - MAX_CAP_WINDOW_SECONDS * 1000)
    .sort((a, b) => a.at - b.at)
    .slice(-MAX_CAP_MESSAGES);

/** How long the store keeps a user's cap item after its last send (seconds): the longest window, and a day. */
export const CAP_ITEM_TTL_SECONDS = MAX_CAP_WINDOW_SECONDS + 86_400;

export type CapDecision =
  /** The key was admitted before (a retry of the same message): no second slot. */
  | { kind: 'already' }
  | { kind: 'full' }
  /** Admit it: write these sends. */
  | { kind: 'admit'; sends: CapSend[] };

export const capDecision = (sends: readonly CapSend[], key: string, cap: FrequencyCap, now: number): CapDecision => {
  const kept = retainedSends(sends, now);
  const since = now - cap.windowSeconds * 1000;
  const recent = kept.filter((send) => send.at > since);
  if (recent.some((send) => send.k === key)) return { kind: 'already' };
  if (recent.length >= cap.maxMessages) return { kind: 'full' };
  return { kind: 'admit', sends: retainedSends([...kept, { k: key, at: now }], now) };
};
