/**
 * Membership events on the local stack: published to SNS after the write, one per change
 * actually applied (none for no-ops), and retried with the record when publishing fails.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalStack } from '../../lib/local/stack.js';
import type { MembershipEvent, MembershipEventPublisher } from '../../lib/cohorts/events.js';
import { eventually, startTestStack } from '../support/stack.js';
import { partnerClient, workspaceClient } from '../support/client.js';
import { drainMessages } from '../support/events.js';

let stack: LocalStack;
let failPublishing = 0;
const published: MembershipEvent[] = [];

const waitForReports = (cohortId: string, count: number) =>
  eventually(async () => {
    const detail = await workspaceClient(stack).cohort('heap', cohortId);
    return (detail.body.cohort?.sync_reports.length ?? 0) >= count ? detail.body.cohort : undefined;
  }, 30_000);

/** Events that reached the queue subscribed to the topic. */
const watched = async (): Promise<MembershipEvent[]> =>
  (await drainMessages(stack.clients.sqs, stack.events.watchQueueUrl)).map((body) => JSON.parse(body) as MembershipEvent);

beforeAll(async () => {
  stack = await startTestStack({
    // Counts what the sync hands to SNS, and can make the next publishes fail.
    wrapEventPublisher: (publisher: MembershipEventPublisher): MembershipEventPublisher => ({
      publish: async (events) => {
        if (failPublishing > 0) {
          failPublishing -= 1;
          throw new Error('injected: SNS unavailable');
        }
        await publisher.publish(events);
        published.push(...events);
      },
    }),
  });
  await workspaceClient(stack).track([
    { external_id: 'e1', user_alias: { alias_name: 'one@example.com', alias_label: 'email' } },
    { external_id: 'e2' },
    { device_id: 'anon-1' },
  ]);
  await partnerClient(stack).nameCohort('funnel', 'Abandoned funnel');
});
afterAll(() => stack?.stop());

describe('membership events', () => {
  it('publishes an added event per new member and a removed event per removal, none for no-ops', async () => {
    // Act
    await partnerClient(stack).changeCohort('funnel', [{ user_ids: ['e1', 'e2', 'nobody'], device_ids: ['anon-1'] }]);
    await waitForReports('funnel', 1);
    await partnerClient(stack).changeCohort('funnel', [{ user_ids: ['e1'] }, { user_ids: ['e2'], should_remove: true }]);
    await waitForReports('funnel', 2);

    // Assess
    const events = await eventually(async () => {
      const arrived = await watched();
      return arrived.length > 0 ? arrived : undefined;
    });
    const more = await watched();
    const all = [...events, ...more];
    expect(all.map((event) => `${event.type} ${event.user.external_id ?? event.user.device_ids[0]}`).sort()).toEqual([
      'cohort.membership.added anon-1',
      'cohort.membership.added e1',
      'cohort.membership.added e2',
      'cohort.membership.removed e2',
    ]);
    const e1 = all.find((event) => event.user.external_id === 'e1')!;
    expect(e1).toMatchObject({
      workspace_id: stack.workspace.workspaceId,
      partner: 'heap',
      cohort_id: 'funnel',
      cohort_name: 'Abandoned funnel',
      user: { user_aliases: [{ alias_name: 'one@example.com', alias_label: 'email' }], device_ids: [] },
    });
    expect(e1.order_stamp).toMatch(/^\d{4}-.*#.*#000000$/);
    expect(e1.event_id).toHaveLength(32);
  });

  it('retries the record when publishing fails, and the events still arrive once the topic is back', async () => {
    // Prepare
    await watched();
    failPublishing = 2;

    // Act
    await partnerClient(stack).changeCohort('retried', [{ user_ids: ['e1', 'e2'] }]);

    // Assess: the report (and so the end of the record) waits for the events.
    const cohort = await waitForReports('retried', 1);
    expect(failPublishing).toBe(0);
    expect(cohort.member_count).toBe(2);
    const arrived = await eventually(async () => {
      const events = (await watched()).filter((event) => event.cohort_id === 'retried');
      return events.length > 0 ? events : undefined;
    });
    expect(arrived.map((event) => event.user.external_id).sort()).toEqual(['e1', 'e2']);
    expect(new Set(arrived.map((event) => event.event_id)).size).toBe(2);
  });
});
