import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { decodeCursor, encodeCursor, evaluate, takeWithin, type MemberSource } from '../../lib/segments/evaluate.js';
import { cohortTestsOf, parseFilter, type Filter } from '../../lib/segments/filter.js';
import { ValidationError } from '../../lib/errors.js';

/** A plain in-memory member source: sorted arrays, and a count of values read. */
const memorySource = (users: string[], cohorts: Record<string, string[]>) => {
  const reads = { values: 0 };
  async function* from(values: string[], after?: string) {
    for (const value of [...values].sort()) {
      if (after !== undefined && value <= after) continue;
      reads.values += 1;
      yield value;
    }
  }
  const source: MemberSource = {
    cohortMembers: (partner, cohortId, after) => from(cohorts[`${partner}/${cohortId}`] ?? [], after),
    workspaceUsers: (after) => from(users, after),
  };
  return { source, reads };
};

const collect = async (stream: AsyncIterable<string>) => {
  const values: string[] = [];
  for await (const value of stream) values.push(value);
  return values;
};

const includes = (cohortId: string, partner = 'heap'): Filter => ({
  cohort: { partner, cohort_id: cohortId, includes: true },
});
const excludes = (cohortId: string, partner = 'heap'): Filter => ({
  cohort: { partner, cohort_id: cohortId, includes: false },
});

const users = ['a', 'b', 'c', 'd', 'e', 'f', 'g'];
const cohorts = { 'heap/x': ['a', 'b', 'c', 'd'], 'heap/y': ['c', 'd', 'e'], 'segment/z': ['d', 'g'] };

describe('evaluate', () => {
  it.each<[string, Filter, string[]]>([
    ['includes', includes('x'), ['a', 'b', 'c', 'd']],
    ['does not include (the whole workspace minus the cohort)', excludes('x'), ['e', 'f', 'g']],
    ['all: intersection', { all: [includes('x'), includes('y')] }, ['c', 'd']],
    ['any: union without duplicates', { any: [includes('x'), includes('y')] }, ['a', 'b', 'c', 'd', 'e']],
    ['all with an exclusion', { all: [includes('x'), excludes('y')] }, ['a', 'b']],
    [
      'partners mixed, nested',
      { any: [{ all: [includes('x'), excludes('y')] }, includes('z', 'segment')] },
      ['a', 'b', 'd', 'g'],
    ],
    ['only exclusions', { all: [excludes('x'), excludes('z', 'segment')] }, ['e', 'f']],
    ['an unknown cohort is empty', includes('nope'), []],
  ])('%s', async (_case, filter, expected) => {
    expect(await collect(evaluate(filter, memorySource(users, cohorts).source))).toEqual(expected);
  });

  it('reads only the cohorts it needs when something is included', async () => {
    const { source, reads } = memorySource(users, cohorts);
    await collect(evaluate({ all: [includes('x'), excludes('y')] }, source));
    expect(reads.values).toBeLessThanOrEqual(cohorts['heap/x'].length + cohorts['heap/y'].length);
  });

  it('matches set algebra for random filters and memberships', async () => {
    const ids = fc.uniqueArray(fc.constantFrom(...'abcdefghij'), { maxLength: 10 });
    const leaf = fc.record({
      cohort: fc.record({
        partner: fc.constant('heap'),
        cohort_id: fc.constantFrom('p', 'q', 'r'),
        includes: fc.boolean(),
      }),
    });
    const filter: fc.Arbitrary<Filter> = fc.letrec<{ f: Filter }>((tie) => ({
      f: fc.oneof(
        { depthSize: 'small', withCrossShrink: true },
        leaf,
        fc.record({ all: fc.array(tie('f'), { minLength: 1, maxLength: 3 }) }),
        fc.record({ any: fc.array(tie('f'), { minLength: 1, maxLength: 3 }) }),
      ),
    })).f;
    await fc.assert(
      fc.asyncProperty(ids, ids, ids, filter, async (p, q, r, f) => {
        const all = [...'abcdefghij'];
        const members: Record<string, string[]> = { 'heap/p': p, 'heap/q': q, 'heap/r': r };
        const expected = (node: Filter): Set<string> => {
          if ('cohort' in node) {
            const set = new Set(members[`heap/${node.cohort.cohort_id}`]);
            return node.cohort.includes ? set : new Set(all.filter((id) => !set.has(id)));
          }
          const sets = ('all' in node ? node.all : node.any).map(expected);
          return 'all' in node
            ? new Set(all.filter((id) => sets.every((set) => set.has(id))))
            : new Set(all.filter((id) => sets.some((set) => set.has(id))));
        };
        const actual = await collect(evaluate(f, memorySource(all, members).source));
        expect(actual).toEqual([...expected(f)].sort());
      }),
      { numRuns: 500 },
    );
  });

  it('pages with a cursor in stable order, never repeating a user', async () => {
    const { source } = memorySource(users, cohorts);
    const filter: Filter = { any: [includes('x'), includes('y')] };
    const page = (after?: string) =>
      takeWithin(filter, source, { ...(after !== undefined ? { after } : {}), limit: 2, readBudget: 1_000 });
    const first = await page();
    expect(first).toMatchObject({ values: ['a', 'b'], more: true, resumeAfter: 'b' });
    const cursor = encodeCursor(first.resumeAfter!);
    const second = await page(decodeCursor(cursor));
    expect(second).toMatchObject({ values: ['c', 'd'], more: true });
    const last = await page('d');
    expect(last).toMatchObject({ values: ['e'], more: false });
  });

  it('treats a malformed cursor as invalid', () => {
    expect(decodeCursor('not-a-cursor')).toBeUndefined();
    expect(decodeCursor(encodeCursor('abc'))).toBe('abc');
  });
});

describe('parseFilter', () => {
  it('accepts nested filters and lists their cohorts', () => {
    const filter = parseFilter({ all: [includes('x'), { any: [excludes('y'), includes('z', 'segment')] }] });
    expect(cohortTestsOf(filter).map((test) => test.cohort_id)).toEqual(['x', 'y', 'z']);
  });

  it.each([
    ['a bare cohort id', 'x', /Invalid filter/],
    ['includes missing', { cohort: { partner: 'heap', cohort_id: 'x' } }, /Invalid filter/],
    ['an empty all', { all: [] }, /Invalid filter/],
    ['an unknown key', { none: [includes('x')] }, /Invalid filter/],
    ['too deep', [1, 2, 3, 4, 5, 6].reduce<Filter>((inner) => ({ all: [inner] }), includes('x')), /deeper than 6/],
  ])('rejects %s with a 400 that says what is wrong', (_case, value, message) => {
    expect(() => parseFilter(value)).toThrow(ValidationError);
    expect(() => parseFilter(value)).toThrow(message);
  });
});
