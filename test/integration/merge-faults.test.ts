/**
 * Identify, merge and device links under transaction conflicts (issue 9, items 7 and 8):
 * a conflict is load, never "already done"; a membership written for a profile that a
 * merge deleted is ended by the events function, count included, with no event.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DeleteCommand } from '@aws-sdk/lib-dynamodb';
import type { LocalStack } from '../../local/stack.js';
import type { MembershipEvent } from '../../lib/cohorts/events.js';
import { profileKey } from '../../lib/dynamodb/user-store.js';
import { eventually, startTestStack } from '../support/stack.js';
import { partnerClient, workspaceClient } from '../support/client.js';
import { drainMessages } from '../support/events.js';
import { injectDynamoDbFaults, type FaultRates } from '../support/faults.js';

let stack: LocalStack;
/** No random conflicts: each test forces the ones it is about, around the operation under test. */
const rates: FaultRates = { transactionConflict: 0 };
let faults: ReturnType<typeof injectDynamoDbFaults>;

const memberCount = async (cohortId: string) =>
  (await workspaceClient(stack).cohort('heap', cohortId)).body.cohort?.member_count;
const members = async (cohortId: string) => {
  const ids: string[] = [];
  for await (const id of stack.stores.memberships.cohortMembers({
    workspaceId: stack.workspace.workspaceId,
    partner: 'heap',
    cohortId,
  }))
    ids.push(id);
  return ids;
};
const waitForReports = (cohortId: string, count: number) =>
  eventually(async () => {
    const detail = await workspaceClient(stack).cohort('heap', cohortId);
    return (detail.body.cohort?.sync_reports.length ?? 0) >= count ? detail.body.cohort : undefined;
  }, 30_000);

beforeAll(async () => {
  stack = await startTestStack({ eventsRetryDelayMs: 50 });
  faults = injectDynamoDbFaults(stack.clients.dynamodb, rates, 7);
});
afterAll(() => stack?.stop());

describe('identify and merge under transaction conflicts', () => {
  it('records a device of an identified user even when its transaction first conflicts', async () => {
    // Prepare
    const workspace = workspaceClient(stack);
    // Nothing else running, so the conflicts fall on this request's transactions: the first two
    // conflict, forced (a random rate could also exhaust the retries and fail the test by chance).
    await stack.settled();
    faults.force('transactionConflict', 2);

    // Act
    const tracked = await workspace.track([{ external_id: 'linked-user', device_id: 'linked-device' }]);

    // Assess: the device names the identified user, so cohort imports never match it (rule 3).
    expect(tracked.status).toBe(201);
    expect(faults.transactionConflicts).toBeGreaterThan(0);
    const owner = await stack.stores.users.find(stack.workspace.workspaceId, {
      type: 'device_id',
      deviceId: 'linked-device',
    });
    const user = await stack.stores.users.find(stack.workspace.workspaceId, {
      type: 'external_id',
      externalId: 'linked-user',
    });
    expect(owner).toEqual({ brazeId: user!.brazeId, identified: true });
  });

  it('takes a merged profile out of every cohort, with exact counts, when the removals conflict', async () => {
    // Prepare: an anonymous member of three cohorts, and the identified user it merges into.
    const workspace = workspaceClient(stack);
    await workspace.track([{ device_id: 'anon-conflicted' }, { external_id: 'target-conflicted' }]);
    for (const cohortId of ['m1', 'm2', 'm3']) {
      await partnerClient(stack).changeCohort(cohortId, [{ device_ids: ['anon-conflicted'] }]);
      await waitForReports(cohortId, 1);
    }
    await stack.settled();
    const before = faults.transactionConflicts;
    // The merge's first four transactions conflict (its removals among them), each retried.
    faults.force('transactionConflict', 4);

    // Act
    const merged = await workspace.identify({
      devices_to_identify: [{ external_id: 'target-conflicted', device_id: 'anon-conflicted' }],
    });

    // Assess
    expect(merged.body).toMatchObject({ merged: 1 });
    expect(faults.transactionConflicts).toBeGreaterThan(before);
    for (const cohortId of ['m1', 'm2', 'm3']) {
      expect(await members(cohortId)).toEqual([]);
      expect(await memberCount(cohortId)).toBe(0);
    }
  });
});

describe('a membership written for a profile a merge deleted', () => {
  it('takes a merged profile out of a cohort a sync put it back in while the merge ran', async () => {
    // Prepare: an anonymous member of a cohort and the user it merges into; a sync that matched
    // the anonymous profile writes its membership back after the merge dropped it and before the
    // profile is deleted (interleaved on the merge's first users-table transaction, every time).
    // Found on npm start: identify-merges racing re-syncs left members whose profiles were gone.
    const workspace = workspaceClient(stack);
    await workspace.track([{ device_id: 'anon-in-the-gap' }, { external_id: 'target-of-the-gap' }]);
    await partnerClient(stack).changeCohort('gap', [{ device_ids: ['anon-in-the-gap'] }]);
    await waitForReports('gap', 1);
    await stack.settled();
    const anonymous = await stack.stores.users.find(stack.workspace.workspaceId, {
      type: 'device_id',
      deviceId: 'anon-in-the-gap',
    });
    const ref = { workspaceId: stack.workspace.workspaceId, partner: 'heap', cohortId: 'gap' };
    let interleaved = 0;
    const middleware = 'syncInTheMergeGap';
    stack.clients.dynamodb.middlewareStack.add(
      (next, context) => async (args) => {
        const items = (args.input as { TransactItems?: Record<string, { TableName?: string }>[] }).TransactItems ?? [];
        const touchesUsers = items.some((item) =>
          Object.values(item).some((action) => action?.TableName === stack.tables.users),
        );
        if (context.commandName === 'TransactWriteItemsCommand' && touchesUsers && interleaved === 0) {
          interleaved += 1;
          await stack.stores.memberships.applyMemberships(
            ref,
            [{ brazeId: anonymous!.brazeId, member: true, orderKey: '~late-sync' }],
            new Date(),
          );
        }
        return next(args);
      },
      { step: 'initialize', name: middleware },
    );

    // Act
    try {
      const identified = await workspace.identify({
        devices_to_identify: [{ external_id: 'target-of-the-gap', device_id: 'anon-in-the-gap' }],
      });
      expect(identified.status, JSON.stringify(identified.body)).toBe(201);
    } finally {
      stack.clients.dynamodb.middlewareStack.remove(middleware);
    }
    await stack.settled();

    // Assess: the sync's write landed in the gap, and the merged profile is in no cohort.
    expect(interleaved).toBe(1);
    expect(await members('gap')).toEqual([]);
    expect(await memberCount('gap')).toBe(0);
  });

  it('is ended by the events function, count included, and no event is published for it', async () => {
    // Prepare: a user whose profile is gone while its external id still resolves, as when a
    // sync matched an anonymous profile just before identify merged it away.
    const workspace = workspaceClient(stack);
    await workspace.track([{ external_id: 'orphan-to-be' }, { external_id: 'stays' }]);
    const orphan = await stack.stores.users.find(stack.workspace.workspaceId, {
      type: 'external_id',
      externalId: 'orphan-to-be',
    });
    await stack.clients.documents.send(
      new DeleteCommand({
        TableName: stack.tables.users,
        Key: { pk: profileKey(stack.workspace.workspaceId, orphan!.brazeId) },
      }),
    );
    await drainMessages(stack.clients.sqs, stack.events.watchQueueUrl);

    // Act
    await partnerClient(stack).changeCohort('orphaned', [{ user_ids: ['orphan-to-be', 'stays'] }]);
    await waitForReports('orphaned', 1);

    // Assess: only the user that exists remains, and only its add is published.
    const stays = await stack.stores.users.find(stack.workspace.workspaceId, {
      type: 'external_id',
      externalId: 'stays',
    });
    await eventually(
      async () => ((await memberCount('orphaned')) === 1 ? true : undefined),
      20_000,
      'the orphan ended',
    );
    expect(await members('orphaned')).toEqual([stays!.brazeId]);
    const events: MembershipEvent[] = [];
    await eventually(async () => {
      events.push(
        ...(await drainMessages(stack.clients.sqs, stack.events.watchQueueUrl)).map(
          (body) => JSON.parse(body) as MembershipEvent,
        ),
      );
      return events.some((event) => event.cohort_id === 'orphaned') ? true : undefined;
    });
    // Nothing more will come: the stream read to its end, every queue empty.
    await stack.settled();
    events.push(
      ...(await drainMessages(stack.clients.sqs, stack.events.watchQueueUrl)).map(
        (body) => JSON.parse(body) as MembershipEvent,
      ),
    );
    expect(
      events.filter((event) => event.cohort_id === 'orphaned').map((event) => [event.type, event.user.braze_id]),
    ).toEqual([['cohort.membership.added', stays!.brazeId]]);
  });
});
