/**
 * Membership events on the local stack: the events function reads the cohorts table's
 * stream (the outbox) and publishes one event per flip actually applied (none for
 * no-ops); a failed publish is retried from the stream, so no flip is lost, even one a
 * newer change has already overwritten.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalStack } from '../../local/stack.js';
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

/** Every event that has reached the queue subscribed to the topic so far (kept across reads). */
const arrived: MembershipEvent[] = [];
const watched = async (): Promise<MembershipEvent[]> => {
  arrived.push(
    ...(await drainMessages(stack.clients.sqs, stack.events.watchQueueUrl)).map(
      (body) => JSON.parse(body) as MembershipEvent,
    ),
  );
  return arrived;
};
/** Waits until `count` events of a cohort have arrived (late deliveries included), then returns them. */
const eventsOf = (cohortId: string, count: number) =>
  eventually(
    async () => {
      const events = (await watched()).filter((event) => event.cohort_id === cohortId);
      return events.length >= count ? events : undefined;
    },
    30_000,
    `${count} events of ${cohortId}`,
  );

beforeAll(async () => {
  stack = await startTestStack({
    eventsRetryDelayMs: 50,
    // Counts what the events function hands to SNS, and can make the next publishes fail.
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
    await partnerClient(stack).changeCohort('funnel', [
      { user_ids: ['e1'] },
      { user_ids: ['e2'], should_remove: true },
    ]);
    await waitForReports('funnel', 2);

    // Assess
    const all = await eventsOf('funnel', 4);
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

  it('publishes again when publishing fails, without holding up the sync', async () => {
    // Prepare
    failPublishing = 2;

    // Act
    await partnerClient(stack).changeCohort('retried', [{ user_ids: ['e1', 'e2'] }]);

    // Assess: the sync is done whatever SNS does; the events follow once it answers.
    const cohort = await waitForReports('retried', 1);
    expect(cohort.member_count).toBe(2);
    const events = await eventsOf('retried', 2);
    expect(failPublishing).toBe(0);
    expect(events.map((event) => event.user.external_id).sort()).toEqual(['e1', 'e2']);
    expect(new Set(events.map((event) => event.event_id)).size).toBe(2);
  });

  it('loses no flip that a newer change overwrote while publishing was failing, and keeps their order', async () => {
    // Prepare: SNS refuses everything until the end.
    failPublishing = Number.POSITIVE_INFINITY;

    // Act: an add, then its removal, both applied while no event can go out.
    await partnerClient(stack).changeCohort('overwritten', [{ user_ids: ['e1'] }]);
    await waitForReports('overwritten', 1);
    await partnerClient(stack).changeCohort('overwritten', [{ user_ids: ['e1'], should_remove: true }]);
    await waitForReports('overwritten', 2);
    failPublishing = 0;

    // Assess: both flips, the add first, each with its own id.
    const events = await eventsOf('overwritten', 2);
    expect(events.map((event) => event.type).sort()).toEqual(['cohort.membership.added', 'cohort.membership.removed']);
    const handed = published.filter((event) => event.cohort_id === 'overwritten').map((event) => event.type);
    expect(handed).toEqual(['cohort.membership.added', 'cohort.membership.removed']);
    expect(new Set(events.map((event) => event.event_id)).size).toBe(2);
  });
});
