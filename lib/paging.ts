/**
 * List pages the API hands out: `?limit=N&cursor=C`, the answer's `next_cursor` (null at the
 * end). A page may hold fewer than `limit` items (its reads are bounded), so a short page is
 * not the end: only a null cursor is. Cursors are opaque (lib/segments/evaluate.ts).
 */
import { ValidationError } from './errors.js';
import { decodeCursor } from './segments/evaluate.js';

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
