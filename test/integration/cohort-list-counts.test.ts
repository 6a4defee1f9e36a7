/**
 * The member counts a list of cohorts shows (lib/dynamodb/membership-store.ts,
 * `snapshotCount`): a copy of the count-lane sum on each cohort's list item, so a page is one
 * Query whatever its length. Checked on DynamoDB Local against a serial oracle: concurrent
 * writers to one cohort (adds and removes in random order, requests applied twice) leave the
 * copy equal to the oracle's count; a merge's ended membership moves it; a cohort listed
 * before copies were kept is counted from its lanes once; a copy found behind the lanes on a
 * cohort's page is repaired. The seed is printed; `LIST_COUNTS_SEED=<n>` replays a run.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { LocalStack } from '../../local/stack.js';
import { cohortListKey, DynamoMembershipStore } from '../../lib/dynamodb/membership-store.js';
import type { DesiredMembership } from '../../lib/cohorts/matching.js';
import { seededRandom } from '../support/faults.js';
import { startTestStack } from '../support/stack.js';

let stack: LocalStack;
let store: DynamoMembershipStore;
/** Queries of count lanes (`<ws>#C#…`, `N#…`) while a request runs. */
let laneQueries = 0;

beforeAll(async () => {
  stack = await startTestStack({ poll: false });
  store = new DynamoMembershipStore(stack.clients.documents, stack.tables.cohorts);
  stack.clients.dynamodb.middlewareStack.add(
    (next, context) => async (args) => {
      const input = args.input as { ExpressionAttributeValues?: Record<string, { S?: string }> };
      if (context.commandName === 'QueryCommand' && input.ExpressionAttributeValues?.[':lanes']?.S === 'N#')
        laneQueries += 1;
      return next(args);
    },
    { step: 'serialize', priority: 'low', name: 'countLaneQueries' },
  );
}, 120_000);
afterAll(() => stack?.stop());

const SEED = Number(process.env.LIST_COUNTS_SEED ?? Math.floor(Math.random() * 2 ** 31));
const random = seededRandom(SEED);

const workspace = () => `counts-${randomBytes(4).toString('hex')}`;
const listed = async (workspaceId: string) => {
  laneQueries = 0;
  const page = await store.listCohorts(workspaceId, { limit: 100 });
  return { counts: new Map(page.cohorts.map((cohort) => [cohort.cohortId, cohort.memberCount])), laneQueries };
};
const listItem = async (workspaceId: string, cohortId: string) =>
  (
    await stack.clients.documents.send(
      new GetCommand({
        TableName: stack.tables.cohorts,
        Key: { pk: cohortListKey(workspaceId), sk: `heap#${cohortId}` },
        ConsistentRead: true,
      }),
    )
  ).Item;

describe('member counts in a list of cohorts', () => {
  it(`equal a serial oracle after concurrent, repeated and reordered requests, and cost the page no lane reads (seed ${SEED})`, async () => {
    // Prepare: 3 cohorts, 240 users each way; 60 requests of 1–80 changes with increasing order keys.
    console.info(`cohort list counts: seed ${SEED} (LIST_COUNTS_SEED=${SEED} replays it)`);
    const workspaceId = workspace();
    const users = Array.from(
      { length: 240 },
      (_, index) => `${index.toString(16).padStart(2, '0')}${randomBytes(11).toString('hex')}`,
    );
    const cohorts = ['a', 'b', 'c'];
    const requests = Array.from({ length: 60 }, (_, index) => {
      const cohortId = cohorts[Math.floor(random() * cohorts.length)]!;
      const size = 1 + Math.floor(random() * 80);
      const changes = new Map<string, DesiredMembership>();
      for (let change = 0; change < size; change += 1) {
        const brazeId = users[Math.floor(random() * users.length)]!;
        changes.set(brazeId, { brazeId, member: random() < 0.6, orderKey: String(index).padStart(6, '0') });
      }
      return { cohortId, changes: [...changes.values()] };
    });
    // The oracle: each request applied once, in order-key order.
    const oracle = new Map(cohorts.map((cohortId) => [cohortId, new Map<string, boolean>()]));
    for (const request of requests)
      for (const change of request.changes) oracle.get(request.cohortId)!.set(change.brazeId, change.member);
    // Act: shuffled, 8 at a time, a fifth of them applied twice.
    const deliveries = [...requests, ...requests.filter(() => random() < 0.2)]
      .map((request) => ({ request, key: random() }))
      .sort((a, b) => a.key - b.key)
      .map(({ request }) => request);
    const now = new Date();
    for (let start = 0; start < deliveries.length; start += 8)
      await Promise.all(
        deliveries
          .slice(start, start + 8)
          .map((request) =>
            store.applyMemberships({ workspaceId, partner: 'heap', cohortId: request.cohortId }, request.changes, now),
          ),
      );
    // Assert: the page's counts are the oracle's, read from the list items alone.
    const page = await listed(workspaceId);
    for (const cohortId of cohorts) {
      const expected = [...oracle.get(cohortId)!.values()].filter(Boolean).length;
      expect(page.counts.get(cohortId), `cohort ${cohortId}, seed ${SEED}`).toBe(expected);
      expect((await store.getCohort({ workspaceId, partner: 'heap', cohortId }))?.memberCount).toBe(expected);
    }
    expect(page.laneQueries).toBe(0);
  });

  it('follows a membership a merge ends, and a retry that finds it ended', async () => {
    const workspaceId = workspace();
    const ref = { workspaceId, partner: 'heap', cohortId: 'merged' };
    const [kept, merged] = [`aa${randomBytes(11).toString('hex')}`, `bb${randomBytes(11).toString('hex')}`];
    await store.applyMemberships(
      ref,
      [kept, merged].map((brazeId) => ({ brazeId, member: true, orderKey: '000001' })),
      new Date(),
    );
    expect((await listed(workspaceId)).counts.get('merged')).toBe(2);

    expect(await store.endMembership(ref, merged, 'merge', new Date())).toBe(true);
    expect((await listed(workspaceId)).counts.get('merged')).toBe(1);

    // A copy left behind (as by a crash between the transaction and the copy) is brought up by the retry.
    await stack.clients.documents.send(
      new UpdateCommand({
        TableName: stack.tables.cohorts,
        Key: { pk: cohortListKey(workspaceId), sk: 'heap#merged' },
        UpdateExpression: 'SET memberCount = :two',
        ExpressionAttributeValues: { ':two': 2 },
      }),
    );
    expect(await store.endMembership(ref, merged, 'merge', new Date())).toBe(false);
    expect((await listed(workspaceId)).counts.get('merged')).toBe(1);
  });

  it('counts a cohort synced before copies were kept from its lanes once, then from its copy', async () => {
    const workspaceId = workspace();
    const ref = { workspaceId, partner: 'heap', cohortId: 'older' };
    await store.applyMemberships(
      ref,
      [{ brazeId: `cc${randomBytes(11).toString('hex')}`, member: true, orderKey: '000001' }],
      new Date(),
    );
    // As the previous version left it: no copy on the list item.
    await stack.clients.documents.send(
      new UpdateCommand({
        TableName: stack.tables.cohorts,
        Key: { pk: cohortListKey(workspaceId), sk: 'heap#older' },
        UpdateExpression: 'REMOVE memberCount, countReadAt',
      }),
    );

    const first = await listed(workspaceId);
    const second = await listed(workspaceId);

    expect(first).toEqual({ counts: new Map([['older', 1]]), laneQueries: 1 });
    expect(second).toEqual({ counts: new Map([['older', 1]]), laneQueries: 0 });
  });

  it("repairs a copy found behind the lanes when the cohort's exact count is read", async () => {
    const workspaceId = workspace();
    const ref = { workspaceId, partner: 'heap', cohortId: 'behind' };
    await store.applyMemberships(
      ref,
      [{ brazeId: `dd${randomBytes(11).toString('hex')}`, member: true, orderKey: '000001' }],
      new Date(),
    );
    await stack.clients.documents.send(
      new UpdateCommand({
        TableName: stack.tables.cohorts,
        Key: { pk: cohortListKey(workspaceId), sk: 'heap#behind' },
        UpdateExpression: 'SET memberCount = :stale',
        ExpressionAttributeValues: { ':stale': 7 },
      }),
    );
    expect((await listed(workspaceId)).counts.get('behind')).toBe(7);

    expect((await store.getCohort(ref))?.memberCount).toBe(1);

    expect((await listed(workspaceId)).counts.get('behind')).toBe(1);
    expect(await listItem(workspaceId, 'behind')).toMatchObject({ memberCount: 1 });
  });

  it('shows 0 for a cohort named but never synced, without reading lanes', async () => {
    const workspaceId = workspace();
    await store.nameCohort(
      { workspaceId, partner: 'heap', cohortId: 'named' },
      {
        name: 'Named only',
        createdAt: '2026-12-07T00:00:00.000Z',
        orderKey: '000001',
        acceptedAt: '2026-12-07T00:00:00.000Z',
      },
      new Date(),
    );

    expect(await listed(workspaceId)).toEqual({ counts: new Map([['named', 0]]), laneQueries: 0 });
  });
});
