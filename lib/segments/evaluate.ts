/**
 * Segment evaluation as merges of sorted streams of braze_ids: a cohort's members come
 * sorted from one query, `all` is an intersection, `any` a union, "does not include" a
 * difference. Cost grows with the members read, not with the workspace, except where a
 * "does not include" is not inside an `all` that includes something: that one reads the
 * workspace's users. Inside a request, `takeWithin` bounds what a page reads.
 */
import type { Filter } from './filter.js';
import { isWellFormedUnicode } from '../unicode.js';
import { SORT_KEY_MAX_BYTES } from '../http/limits.js';

export interface MemberSource {
  /** A cohort's current members, ascending, strictly after `after`. */
  cohortMembers(partner: string, cohortId: string, after?: string): AsyncIterable<string>;
  /** Every user of the workspace, ascending, strictly after `after`. */
  workspaceUsers(after?: string): AsyncIterable<string>;
}

/** An async iterator one can look at before taking. */
class Cursor {
  private readonly iterator: AsyncIterator<string>;
  value: string | undefined;
  done = false;
  constructor(stream: AsyncIterable<string>) {
    this.iterator = stream[Symbol.asyncIterator]();
  }
  async next(): Promise<void> {
    const step = await this.iterator.next();
    this.done = step.done === true;
    this.value = step.done ? undefined : step.value;
  }
  /** Advances to the first value ≥ target. */
  async seek(target: string): Promise<void> {
    while (!this.done && this.value! < target) await this.next();
  }
  async close(): Promise<void> {
    await this.iterator.return?.();
  }
}

const open = async (streams: AsyncIterable<string>[]): Promise<Cursor[]> => {
  const cursors = streams.map((stream) => new Cursor(stream));
  await Promise.all(cursors.map((cursor) => cursor.next()));
  return cursors;
};

export async function* union(streams: AsyncIterable<string>[]): AsyncGenerator<string> {
  const cursors = await open(streams);
  try {
    for (;;) {
      const live = cursors.filter((cursor) => !cursor.done);
      if (live.length === 0) return;
      const smallest = live.reduce((min, cursor) => (cursor.value! < min ? cursor.value! : min), live[0]!.value!);
      yield smallest;
      await Promise.all(live.filter((cursor) => cursor.value === smallest).map((cursor) => cursor.next()));
    }
  } finally {
    await Promise.all(cursors.map((cursor) => cursor.close()));
  }
}

export async function* intersection(streams: AsyncIterable<string>[]): AsyncGenerator<string> {
  const cursors = await open(streams);
  try {
    for (;;) {
      if (cursors.some((cursor) => cursor.done)) return;
      const largest = cursors.reduce((max, cursor) => (cursor.value! > max ? cursor.value! : max), cursors[0]!.value!);
      await Promise.all(cursors.map((cursor) => cursor.seek(largest)));
      if (cursors.some((cursor) => cursor.done)) return;
      if (cursors.every((cursor) => cursor.value === largest)) {
        yield largest;
        await Promise.all(cursors.map((cursor) => cursor.next()));
      }
    }
  } finally {
    await Promise.all(cursors.map((cursor) => cursor.close()));
  }
}

export async function* difference(from: AsyncIterable<string>, without: AsyncIterable<string>): AsyncGenerator<string> {
  const [base, excluded] = (await open([from, without])) as [Cursor, Cursor];
  try {
    while (!base.done) {
      await excluded.seek(base.value!);
      if (excluded.done || excluded.value !== base.value) yield base.value!;
      await base.next();
    }
  } finally {
    await Promise.all([base.close(), excluded.close()]);
  }
}

const isExclusion = (filter: Filter): filter is { cohort: { partner: string; cohort_id: string; includes: false } } =>
  'cohort' in filter && !filter.cohort.includes;

/** The segment's users in ascending braze_id order, strictly after `after`. */
export const evaluate = (filter: Filter, source: MemberSource, after?: string): AsyncIterable<string> => {
  if ('cohort' in filter) {
    const members = source.cohortMembers(filter.cohort.partner, filter.cohort.cohort_id, after);
    return filter.cohort.includes ? members : difference(source.workspaceUsers(after), members);
  }
  if ('any' in filter) {
    const children = filter.any.map((child) => evaluate(child, source, after));
    return children.length === 1 ? children[0]! : union(children);
  }
  // all: intersect what is included, then take out what is excluded; the whole workspace
  // is read only when nothing is included.
  const exclusions = filter.all.filter(isExclusion);
  const inclusions = filter.all.filter((child) => !isExclusion(child)).map((child) => evaluate(child, source, after));
  const base =
    inclusions.length === 0
      ? source.workspaceUsers(after)
      : inclusions.length === 1
        ? inclusions[0]!
        : intersection(inclusions);
  if (exclusions.length === 0) return base;
  const excluded = exclusions.map((child) => source.cohortMembers(child.cohort.partner, child.cohort.cohort_id, after));
  return difference(base, excluded.length === 1 ? excluded[0]! : union(excluded));
};

/** A page read within a budget: the values, whether more may follow, and where to resume. */
export interface BoundedPage {
  values: string[];
  /** False only when the segment has no values left after the page (or none below `end`). */
  more: boolean;
  /**
   * Every value of the segment ≤ this has been returned (in this page or an earlier one):
   * the next page starts strictly after it. Beyond the last value returned when the
   * budget ran out while the filter was rejecting what it read.
   */
  resumeAfter?: string;
  /** Values read from the sources (cohort members and workspace users). */
  read: number;
}

class ReadBudgetExhausted extends Error {
  constructor() {
    super('read budget exhausted');
    this.name = 'ReadBudgetExhausted';
  }
}

/** What one source of the filter handed out, in order, and whether it reached its end. */
interface Recorded {
  values: string[];
  done: boolean;
}

/**
 * Up to `limit` values of the segment after `after` (and below `end`), reading at most
 * `readBudget` values from its sources (at least one per source, so give it more than
 * the filter has sources). A filter that rejects most of what it reads (a "does not
 * include" of a cohort holding almost everyone, a thin intersection) stops when the
 * budget runs out, with fewer values, even none, and `resumeAfter` past what it read, so
 * a page's cost is bounded whatever the data.
 *
 * How: the merge runs with every value its sources hand out recorded. When the budget
 * runs out, let F be the lowest last value among the sources still open: each source has
 * handed out every one of its values ≤ F. Evaluating the filter again over the recorded
 * values cut at F (in memory, no read) gives exactly the segment's values in (after, F],
 * and the next page starts after F (or after the page's last value, when the window
 * holds more than a page).
 */
export const takeWithin = async (
  filter: Filter,
  source: MemberSource,
  options: { after?: string; end?: string; limit: number; readBudget: number },
): Promise<BoundedPage> => {
  const recorded: Recorded[] = [];
  let read = 0;
  let exhausted = false;
  const record = (stream: AsyncIterable<string>): AsyncIterable<string> => {
    const tape: Recorded = { values: [], done: false };
    recorded.push(tape);
    return (async function* () {
      const iterator = stream[Symbol.asyncIterator]();
      try {
        for (;;) {
          if (exhausted || read >= options.readBudget) {
            exhausted = true;
            throw new ReadBudgetExhausted();
          }
          read += 1;
          const step = await iterator.next();
          // Recorded even when the budget ran out meanwhile: it was read, and the window
          // below is only as wide as the least advanced source.
          if (step.done) tape.done = true;
          else tape.values.push(step.value);
          if (exhausted) throw new ReadBudgetExhausted();
          if (step.done) return;
          yield step.value;
        }
      } finally {
        await iterator.return?.();
      }
    })();
  };
  const recording: MemberSource = {
    cohortMembers: (partner, cohortId, after) => record(source.cohortMembers(partner, cohortId, after)),
    workspaceUsers: (after) => record(source.workspaceUsers(after)),
  };
  const taken = await takeOrExhaust(evaluate(filter, recording, options.after), options.limit, options.end);
  if (taken)
    return {
      values: taken.values,
      more: taken.more,
      ...(taken.resumeAfter !== undefined ? { resumeAfter: taken.resumeAfter } : {}),
      read,
    };
  // The merges have closed their sources, so every read in flight has settled and is recorded.
  const open = recorded.filter((tape) => !tape.done);
  if (open.some((tape) => tape.values.length === 0))
    throw new Error(`read budget ${options.readBudget} is below the filter's ${recorded.length} sources`);
  const reached = open.reduce(
    (min, tape) => (tape.values.at(-1)! < min ? tape.values.at(-1)! : min),
    open[0]!.values.at(-1)!,
  );
  let next = 0;
  const replay = (): AsyncIterable<string> => {
    const tape = recorded[next++]!;
    return (async function* () {
      for (const value of tape.values) {
        if (value > reached) return;
        yield value;
      }
    })();
  };
  // The same filter builds its sources in the same order, so the n-th replay is the n-th source.
  const window = await takeOrExhaust(
    evaluate(filter, { cohortMembers: replay, workspaceUsers: replay }, options.after),
    options.limit,
    options.end,
  );
  if (!window) throw new Error('a replay reads nothing');
  if (window.more) return { values: window.values, more: true, resumeAfter: window.resumeAfter!, read };
  if (window.endReached || (options.end !== undefined && reached >= options.end))
    return { values: window.values, more: false, read };
  return { values: window.values, more: true, resumeAfter: reached, read };
};

/** Up to `limit` values (stopping at `end`), or undefined if the budget ran out first. */
const takeOrExhaust = async (
  stream: AsyncIterable<string>,
  limit: number,
  end: string | undefined,
): Promise<{ values: string[]; more: boolean; resumeAfter?: string; endReached: boolean } | undefined> => {
  const values: string[] = [];
  const iterator = stream[Symbol.asyncIterator]();
  try {
    for (;;) {
      const step = await iterator.next();
      if (!step.done && end !== undefined && step.value >= end) return { values, more: false, endReached: true };
      if (step.done) return { values, more: false, endReached: false };
      if (values.length === limit) return { values, more: true, resumeAfter: values.at(-1)!, endReached: false };
      values.push(step.value);
    }
  } catch (error: unknown) {
    if (error instanceof ReadBudgetExhausted) return undefined;
    throw error;
  } finally {
    await iterator.return?.();
  }
};

/** Cursors are opaque to clients: base64url of the last braze_id served. */
export const encodeCursor = (after: string, scope?: string): string =>
  Buffer.from(JSON.stringify(scope === undefined ? { after } : { after, scope }), 'utf8').toString('base64url');
/**
 * The key a cursor continues after, if this API issued it for the same query: `scope` names the
 * query's search, order and filters (lib/paging.ts), so a cursor of one query is refused by
 * another instead of continuing from a key that query's range may not hold.
 */
export const decodeCursor = (cursor: string, scope?: string): string | undefined => {
  try {
    const value = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as { after?: unknown; scope?: unknown };
    if (value.scope !== scope) return undefined;
    // `after` becomes a key condition (sort key M#<after>): a forged cursor no key can hold is refused, not sent to DynamoDB.
    const fits = (after: string) =>
      after !== '' && isWellFormedUnicode(after) && Buffer.byteLength(after) <= SORT_KEY_MAX_BYTES - 2;
    return typeof value.after === 'string' && fits(value.after) ? value.after : undefined;
  } catch {
    return undefined;
  }
};
