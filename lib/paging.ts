/**
 * List pages the API hands out: `?limit=N&cursor=C`, the answer's `next_cursor` (null at the
 * end). A page may hold fewer than `limit` items (its reads are bounded), so a short page is
 * not the end: only a null cursor is. Cursors are opaque (lib/segments/evaluate.ts).
 */
import { ValidationError } from './errors.js';
import { decodeCursor } from './segments/evaluate.js';

/** Items per list page by default, and at most (each a summary of a KB or so). */
export const LIST_PAGE = { defaultLimit: 100, maxLimit: 500 };
/** Bytes of JSON per list page: well under Lambda's 6 MB answer, whatever the names hold. */
export const LIST_MAX_BYTES = 2_000_000;

/**
 * A page bounded in bytes as well as in count: a name of control characters answers six bytes
 * for each it stores (`\u0001`), and an answer must stay under Lambda's 6 MB. A page cut here
 * continues after its last item (always at least one, so a list always moves on).
 */
export const cutToBytes = <T>(
  items: readonly T[],
  next: string | undefined,
  keyOf: (item: T) => string,
  options: { maxBytes?: number; bytesOf?: (item: T) => number } = {},
): { items: T[]; next: string | undefined } => {
  const maxBytes = options.maxBytes ?? LIST_MAX_BYTES;
  const bytesOf = options.bytesOf ?? ((item: T) => Buffer.byteLength(JSON.stringify(item)));
  let bytes = 0;
  const kept: T[] = [];
  for (const item of items) {
    bytes += bytesOf(item);
    if (bytes > maxBytes && kept.length > 0) return { items: kept, next: keyOf(kept.at(-1)!) };
    kept.push(item);
  }
  return { items: kept, next };
};

export interface PageRequest {
  limit: number;
  after?: string;
}

export const parsePageRequest = (
  query: { limit?: string; cursor?: string },
  bounds: { defaultLimit: number; maxLimit: number },
): PageRequest => {
  // Digits only: Number() would also take "0x10", "1e2" and " 10 ".
  const limit =
    query.limit === undefined ? bounds.defaultLimit : /^\d{1,6}$/.test(query.limit) ? Number(query.limit) : 0;
  if (limit < 1 || limit > bounds.maxLimit)
    throw new ValidationError(`\`limit\` must be an integer from 1 to ${bounds.maxLimit}`);
  if (query.cursor === undefined) return { limit };
  const after = decodeCursor(query.cursor);
  if (after === undefined) throw new ValidationError('`cursor` is not a cursor this API returned');
  return { limit, after };
};
