/**
 * Segment evaluation as merges of sorted streams of braze_ids: a cohort's members come
 * sorted from one query, `all` is an intersection, `any` a union, "does not include" a
 * difference. Cost grows with the members read, not with the workspace; only a filter
 * that is nothing but "does not include" tests reads every user of the workspace.
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
  const base = inclusions.length === 0 ? source.workspaceUsers(after) : inclusions.length === 1 ? inclusions[0]! : intersection(inclusions);
  if (exclusions.length === 0) return base;
  const excluded = exclusions.map((child) => source.cohortMembers(child.cohort.partner, child.cohort.cohort_id, after));
  return difference(base, excluded.length === 1 ? excluded[0]! : union(excluded));
};

/** Takes up to `limit` values, and says whether more remain. */
export const take = async (stream: AsyncIterable<string>, limit: number): Promise<{ values: string[]; more: boolean }> => {
  const values: string[] = [];
  const iterator = stream[Symbol.asyncIterator]();
  try {
    for (;;) {
      const step = await iterator.next();
      if (step.done) return { values, more: false };
      if (values.length === limit) return { values, more: true };
      values.push(step.value);
    }
  } finally {
    await iterator.return?.();
  }
};

export const count = async (stream: AsyncIterable<string>): Promise<number> => {
  let total = 0;
  for await (const _ of stream) total += 1;
  return total;
};

/** Cursors are opaque to clients: base64url of the last braze_id served. */
export const encodeCursor = (after: string): string => Buffer.from(JSON.stringify({ after }), 'utf8').toString('base64url');
export const decodeCursor = (cursor: string): string | undefined => {
  try {
    const value = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as { after?: unknown };
    // `after` becomes a key condition (sort key M#<after>): a forged cursor no key can hold is refused, not sent to DynamoDB.
    const fits = (after: string) => after !== '' && isWellFormedUnicode(after) && Buffer.byteLength(after) <= SORT_KEY_MAX_BYTES - 2;
    return typeof value.after === 'string' && fits(value.after) ? value.after : undefined;
  } catch {
    return undefined;
  }
};
