/**
 * The send-rate limit's rule (docs/campaigns.md, "Send-rate limit"): a campaign or Canvas
 * with `rate_limit_per_minute` R sends at most R messages a minute, evenly spread, its
 * steps sharing the one limit. Each message is given a slot when it is released to the
 * sends queue: slots are 60,000 / R ms apart, none before the message is due, in the order
 * messages are released. Pure: the store keeps the campaign's next free slot and writes
 * what this decides, conditioned on the version it read, so concurrent releases never share
 * a slot.
 */

/** Braze's bounds for a campaign's rate limit (messages per minute). */
export const MIN_RATE_PER_MINUTE = 10;
export const MAX_RATE_PER_MINUTE = 500_000;

/** Milliseconds between two slots. */
export const slotIntervalMs = (perMinute: number): number => 60_000 / perMinute;

/**
 * Slots for messages due at `dues` (ms since the epoch), from the pacer's next free instant
 * `next` (absent: a pacer never used): in due order, each at its due time or the next free
 * instant, whichever is later; the next free instant then moves one interval on. Answers
 * the slots in the order of `dues` and the pacer's new next free instant.
 */
export const assignSlots = (
  next: number | undefined,
  dues: readonly number[],
  perMinute: number,
): { slots: number[]; next: number | undefined } => {
  const interval = slotIntervalMs(perMinute);
  const order = dues.map((_, index) => index).sort((a, b) => dues[a]! - dues[b]! || a - b);
  const slots = new Array<number>(dues.length);
  let free = next ?? Number.NEGATIVE_INFINITY;
  for (const index of order) {
    const slot = Math.max(dues[index]!, free);
    slots[index] = slot;
    free = slot + interval;
  }
  return { slots, next: dues.length > 0 ? free : next };
};

/**
 * How many users a scheduled run's audience chunk reads under a rate limit: about what the
 * limit sends within `horizonMs` (at least 1, at most `chunkUsers`), so the audience is read
 * close to when it is sent and a paced run does not park its whole audience as timers.
 */
export const pacedChunkUsers = (perMinute: number, horizonMs: number, chunkUsers: number): number =>
  Math.max(1, Math.min(chunkUsers, Math.floor((perMinute * horizonMs) / 60_000)));

/**
 * Seconds until a run to `audience` users reaches the last one: the limit's own pace
 * (audience ÷ R minutes, the first slot at once), or what the sending path allows unpaced
 * (`unpacedPerSecond`, measured or projected), whichever is slower.
 */
export const secondsToLastMessage = (
  audience: number,
  perMinute: number | undefined,
  unpacedPerSecond: number,
): number =>
  Math.max(perMinute === undefined ? 0 : (Math.max(0, audience - 1) * 60) / perMinute, audience / unpacedPerSecond);
