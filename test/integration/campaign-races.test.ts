/**
 * A campaign's switches obey their last word (issue 16): launch, stop and archive raced
 * against each other and against a run's progress, over HTTP and through the service on the
 * local stack's real campaigns table. A stop is never lost and never a 500; the loser of two
 * that cannot both apply gets a 409; a run landing between a stop's read and write does not
 * turn the stop into a 409.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ProvisionedThroughputExceededException } from '@aws-sdk/client-dynamodb';
import { UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { createCampaignService } from '../../lib/campaigns/service.js';
import type { CampaignStore } from '../../lib/campaigns/ports.js';
import { DynamoSegmentStore } from '../../lib/dynamodb/segment-store.js';
import type { LocalStack } from '../../local/stack.js';
import { startTestStack } from '../support/stack.js';
import { partnerClient, restCall } from '../support/client.js';

let stack: LocalStack;
let segmentId: string;
const api = (path: string, init: { method?: string; body?: unknown } = {}) => restCall(stack, path, init);
const draft = async (
  delivery: object = { type: 'scheduled', recurring: { frequency: 'daily', time: '09:00', timezone: 'UTC' } },
) => {
  const created = await api('/campaigns', {
    body: {
      name: 'races',
      segment_ids: [segmentId],
      message: { url: `${stack.campaigns.receiver.url}/races`, body: '{}' },
      delivery,
    },
  });
  expect(created.status).toBe(201);
  return created.body.campaign.campaign_id as string;
};

beforeAll(async () => {
  stack = await startTestStack({ campaigns: { cacheTtlMs: 0, tickEveryMs: 0 } });
  await partnerClient(stack).nameCohort('races', 'Races');
  await stack.settled();
  const created = await api('/segments', {
    body: { name: 'races', filter: { cohort: { partner: 'heap', cohort_id: 'races', includes: true } } },
  });
  segmentId = created.body.segment.segment_id as string;
});
afterAll(() => stack?.stop());

describe('campaign switches raced', () => {
  it('launches once when launched twice at once: one 200, one 409, never a 500', async () => {
    // Prepare
    const id = await draft();

    // Act
    const answers = await Promise.all([
      api(`/campaigns/${id}/launch`, { body: {} }),
      api(`/campaigns/${id}/launch`, { body: {} }),
    ]);

    // Assess
    expect(answers.map((answer) => answer.status).sort()).toEqual([200, 409]);
    expect((await api(`/campaigns/${id}`)).body.campaign.status).toBe('active');
  });

  it('stops once when stopped twice at once, and a stop racing an archive ends archived', async () => {
    // Prepare
    const [twice, archived] = [await draft(), await draft()];
    for (const id of [twice, archived]) expect((await api(`/campaigns/${id}/launch`, { body: {} })).status).toBe(200);

    // Act
    const stops = await Promise.all([
      api(`/campaigns/${twice}/stop`, { body: {} }),
      api(`/campaigns/${twice}/stop`, { body: {} }),
    ]);
    const mixed = await Promise.all([
      api(`/campaigns/${archived}/stop`, { body: {} }),
      api(`/campaigns/${archived}/archive`, { body: {} }),
    ]);

    // Assess
    expect(stops.map((answer) => answer.status).sort()).toEqual([200, 409]);
    expect((await api(`/campaigns/${twice}`)).body.campaign).toMatchObject({
      status: 'stopped',
      delivery: { next_run_at: null },
    });
    // The archive applies whether it came first (the stop then finds it archived: 409) or second.
    expect(mixed[1]!.status).toBe(200);
    expect([200, 409]).toContain(mixed[0]!.status);
    expect((await api(`/campaigns/${archived}`)).body.campaign.status).toBe('archived');
  });

  it("stops a campaign whose run lands between the stop's read and its write (200, not 409)", async () => {
    // Prepare: a launched recurring campaign, and the service over a store in which a run's
    // progress (a new revision, as completeRun writes) lands just before the stop's write.
    const id = await draft();
    expect((await api(`/campaigns/${id}/launch`, { body: {} })).status).toBe(200);
    const store = stack.campaigns.store;
    let interposed = 0;
    const racing = new Proxy(store, {
      get(target, property, receiver) {
        if (property === 'replace')
          return async (...args: Parameters<CampaignStore['replace']>) => {
            if (interposed === 0) {
              interposed += 1;
              await stack.clients.documents.send(
                new UpdateCommand({
                  TableName: stack.campaigns.table,
                  Key: { pk: `${stack.workspace.workspaceId}#CAMPAIGNS`, sk: id },
                  UpdateExpression: 'SET lastRunAt = :now, revision = revision + :one',
                  ConditionExpression: 'attribute_exists(pk)',
                  ExpressionAttributeValues: { ':now': new Date().toISOString(), ':one': 1 },
                }),
              );
            }
            return target.replace(...args);
          };
        return Reflect.get(target, property, receiver);
      },
    });
    const service = createCampaignService({
      campaigns: racing,
      segments: new DynamoSegmentStore(stack.clients.documents, stack.tables.cohorts),
      users: stack.stores.users,
      webhooks: stack.campaigns.webhooks,
      clock: () => new Date(),
      allowHttp: true,
    });

    // Act
    const stopped = await service.stop(stack.workspace.workspaceId, 'campaign', id);

    // Assess
    expect(interposed).toBe(1);
    expect(stopped.status).toBe('stopped');
    const read = (await api(`/campaigns/${id}`)).body.campaign;
    expect(read).toMatchObject({ status: 'stopped', delivery: { next_run_at: null } });
  });
});

describe('a launch under throttling', () => {
  it('is whole or nothing: the campaign stays a draft with no run when its run cannot be written, then launches', async () => {
    // Prepare: every write of a due run is throttled (past the SDK's retries) until lifted.
    const id = await draft();
    let throttle = true;
    let throttled = 0;
    stack.clients.dynamodb.middlewareStack.add(
      (next) => async (args) => {
        const input = (args as { input: { TransactItems?: unknown[] } }).input;
        if (throttle && input.TransactItems && JSON.stringify(input.TransactItems).includes('"RUNS#DUE"')) {
          throttled += 1;
          throw new ProvisionedThroughputExceededException({
            message: 'injected: throughput exceeded',
            $metadata: { httpStatusCode: 400 },
          });
        }
        return next(args);
      },
      { step: 'initialize', name: 'throttleDueWrites' },
    );

    // Act
    const refused = await api(`/campaigns/${id}/launch`, { body: {} });
    const meanwhile = (await api(`/campaigns/${id}`)).body.campaign;
    throttle = false;
    const launched = await api(`/campaigns/${id}/launch`, { body: {} });

    // Assess
    expect(throttled).toBeGreaterThan(0);
    expect(refused.status).toBe(503);
    expect(refused.headers.get('retry-after')).toBe('2');
    expect(refused.body.message).toMatch(/busy/);
    expect(meanwhile).toMatchObject({ status: 'draft', delivery: { next_run_at: null } });
    expect(launched.status).toBe(200);
    expect(launched.body.campaign.delivery.next_run_at).toEqual(expect.any(String));
    stack.clients.dynamodb.middlewareStack.remove('throttleDueWrites');
  });
});

describe('send-rate slots raced', () => {
  it('never gives two concurrent releases the same slot: every slot one interval or more from the next', async () => {
    // Prepare: 24 releases at once (as 16 run ranges and timer drains would make), each of 1–40
    // messages due within the next two minutes; a printed seed replays the dues.
    const seed = Number(process.env.PACER_SEED ?? Date.now() % 1_000_000);
    console.log(`send-rate slots raced: PACER_SEED=${seed}`);
    let state = seed;
    const random = () => {
      state = (state * 1_103_515_245 + 12_345) % 2 ** 31;
      return state / 2 ** 31;
    };
    const start = Date.now();
    const releases = Array.from({ length: 24 }, () =>
      Array.from({ length: 1 + Math.floor(random() * 40) }, () => start + Math.floor(random() * 120_000)),
    );
    const campaignId = `pacer-${seed}`;

    // Act
    const reserved = await Promise.all(
      releases.map((dues) => stack.campaigns.store.reserveSlots(stack.workspace.workspaceId, campaignId, dues, 600)),
    );

    // Assess: the serial rule's invariant over all of them: no slot before its due, every two
    // slots 100 ms or more apart (600 a minute), and the pacer's next free slot after the last.
    const all = reserved.flatMap((slots, release) =>
      slots.map((slot, index) => {
        expect(slot).toBeGreaterThanOrEqual(releases[release]![index]!);
        return slot;
      }),
    );
    all.sort((a, b) => a - b);
    expect(all).toHaveLength(releases.flat().length);
    for (let index = 1; index < all.length; index += 1)
      expect(all[index]! - all[index - 1]!, `seed ${seed}`).toBeGreaterThanOrEqual(100 - 0.01);
    expect(await stack.campaigns.store.pacerNext(stack.workspace.workspaceId, campaignId)).toBeGreaterThanOrEqual(
      all.at(-1)! + 100 - 0.01,
    );
  });
});
