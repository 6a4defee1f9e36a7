/**
 * End to end over HTTP on the local stack: partner request → API → SQS → sync → DynamoDB,
 * read back through the workspace REST API, as a user of the product would.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalStack } from '../../local/stack.js';
import { PARTNER_MESSAGES } from '../../lib/contract/partner.js';
import { eventually, startTestStack } from '../support/stack.js';
import { partnerClient, request, workspaceClient, type ExportedUser } from '../support/client.js';

let stack: LocalStack;
let partner: ReturnType<typeof partnerClient>;
let workspace: ReturnType<typeof workspaceClient>;

const cohortsOf = async (externalId: string): Promise<string[]> => {
  const exported = await workspace.exportIds({ external_ids: [externalId] });
  return (exported.body.users[0]?.cohorts ?? []).map((cohort) => cohort.cohort_id);
};

const waitForReports = (cohortId: string, count: number) =>
  eventually(
    async () => {
      const detail = await workspace.cohort('heap', cohortId);
      return detail.body.cohort?.sync_reports.length >= count ? detail.body.cohort : undefined;
    },
    20_000,
    `${count} sync reports for ${cohortId}`,
  );

beforeAll(async () => {
  stack = await startTestStack();
  partner = partnerClient(stack);
  workspace = workspaceClient(stack);
  // Prepare: users come from /users/track (cohort import never creates one).
  const tracked = await workspace.track([
    { external_id: 'ext-1', plan: 'pro' },
    { external_id: 'ext-2', user_alias: { alias_name: 'two@example.com', alias_label: 'email' } },
    { external_id: 'ext-3', device_id: 'device-of-identified' },
    { device_id: 'anon-device' },
    { user_alias: { alias_name: 'lead-7', alias_label: 'crm' } },
  ]);
  expect(tracked.status).toBe(201);
  expect(tracked.body).toEqual({ message: 'success', attributes_processed: 5 });
});

afterAll(async () => {
  await stack?.stop();
});

describe('cohort sync, end to end', () => {
  it('names a cohort, applies deltas and shows memberships in export and listing', async () => {
    // Act
    const named = await partner.nameCohort('funnel', 'Abandoned funnel');
    const changed = await partner.changeCohort('funnel', [
      {
        user_ids: ['ext-1', 'ghost'],
        device_ids: [],
        aliases: [{ alias_name: 'two@example.com', alias_label: 'email' }],
      },
      { device_ids: ['anon-device', 'device-of-identified'], aliases: [{ alias_name: 'lead-7', alias_label: 'crm' }] },
    ]);

    // Assess
    expect(named).toMatchObject({ status: 201, body: { message: 'success' } });
    expect(changed).toMatchObject({ status: 201, body: { message: 'success' } });
    const cohort = await waitForReports('funnel', 1);
    expect(cohort).toMatchObject({ name: 'Abandoned funnel', member_count: 4 });
    expect(cohort.sync_reports[0]).toMatchObject({
      received: 6,
      matched: 4,
      unmatched: 2,
      added: 4,
      removed: 0,
      already_in_state: 0,
    });
    expect(await cohortsOf('ext-1')).toEqual(['funnel']);
    expect(await cohortsOf('ext-2')).toEqual(['funnel']);
    // Rule 3: a device id of an identified user matches nobody.
    expect(await cohortsOf('ext-3')).toEqual([]);
    const anonymous = await workspace.exportIds({ device_id: 'anon-device' });
    expect(anonymous.body.users[0]?.cohorts).toEqual([
      { partner: 'heap', cohort_id: 'funnel', name: 'Abandoned funnel' },
    ]);
    const listing = await workspace.cohorts();
    expect(listing.body.cohorts).toEqual([
      expect.objectContaining({ partner: 'heap', cohort_id: 'funnel', name: 'Abandoned funnel', member_count: 4 }),
    ]);
  });

  it('removes members, and a removal of a non-member changes nothing', async () => {
    // Act
    await partner.changeCohort('funnel', [{ user_ids: ['ext-1', 'ext-3'], should_remove: true }]);

    // Assess
    const cohort = await waitForReports('funnel', 2);
    expect(cohort.member_count).toBe(3);
    expect(cohort.sync_reports[0]).toMatchObject({ received: 2, matched: 2, removed: 1, already_in_state: 1 });
    expect(await cohortsOf('ext-1')).toEqual([]);
  });

  it('accepts deltas for a cohort never named, listed under its id', async () => {
    await partner.changeCohort('unnamed-cohort', [{ user_ids: ['ext-1'] }]);
    const cohort = await waitForReports('unnamed-cohort', 1);
    expect(cohort).toMatchObject({ name: 'unnamed-cohort', member_count: 1 });
  });

  it('stops matching a device once its anonymous profile is identified', async () => {
    // Prepare
    await workspace.track([{ device_id: 'soon-identified' }]);
    const identified = await workspace.identify({
      devices_to_identify: [{ external_id: 'ext-new', device_id: 'soon-identified' }],
    });
    expect(identified).toMatchObject({ status: 201, body: { message: 'success', identified: 1 } });

    // Act
    await partner.changeCohort('identify-check', [{ device_ids: ['soon-identified'] }, { user_ids: ['ext-new'] }]);

    // Assess
    const cohort = await waitForReports('identify-check', 1);
    expect(cohort.sync_reports[0]).toMatchObject({ received: 2, matched: 1, unmatched: 1, added: 1 });
    expect(await cohortsOf('ext-new')).toEqual(['identify-check']);
  });

  it('merges an anonymous profile into an existing user: once in export, its device no longer matches', async () => {
    // Prepare
    await workspace.track([
      { device_id: 'merge-device', source: 'sdk' },
      { external_id: 'ext-merge', plan: 'free' },
    ]);

    // Act
    const merged = await workspace.identify({
      devices_to_identify: [{ external_id: 'ext-merge', device_id: 'merge-device' }],
    });

    // Assess
    expect(merged.body).toMatchObject({ merged: 1 });
    const exported = await workspace.exportIds({ external_ids: ['ext-merge'], device_id: 'merge-device' });
    const users = exported.body.users as ExportedUser[];
    expect(new Set(users.map((user) => user.braze_id)).size).toBe(1);
    expect(users[0]).toMatchObject({
      external_id: 'ext-merge',
      device_ids: ['merge-device'],
      custom_attributes: { plan: 'free', source: 'sdk' },
    });
  });

  it('takes a merged anonymous profile out of its cohorts, with the count', async () => {
    // Prepare: an anonymous member of a cohort, and the identified user it will merge into.
    await workspace.track([{ device_id: 'member-device' }, { external_id: 'ext-merge-target' }]);
    await partner.changeCohort('merged-away', [{ device_ids: ['member-device'] }]);
    expect((await waitForReports('merged-away', 1)).member_count).toBe(1);

    // Act
    const merged = await workspace.identify({
      devices_to_identify: [{ external_id: 'ext-merge-target', device_id: 'member-device' }],
    });

    // Assess
    expect(merged.body).toMatchObject({ merged: 1 });
    expect((await workspace.cohort('heap', 'merged-away')).body.cohort.member_count).toBe(0);
    expect(await cohortsOf('ext-merge-target')).toEqual([]);
  });

  it('carries any Unicode identifier through the queue (emoji included)', async () => {
    await workspace.track([{ external_id: 'émoji-💥-user' }]);
    await partner.changeCohort('unicode', [{ user_ids: ['émoji-💥-user'] }]);
    const cohort = await waitForReports('unicode', 1);
    expect(cohort.sync_reports[0]).toMatchObject({ received: 1, matched: 1, added: 1 });
    expect(await cohortsOf('émoji-💥-user')).toEqual(['unicode']);
  });

  it('answers an empty delta with valid keys with 201, and queues nothing', async () => {
    const response = await partner.changeCohort('credentials-check', []);
    expect(response).toMatchObject({ status: 201, body: { message: 'success' } });
    const detail = await workspace.cohort('heap', 'credentials-check');
    expect(detail.status).toBe(404);
  });
});

describe('partner endpoint rejections', () => {
  const url = () => `${stack.url}/partners/heap/cohorts/users`;
  const validBody = () => ({
    partner_api_key: stack.partnerApiKey,
    client_secret: stack.workspace.dataImportKey,
    cohort_id: 'c',
    cohort_changes: [],
  });

  it.each([
    ['a wrong partner key', { partner_api_key: 'wrong' }, PARTNER_MESSAGES.invalidPartnerKey],
    ['a missing partner key', { partner_api_key: undefined }, PARTNER_MESSAGES.invalidPartnerKey],
    ['a wrong client secret', { client_secret: 'wrong' }, PARTNER_MESSAGES.invalidClientSecret],
    [
      'bad keys and a bad body',
      { client_secret: 'wrong', cohort_id: 7, cohort_changes: 'x' },
      PARTNER_MESSAGES.invalidClientSecret,
    ],
  ])('answers 401 to %s', async (_case, override, message) => {
    const response = await request(url(), { body: { ...validBody(), ...override } });
    expect(response.status).toBe(401);
    expect(response.body).toEqual({ message, errors: [] });
  });

  it('answers 401 with the contract message when the partner is not enabled for the workspace', async () => {
    const response = await request(`${stack.url}/partners/segment/cohorts/users`, { body: validBody() });
    // segment is registered with the same local key but not enabled for the demo workspace.
    expect(response.status).toBe(401);
    expect(response.body.message).toBe(PARTNER_MESSAGES.invalidPartnerKey);
  });

  it('answers 400 to a body that is not JSON, and 413 to one over 1 MiB', async () => {
    const notJson = await request(url(), { rawBody: '{"cohort_id":' });
    expect(notJson.status).toBe(400);
    expect(notJson.body).toMatchObject({ message: 'Request body must be valid JSON' });
    const huge = await request(url(), { rawBody: JSON.stringify({ ...validBody(), padding: 'x'.repeat(1_100_000) }) });
    expect(huge.status).toBe(413);
    expect(huge.body).toMatchObject({ message: 'Request body too large' });
  });

  it('answers 400 with the contract message to an invalid body with valid keys', async () => {
    const response = await request(url(), { body: { ...validBody(), cohort_changes: [{ user_ids: [1] }] } });
    expect(response.status).toBe(400);
    expect(response.body).toEqual({
      message: PARTNER_MESSAGES.cohortChanges,
      errors: ['cohort_changes[0].user_ids[0]: must be a string'],
    });
  });

  it('answers 401 to the REST API without a valid key', async () => {
    const response = await request(`${stack.url}/cohorts`, { headers: { authorization: 'Bearer nope' } });
    expect(response).toMatchObject({ status: 401, body: { message: 'Invalid REST API key' } });
  });
});
