/**
 * Instants in keys. Due runs and timers are sort keys that start with an instant, compared
 * as strings by DynamoDB (`sk <= :now`). `Date.toISOString()` is fixed-width, and so orders
 * as time does, only for years 0000–9999: year 10000 is `+010000-…`, and `+` sorts before
 * `2`, so a run in year 10000 was due at once (and, recurring, at every tick). Every instant
 * that becomes a key goes through `instantKey`, which refuses what it cannot order; the API
 * refuses earlier, with the bound, what could ever reach it (`scheduleProblem`).
 */

/** The last instant a key can hold and still sort as time does (toISOString's fixed width). */
export const LAST_KEY_INSTANT_MS = Date.UTC(9999, 11, 31, 23, 59, 59, 999);

/**
 * How far ahead a scheduled send may be set: two years. Far enough for any campaign
 * calendar; a date beyond it (a "never" such as 9999-12-31) is a 400 that says to keep the
 * campaign a draft or stop it instead.
 */
export const MAX_SCHEDULE_AHEAD_MS = 2 * 366 * 86_400_000;

/** An `at` this little in the past (a client's clock, the request's own time) still means "now". */
export const PAST_TOLERANCE_MS = 60_000;

export class InstantOutOfRangeError extends Error {
  constructor(ms: number) {
    super(`instant ${Number.isFinite(ms) ? ms : String(ms)} ms is outside what a key can order (years 0000–9999)`);
    this.name = 'InstantOutOfRangeError';
  }
}

/** The sortable text of an instant: ISO-8601 UTC with milliseconds, fixed width. */
export const instantKey = (instant: number | Date | string): string => {
  const ms =
    typeof instant === 'number' ? instant : typeof instant === 'string' ? Date.parse(instant) : instant.getTime();
  if (!Number.isFinite(ms) || ms < 0 || ms > LAST_KEY_INSTANT_MS) throw new InstantOutOfRangeError(ms);
  return new Date(ms).toISOString();
};

/**
 * What is wrong with a scheduled send at `atMs`, seen at `nowMs`, or undefined: in the past
 * (beyond the tolerance) or further ahead than MAX_SCHEDULE_AHEAD_MS.
 */
export const scheduleProblem = (atMs: number, nowMs: number): string | undefined => {
  if (!Number.isFinite(atMs)) return 'is not a date-time';
  if (atMs < nowMs - PAST_TOLERANCE_MS)
    return `is in the past (${new Date(atMs).toISOString()}): leave \`at\` out to send at launch`;
  if (atMs > nowMs + MAX_SCHEDULE_AHEAD_MS)
    return `is more than 2 years ahead (at most ${new Date(nowMs + MAX_SCHEDULE_AHEAD_MS).toISOString()}): to never send, keep the campaign a draft or stop it`;
  return undefined;
};
