/**
 * List pages the API hands out: `?limit=N&cursor=C`, the answer's `next_cursor` (null at the
 * end). A page may hold fewer than `limit` items (its reads are bounded), so a short page is
 * not the end: only a null cursor is. Cursors are opaque (lib/segments/evaluate.ts).
 */
import { createHash } from 'node:crypto';
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
  scope?: string,
): PageRequest => {
  // Digits only: Number() would also take "0x10", "1e2" and " 10 ".
  const limit =
    query.limit === undefined ? bounds.defaultLimit : /^\d{1,6}$/.test(query.limit) ? Number(query.limit) : 0;
  if (limit < 1 || limit > bounds.maxLimit)
    throw new ValidationError(`\`limit\` must be an integer from 1 to ${bounds.maxLimit}`);
  if (query.cursor === undefined) return { limit };
  const after = decodeCursor(query.cursor, scope);
  if (after === undefined)
    throw new ValidationError(
      '`cursor` is not a cursor this API returned for this query (the same `q`, `order` and filters as the page it came with)',
    );
  return { limit, after };
};

export { SEARCH_MAX_CHARACTERS, searchLength } from './contract/search.js';
import { SEARCH_MAX_CHARACTERS, searchLength } from './contract/search.js';

/** The query parameters every list takes (parseListRequest); a list with filters adds their names. */
export const LIST_QUERY = ['limit', 'cursor', 'q', 'order'] as const;

export interface ListRequest extends PageRequest {
  /** Case-insensitive: in the name, or at the start of the id. */
  search?: string;
  /** Id order, ascending (default) or descending. */
  order: 'asc' | 'desc';
  /** What the query's cursors are bound to: pass it to encodeCursor. */
  scope: string;
}

/**
 * A list's page, search and order: `?limit=&cursor=&q=&order=asc|desc`. An empty or blank `q`
 * is no search. A search reads at most the page's usual bound of items (a few DynamoDB pages),
 * keeping those that match, so a page of a search may be short or empty with a `next_cursor`:
 * only a null cursor is the end.
 */
export const parseListRequest = (
  query: { limit?: string; cursor?: string; q?: string; order?: string },
  bounds: { defaultLimit: number; maxLimit: number },
  /** Which list (and whose: a connector's dead letters): a cursor of another list is refused. */
  list: string,
  filters: Record<string, string | undefined> = {},
): ListRequest => {
  const search = query.q?.trim();
  if (search !== undefined && searchLength(search) > SEARCH_MAX_CHARACTERS)
    throw new ValidationError(`\`q\` must be at most ${SEARCH_MAX_CHARACTERS} characters`);
  if (query.order !== undefined && query.order !== 'asc' && query.order !== 'desc')
    throw new ValidationError('`order` must be `asc` or `desc`');
  const order = query.order === 'desc' ? 'desc' : 'asc';
  const scope = listScope({
    list,
    ...filters,
    ...(search ? { q: search } : {}),
    ...(order === 'desc' ? { order } : {}),
  });
  const page = parsePageRequest(query, bounds, scope);
  return { ...page, ...(search ? { search } : {}), order, scope };
};

/**
 * A short digest of the list and its query's search, order and filters. It keeps a cursor to
 * the query it came with (a careless client's mix-up is a 400, not a skipped or empty page);
 * it is not a secret: a forged cursor can only start a list where its key range allows.
 */
const listScope = (fields: Record<string, string | undefined>): string => {
  const set = Object.entries(fields)
    .filter(([, value]) => value !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : 1));
  return createHash('sha256').update(JSON.stringify(set)).digest('base64url').slice(0, 16);
};

/**
 * Text as a search compares it: compatibility forms and accents taken apart and the accents
 * dropped (NFKD without combining marks: "ﬁ" is "fi", "é" and "İ" are "e" and "I"), lower-cased,
 * with the case pairs lower-casing leaves apart made one ("ß" is "ss", a final "ς" is "σ").
 */
const folded = (text: string) =>
  text.normalize('NFKD').replace(/\p{M}/gu, '').toLowerCase().replace(/ß/g, 'ss').replace(/ς/g, 'σ');

/** Whether a list item matches a search: the text in its name, or its id starting with it. */
export const searchMatcher = (search: string | undefined) => {
  if (search === undefined) return undefined;
  const wanted = folded(search);
  return (fields: { name?: unknown; id?: unknown }): boolean =>
    (typeof fields.name === 'string' && folded(fields.name).includes(wanted)) ||
    (typeof fields.id === 'string' && folded(fields.id).startsWith(wanted));
};
