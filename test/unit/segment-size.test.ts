/**
 * Segment sizes without reading the audience in a request (lib/segments/size.ts), the
 * size job, and pages bounded by a read budget (takeWithin), with in-memory ports.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { takeWithin, type MemberSource } from '../../lib/segments/evaluate.js';
import type { Filter } from '../../lib/segments/filter.js';
import {
  answerSize,
  DEFAULT_SIZE_POLICY,
  newSizeJob,
  runSizeJobChunk,
  sizeBounds,
  sizeFromListedCounts,
  sizeNeedsUserCount,
  takesUsersInNoCohort,
  type SizeInputs,
  type SizePorts,
} from '../../lib/segments/size.js';
import type { ComputedSize, Segment, SizeJob, SizeRange } from '../../lib/segments/ports.js';
import type { Cohort } from '../../lib/cohorts/ports.js';
import type { UserCount } from '../../lib/users/ports.js';
import type { SegmentJobMessage } from '../../lib/segments/messages.js';

const includes = (cohortId: string): Filter => ({ cohort: { partner: 'heap', cohort_id: cohortId, includes: true } });
const excludes = (cohortId: string): Filter => ({ cohort: { partner: 'heap', cohort_id: cohortId, includes: false } });

/** What the filter selects, by set algebra: the oracle. */
const audienceOf = (filter: Filter, users: readonly string[], members: Record<string, readonly string[]>): string[] => {
  const select = (node: Filter): Set<string> => {
    if ('cohort' in node) {
      const set = new Set(members[node.cohort.cohort_id] ?? []);
      return node.cohort.includes ? set : new Set(users.filter((user) => !set.has(user)));
    }
    const sets = ('all' in node ? node.all : node.any).map(select);
    return new Set(
      users.filter((user) => ('all' in node ? sets.every((set) => set.has(user)) : sets.some((set) => set.has(user)))),
    );
  };
  return [...select(filter)].sort();
};

const cohort = (cohortId: string, memberCount: number, lastSyncedAt?: string): Cohort => ({
  partner: 'heap',
  cohortId,
  name: cohortId,
  memberCount,
  firstSeenAt: '2026-01-01T00:00:00.000Z',
  ...(lastSyncedAt ? { lastSyncedAt } : {}),
});

const inputsOf = (users: number, counts: Record<string, number>): SizeInputs => ({
  users: { users },
  cohorts: new Map(Object.entries(counts).map(([cohortId, count]) => [`heap/${cohortId}`, cohort(cohortId, count)])),
});

/** A workspace in memory: users, cohorts (members, last sync), segments; and what the ports were asked. */
class Workspace {
  readonly workspaceId = 'ws';
  users: string[] = [];
  members: Record<string, string[]> = {};
  lastSyncedAt: Record<string, string> = {};
  userCount: UserCount = { users: 0 };
  segmentsById = new Map<string, Segment>();
  sent: SegmentJobMessage[] = [];
  /** Values handed out by the sources. */
  read = 0;

  setUsers(users: string[]) {
    this.users = [...users].sort();
    this.userCount = { ...this.userCount, users: users.length };
  }

  private async *stream(values: readonly string[], after?: string, pageSize = 1_000) {
    void pageSize;
    for (const value of [...values].sort()) {
      if (after !== undefined && value <= after) continue;
      this.read += 1;
      yield value;
    }
  }

  ports(): SizePorts {
    return {
      memberships: {
        getCohorts: async (_workspaceId, refs) =>
          refs.flatMap((ref) =>
            this.members[ref.cohortId]
              ? [cohort(ref.cohortId, this.members[ref.cohortId]!.length, this.lastSyncedAt[ref.cohortId])]
              : [],
          ),
        cohortMembers: (ref, after, pageSize) => this.stream(this.members[ref.cohortId] ?? [], after, pageSize),
      },
      users: {
        workspaceUsers: (_workspaceId, after, pageSize) => this.stream(this.users, after, pageSize),
        getProfiles: async (_workspaceId, brazeIds) =>
          brazeIds.map((brazeId) => ({
            brazeId,
            workspaceId: this.workspaceId,
            aliases: [],
            deviceIds: [],
            customAttributes: {},
            createdAt: '',
            updatedAt: '',
          })),
        workspaceUserCount: async () => this.userCount,
      },
      segments: {
        get: async (_workspaceId, segmentId) => structuredClone(this.segmentsById.get(segmentId)),
        names: async (_workspaceId, segmentIds) =>
          new Map(
            segmentIds.flatMap((segmentId) => {
              const segment = this.segmentsById.get(segmentId);
              return segment ? [[segmentId, segment.name] as const] : [];
            }),
          ),
        create: async () => {
          throw new Error('not used');
        },
        update: async () => {
          throw new Error('not used');
        },
        listPage: async () => ({ segments: [...this.segmentsById.values()] }),
        delete: async (_workspaceId, segmentId) => this.segmentsById.delete(segmentId),
        requestSizeJob: async (_workspaceId, segmentId, job, presumedLostBefore) => {
          const segment = this.segmentsById.get(segmentId);
          if (!segment || (segment.sizeJob && Date.parse(segment.sizeJob.progressAt) >= presumedLostBefore.getTime()))
            return false;
          segment.sizeJob = structuredClone(job);
          return true;
        },
        advanceSizeJob: async (
          _workspaceId,
          segmentId,
          job,
          progress: { startedAt: string; ranges: SizeRange[] },
          now,
        ) => {
          const current = this.segmentsById.get(segmentId)?.sizeJob;
          if (!current || current.jobId !== job.jobId || current.chunks !== job.chunks) return false;
          Object.assign(current, structuredClone(progress), { chunks: job.chunks + 1, progressAt: now.toISOString() });
          return true;
        },
        finishSizeJob: async (_workspaceId, segmentId, job: SizeJob, size: ComputedSize) => {
          const segment = this.segmentsById.get(segmentId);
          if (!segment?.sizeJob || segment.sizeJob.jobId !== job.jobId || segment.sizeJob.chunks !== job.chunks)
            return false;
          segment.computedSize = size;
          delete segment.sizeJob;
          return true;
        },
      },
      queue: { send: async (message) => void this.sent.push(message) },
    };
  }

  source(): MemberSource {
    const ports = this.ports();
    return {
      cohortMembers: (_partner, cohortId, after) =>
        ports.memberships.cohortMembers({ workspaceId: this.workspaceId, partner: 'heap', cohortId }, after),
      workspaceUsers: (after) => ports.users.workspaceUsers(this.workspaceId, after),
    };
  }

  segment(filter: Filter, fields: Partial<Segment> = {}): Segment {
    const segment: Segment = {
      segmentId: `s${this.segmentsById.size}`,
      name: 'n',
      filter,
      createdAt: '',
      updatedAt: '',
      ...fields,
    };
    this.segmentsById.set(segment.segmentId, segment);
    return segment;
  }
}

const hexIds = (count: number, seed = 1) => {
  // Distinct 24-hex-digit ids spread over the id space, as generateId makes them.
  let state = seed;
  const ids = new Set<string>();
  while (ids.size < count) {
    state = (state * 1103515245 + 12345) % 2 ** 31;
    ids.add((state.toString(16).padStart(8, '0') + (state * 7).toString(16)).padEnd(24, '0').slice(0, 24));
  }
  return [...ids];
};

describe('size bounds from counts', () => {
  it.each<[string, Filter, { min: number; max: number }]>([
    ['includes: the cohort count', includes('a'), { min: 30, max: 30 }],
    ['does not include: users − the cohort count', excludes('a'), { min: 70, max: 70 }],
    ['all of one: the child', { all: [excludes('b')] }, { min: 90, max: 90 }],
    ['all: at most the smallest, at least Σ − (k − 1)·U', { all: [includes('a'), includes('b')] }, { min: 0, max: 10 }],
    ['all of big cohorts: the overlap is forced', { all: [includes('c'), includes('d')] }, { min: 70, max: 80 }],
    ['any: at least the largest, at most the sum', { any: [includes('a'), includes('b')] }, { min: 30, max: 40 }],
    ['any, capped by the users', { any: [includes('c'), includes('d')] }, { min: 90, max: 100 }],
    ['any of a test and its negation: everyone', { any: [includes('a'), excludes('a')] }, { min: 70, max: 100 }],
  ])('%s', (_case, filter, expected) => {
    // Prepare: 100 users; a = 30, b = 10, c = 80, d = 90 members.
    const inputs = inputsOf(100, { a: 30, b: 10, c: 80, d: 90 });

    // Act
    const bounds = sizeBounds(filter, inputs);

    // Assess
    expect(bounds).toEqual(expected);
  });

  it('always holds the true size, and is exact only where the size is', () => {
    const users = [...'abcdefghij'];
    const ids = fc.uniqueArray(fc.constantFrom(...users), { maxLength: 10 });
    const leaf = fc.record({
      cohort: fc.record({
        partner: fc.constant('heap'),
        cohort_id: fc.constantFrom('p', 'q', 'r'),
        includes: fc.boolean(),
      }),
    });
    const filter: fc.Arbitrary<Filter> = fc.letrec<{ f: Filter }>((tie) => ({
      f: fc.oneof(
        { depthSize: 'small' },
        leaf,
        fc.record({ all: fc.array(tie('f'), { minLength: 1, maxLength: 3 }) }),
        fc.record({ any: fc.array(tie('f'), { minLength: 1, maxLength: 3 }) }),
      ),
    })).f;
    fc.assert(
      fc.property(ids, ids, ids, filter, (p, q, r, f) => {
        const members = { p, q, r };
        const size = audienceOf(f, users, members).length;
        const bounds = sizeBounds(f, inputsOf(users.length, { p: p.length, q: q.length, r: r.length }));
        expect(bounds.min).toBeLessThanOrEqual(size);
        expect(bounds.max).toBeGreaterThanOrEqual(size);
      }),
      { numRuns: 1_000 },
    );
  });

  it('knows which filters take users in no cohort (so that new users change them)', () => {
    expect(takesUsersInNoCohort(excludes('a'))).toBe(true);
    expect(takesUsersInNoCohort({ all: [includes('a'), excludes('b')] })).toBe(false);
    expect(takesUsersInNoCohort({ any: [includes('a'), excludes('b')] })).toBe(true);
    expect(takesUsersInNoCohort({ all: [excludes('a'), { any: [excludes('b'), includes('c')] }] })).toBe(true);
  });
});

describe('the size a list of segments shows from counts', () => {
  // 100 users; a = 30, b = 10, c = 80, d = 90 members, as the cohorts' list items have them; e synced before copies.
  const counts = new Map<string, number | undefined>([
    ['heap#a', 30],
    ['heap#b', 10],
    ['heap#c', 80],
    ['heap#d', 90],
    ['heap#e', undefined],
  ]);

  it.each<[string, Filter, number | undefined]>([
    ['includes: the cohort count', includes('a'), 30],
    ['does not include: users − the cohort count', excludes('a'), 70],
    ['all of one: the child', { all: [excludes('b')] }, 90],
    ['bounds that do not meet: none', { any: [includes('a'), includes('b')] }, undefined],
    ['a count not known: none', includes('e'), undefined],
    ['a count not known inside a filter: none', { all: [includes('a'), includes('e')] }, undefined],
  ])('%s', (_case, filter, expected) => {
    expect(sizeFromListedCounts(filter, counts, 100)).toBe(expected);
  });

  it('needs the user count for anything but one cohort\'s "includes"', () => {
    expect(sizeNeedsUserCount(includes('a'))).toBe(false);
    expect(sizeNeedsUserCount(excludes('a'))).toBe(true);
    expect(sizeNeedsUserCount({ all: [includes('a')] })).toBe(true);
    // Without it (0), a single "includes" is still the cohort's count.
    expect(sizeFromListedCounts(includes('c'), counts, 0)).toBe(80);
  });

  it('is the exact size wherever it answers one (the same bounds as sizeBounds)', () => {
    const users = [...'abcdefghij'];
    const ids = fc.uniqueArray(fc.constantFrom(...users), { maxLength: 10 });
    const leaf = fc.record({
      cohort: fc.record({ partner: fc.constant('heap'), cohort_id: fc.constantFrom('p', 'q'), includes: fc.boolean() }),
    });
    const filter: fc.Arbitrary<Filter> = fc.letrec<{ f: Filter }>((tie) => ({
      f: fc.oneof(
        { depthSize: 'small' },
        leaf,
        fc.record({ all: fc.array(tie('f'), { minLength: 1, maxLength: 3 }) }),
        fc.record({ any: fc.array(tie('f'), { minLength: 1, maxLength: 3 }) }),
      ),
    })).f;
    fc.assert(
      fc.property(ids, ids, filter, (p, q, f) => {
        const answered = sizeFromListedCounts(
          f,
          new Map([
            ['heap#p', p.length],
            ['heap#q', q.length],
          ]),
          users.length,
        );
        if (answered !== undefined) expect(answered).toBe(audienceOf(f, users, { p, q }).length);
      }),
      { numRuns: 1_000 },
    );
  });
});

describe('the size a request answers', () => {
  const now = new Date('2026-06-01T12:00:00.000Z');
  const minutesAgo = (minutes: number) => new Date(now.getTime() - minutes * 60_000).toISOString();
  const workspace = () => {
    const ws = new Workspace();
    ws.setUsers(hexIds(100));
    ws.members = { a: ws.users.slice(0, 30), b: ws.users.slice(20, 50) };
    return ws;
  };

  it('is exact from counts for a single "does not include", and queues nothing', async () => {
    // Prepare
    const ws = workspace();
    const segment = ws.segment(excludes('a'));

    // Act
    const answer = await answerSize(ws.workspaceId, segment, ws.ports(), now);

    // Assess: 100 − 30, without reading a single member or user.
    expect(answer).toMatchObject({ size: 70, status: 'exact', computedAt: now.toISOString(), recomputing: false });
    expect(ws.read).toBe(0);
    expect(ws.sent).toEqual([]);
  });

  it('is pending until the first computation, and a second request does not queue it again', async () => {
    const ws = workspace();
    const segment = ws.segment({ all: [includes('a'), excludes('b')] });

    const first = await answerSize(ws.workspaceId, segment, ws.ports(), now);
    const second = await answerSize(ws.workspaceId, ws.segmentsById.get(segment.segmentId)!, ws.ports(), now);

    expect(first).toMatchObject({
      size: null,
      status: 'pending',
      computedAt: null,
      recomputing: true,
      bounds: { min: 0, max: 30 },
    });
    expect(second).toMatchObject({ status: 'pending', recomputing: true });
    expect(ws.sent).toHaveLength(1);
    expect(ws.read).toBe(0);
  });

  it('is current while nothing it depends on has changed since the count began', async () => {
    const ws = workspace();
    ws.lastSyncedAt = { a: minutesAgo(30), b: minutesAgo(20) };
    const segment = ws.segment(
      { all: [includes('a'), excludes('b')] },
      { computedSize: { value: 20, computedAt: minutesAgo(10) } },
    );

    const answer = await answerSize(ws.workspaceId, segment, ws.ports(), now);

    expect(answer).toMatchObject({ size: 20, status: 'current', computedAt: minutesAgo(10), recomputing: false });
    expect(ws.sent).toEqual([]);
  });

  it.each([
    ['a cohort it names synced after the count began', { lastSyncedAt: { a: minutesAgo(5) } }],
    [
      'a sync began shortly before the count (it may have written during it)',
      { lastSyncedAt: { a: new Date(Date.parse(minutesAgo(10)) - 20_000).toISOString() } },
    ],
    ['a profile was removed (merged) since', { userCount: { users: 100, lastRemovedAt: minutesAgo(1) } }],
  ])('is stale, and queues a recompute, when %s', async (_case, change) => {
    const ws = workspace();
    Object.assign(ws, change);
    const segment = ws.segment(
      { all: [includes('a'), excludes('b')] },
      { computedSize: { value: 20, computedAt: minutesAgo(10) } },
    );

    const answer = await answerSize(ws.workspaceId, segment, ws.ports(), now);

    expect(answer).toMatchObject({ size: 20, status: 'stale', recomputing: true });
    expect(ws.sent).toEqual([
      {
        v: 1,
        type: 'segment-size',
        workspaceId: 'ws',
        segmentId: segment.segmentId,
        jobId: ws.segmentsById.get(segment.segmentId)!.sizeJob!.jobId,
      },
    ]);
  });

  it('ignores new users where users in no cohort are not in the segment, and not where they are', async () => {
    const ws = workspace();
    ws.userCount = { users: 100, lastCreatedAt: minutesAgo(1) };
    const computedSize = { value: 20, computedAt: minutesAgo(10) };

    const inclusive = await answerSize(
      ws.workspaceId,
      ws.segment({ all: [includes('a'), excludes('b')] }, { computedSize }),
      ws.ports(),
      now,
    );
    const exclusive = await answerSize(
      ws.workspaceId,
      ws.segment({ all: [excludes('a'), excludes('b')] }, { computedSize }),
      ws.ports(),
      now,
    );

    expect(inclusive.status).toBe('current');
    expect(exclusive.status).toBe('stale');
  });

  it('recomputes a stale size at most once per interval, and again once a job is presumed lost', async () => {
    const ws = workspace();
    ws.lastSyncedAt = { a: now.toISOString() };
    const recent = ws.segment(
      { all: [includes('a'), excludes('b')] },
      { computedSize: { value: 20, computedAt: new Date(now.getTime() - 30_000).toISOString() } },
    );
    const lost = ws.segment(
      { all: [includes('a'), excludes('b')] },
      { computedSize: { value: 20, computedAt: minutesAgo(60) }, sizeJob: { ...newSizeJob(new Date(minutesAgo(30))) } },
    );
    const running = ws.segment(
      { all: [includes('a'), excludes('b')] },
      { computedSize: { value: 20, computedAt: minutesAgo(60) }, sizeJob: { ...newSizeJob(new Date(minutesAgo(1))) } },
    );

    const answers = await Promise.all(
      [recent, lost, running].map((segment) => answerSize(ws.workspaceId, segment, ws.ports(), now)),
    );

    expect(answers.map((answer) => [answer.status, answer.recomputing])).toEqual([
      ['stale', false],
      ['stale', true],
      ['stale', true],
    ]);
    expect(ws.sent.map((message) => ('segmentId' in message ? message.segmentId : undefined))).toEqual([
      lost.segmentId,
    ]);
    expect(DEFAULT_SIZE_POLICY.jobLeaseMs).toBeGreaterThan(360_000 + 60_000);
  });
});

describe('the size job', () => {
  const filters: Filter[] = [
    { all: [includes('a'), excludes('b')] },
    { any: [includes('a'), includes('b'), includes('c')] },
    { any: [{ all: [includes('a'), excludes('b')] }, { all: [excludes('a'), excludes('c')] }] },
  ];

  it.each(filters.map((filter) => [JSON.stringify(filter), filter] as const))(
    'counts %s exactly, over chunks that run out of time',
    async (_case, filter) => {
      // Prepare: 5,000 users; cohorts of 60 %, 30 % and 90 % of them.
      const ws = new Workspace();
      ws.setUsers(hexIds(5_000, 7));
      ws.members = {
        a: ws.users.filter((_, index) => index % 5 < 3),
        b: ws.users.filter((_, index) => index % 10 < 3),
        c: ws.users.filter((_, index) => index % 10 !== 0),
      };
      const job = newSizeJob(new Date());
      const segment = ws.segment(filter, { sizeJob: job });
      const message = { workspaceId: ws.workspaceId, segmentId: segment.segmentId, jobId: job.jobId };

      // Act: every chunk is out of time after its first step.
      const outcomes = [];
      for (let chunk = 0; chunk < 100; chunk += 1) {
        const outcome = await runSizeJobChunk(message, ws.ports(), { outOfTime: () => true });
        outcomes.push(outcome.status);
        if (outcome.status !== 'running') break;
      }

      // Assess
      const expected = audienceOf(filter, ws.users, ws.members).length;
      expect(outcomes.at(-1)).toBe('done');
      expect(ws.segmentsById.get(segment.segmentId)).toMatchObject({ computedSize: { value: expected } });
      expect(ws.segmentsById.get(segment.segmentId)?.sizeJob).toBeUndefined();
    },
  );

  it('waits out the sync write window after a change it depends on, at most one window after it was requested', async () => {
    // Prepare: heap/a synced 10 s ago; one job requested just now, one requested 40 s ago.
    const now = new Date('2026-06-01T12:00:00.000Z');
    const ws = new Workspace();
    ws.setUsers(hexIds(100));
    ws.members = { a: ws.users.slice(0, 30), b: ws.users.slice(20, 50) };
    ws.lastSyncedAt = { a: new Date(now.getTime() - 10_000).toISOString() };
    const fresh = newSizeJob(now);
    const old = newSizeJob(new Date(now.getTime() - 40_000));
    const waiting = ws.segment({ all: [includes('a'), excludes('b')] }, { sizeJob: fresh });
    const overdue = ws.segment({ all: [includes('a'), excludes('b')] }, { sizeJob: old });

    // Act
    const deferred = await runSizeJobChunk(
      { workspaceId: ws.workspaceId, segmentId: waiting.segmentId, jobId: fresh.jobId },
      ws.ports(),
      { outOfTime: () => false, clock: () => now },
    );
    const counted = await runSizeJobChunk(
      { workspaceId: ws.workspaceId, segmentId: overdue.segmentId, jobId: old.jobId },
      ws.ports(),
      { outOfTime: () => false, clock: () => now },
    );

    // Assess: 30 s after the sync, less the 10 s gone; the overdue one counts (20 = a − b).
    expect(deferred).toEqual({ status: 'deferred', delaySeconds: 20 });
    expect(ws.segmentsById.get(waiting.segmentId)?.sizeJob?.startedAt).toBeUndefined();
    expect(counted).toEqual({ status: 'done', size: 20 });
  });

  it('does nothing for a job that was superseded, or a chunk another delivery already wrote', async () => {
    const ws = new Workspace();
    ws.setUsers(hexIds(200));
    ws.members = { a: ws.users.slice(0, 50) };
    const job = newSizeJob(new Date());
    const segment = ws.segment({ any: [includes('a'), excludes('a')] }, { sizeJob: job });
    const message = { workspaceId: ws.workspaceId, segmentId: segment.segmentId, jobId: job.jobId };
    const stale = structuredClone(job);

    // Act: a chunk completes; then a duplicate of it, holding the job as it was; then a superseded one.
    const first = await runSizeJobChunk(message, ws.ports(), { outOfTime: () => false });
    ws.segmentsById.get(segment.segmentId)!.sizeJob = stale;
    ws.segmentsById.get(segment.segmentId)!.sizeJob!.chunks = 1;
    const duplicate = await runSizeJobChunk(
      message,
      { ...ws.ports(), segments: { ...ws.ports().segments, get: async () => ({ ...segment, sizeJob: job }) } },
      { outOfTime: () => false },
    );
    const superseded = await runSizeJobChunk({ ...message, jobId: 'another' }, ws.ports(), { outOfTime: () => false });

    // Assess
    expect(first).toEqual({ status: 'done', size: 200 });
    expect(duplicate).toEqual({ status: 'superseded' });
    expect(superseded).toEqual({ status: 'superseded' });
  });
});

describe('pages within a read budget', () => {
  it('stops a "does not include" of a cohort holding almost everyone after the budget, and moves on', async () => {
    // Prepare: 10,000 users, a cohort of all but 3 of them.
    const ws = new Workspace();
    ws.setUsers(hexIds(10_000, 3));
    const outsiders = [ws.users[10]!, ws.users[5_000]!, ws.users[9_990]!];
    ws.members = { a: ws.users.filter((user) => !outsiders.includes(user)) };

    // Act
    const first = await takeWithin(excludes('a'), ws.source(), { limit: 100, readBudget: 1_000 });

    // Assess: within the budget, the one outsider it reached, and a cursor past what it read.
    expect(first.read).toBeLessThanOrEqual(1_000);
    expect(ws.read).toBeLessThanOrEqual(1_000);
    expect(first.values).toEqual([outsiders[0]]);
    expect(first.more).toBe(true);
    expect(first.resumeAfter! > outsiders[0]!).toBe(true);
    expect(first.resumeAfter! < outsiders[1]!).toBe(true);
  });

  it('pages through exactly the audience, whatever the budget, never twice', async () => {
    const users = hexIds(60, 11);
    const ids = fc.uniqueArray(fc.constantFrom(...users), { maxLength: 60 });
    const leaf = fc.record({
      cohort: fc.record({
        partner: fc.constant('heap'),
        cohort_id: fc.constantFrom('p', 'q', 'r'),
        includes: fc.boolean(),
      }),
    });
    const filter: fc.Arbitrary<Filter> = fc.letrec<{ f: Filter }>((tie) => ({
      f: fc.oneof(
        { depthSize: 'small' },
        leaf,
        fc.record({ all: fc.array(tie('f'), { minLength: 1, maxLength: 3 }) }),
        fc.record({ any: fc.array(tie('f'), { minLength: 1, maxLength: 3 }) }),
      ),
    })).f;
    await fc.assert(
      fc.asyncProperty(
        ids,
        ids,
        ids,
        filter,
        fc.integer({ min: 1, max: 7 }),
        fc.integer({ min: 0, max: 40 }),
        async (p, q, r, f, limit, extra) => {
          const ws = new Workspace();
          ws.setUsers(users);
          ws.members = { p, q, r };
          // At least one read per source, so that every page moves forward.
          const sources = JSON.stringify(f).split('"cohort":').length - 1;
          const readBudget = 2 * sources + 1 + extra;
          const served: string[] = [];
          let after: string | undefined;
          for (let page = 0; page < 1_000; page += 1) {
            const result = await takeWithin(f, ws.source(), {
              ...(after !== undefined ? { after } : {}),
              limit,
              readBudget,
            });
            expect(result.values.length).toBeLessThanOrEqual(limit);
            served.push(...result.values);
            if (!result.more) break;
            expect(result.resumeAfter).toBeDefined();
            expect(after === undefined || result.resumeAfter! > after).toBe(true);
            after = result.resumeAfter;
          }
          expect(served).toEqual(audienceOf(f, users, { p, q, r }));
        },
      ),
      { numRuns: 300 },
    );
  });
});
