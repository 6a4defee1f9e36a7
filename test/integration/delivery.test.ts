/**
 * SQS delivers at least once and out of order; a record that keeps failing goes to the
 * DLQ. These tests drive the real queue and DynamoDB Local and hold the store to the
 * serial oracle.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GetQueueAttributesCommand, ReceiveMessageCommand, SendMessageCommand } from '@aws-sdk/client-sqs';
import type { LocalStack } from '../../local/stack.js';
import { SqsCohortQueue } from '../../lib/sqs/cohort-queue.js';
import { chunk } from '../../lib/dynamodb/batch.js';
import { eventually, startTestStack } from '../support/stack.js';
import { partnerClient, request, workspaceClient } from '../support/client.js';
import { context, drainMessages, shuffle, sqsEvent } from '../support/events.js';
import { serialOracle } from '../support/oracle.js';
import { readMemberships } from '../support/store.js';
import { changeOrderKey, type CohortNamedMessage } from '../../lib/cohorts/messages.js';

const USERS = Array.from({ length: 40 }, (_, index) => `user-${index}`);

/** Every membership register of a cohort: brazeId → member. */

describe('duplicated and shuffled delivery', () => {
  let stack: LocalStack;
  const brazeIds = new Map<string, string>();

  beforeAll(async () => {
    // The sync is driven by hand here, so that the test decides what is delivered when.
    stack = await startTestStack({ poll: false });
    for (const externalId of USERS) {
      const { brazeId } = await stack.stores.users.findOrCreate(
        stack.workspace.workspaceId,
        { type: 'external_id', externalId },
        new Date(),
      );
      brazeIds.set(externalId, brazeId);
    }
  });
  afterAll(() => stack?.stop());

  it.each([1, 2, 3])('ends in the serial oracle state with exact counts (shuffle seed %i)', async (seed) => {
    // Prepare: 25 requests of random adds and removes over 40 users, accepted in order.
    const cohortId = `shuffled-${seed}`;
    const partner = partnerClient(stack);
    const random = shuffle(
      Array.from({ length: 25 * 6 }, (_, index) => index),
      seed * 7919,
    );
    for (let requestIndex = 0; requestIndex < 25; requestIndex += 1) {
      const picks = random.slice(requestIndex * 6, requestIndex * 6 + 6);
      const changes = picks.map((pick, index) => ({
        user_ids: [USERS[pick % USERS.length]!, USERS[(pick * 3 + index) % USERS.length]!],
        should_remove: pick % 3 === 0 ? true : undefined,
      }));
      expect((await partner.changeCohort(cohortId, changes)).status).toBe(201);
    }
    const bodies = await drainMessages(stack.clients.sqs, stack.queues.queueUrl);
    expect(bodies).toHaveLength(25);

    // Act: every message twice, all shuffled, in batches of 10.
    const deliveries = shuffle([...bodies, ...bodies], seed);
    for (const batch of chunk(deliveries, 10)) {
      const response = await stack.handlers.sync(sqsEvent(batch), context());
      expect(response.batchItemFailures).toEqual([]);
    }

    // Assess
    const oracle = serialOracle(bodies, (externalId) => brazeIds.get(externalId));
    const stored = await readMemberships(stack, cohortId);
    expect(stored).toEqual(oracle);
    const cohort = await stack.stores.memberships.getCohort({
      workspaceId: stack.workspace.workspaceId,
      partner: 'heap',
      cohortId,
    });
    expect(cohort?.memberCount).toBe([...oracle.values()].filter(Boolean).length);
  });

  it('does not let an older add undo a newer removal that arrived first', async () => {
    // Prepare
    const partner = partnerClient(stack);
    await partner.changeCohort('late-add', [{ user_ids: ['user-1'] }]);
    await partner.changeCohort('late-add', [{ user_ids: ['user-1'], should_remove: true }]);
    const [add, remove] = await drainMessages(stack.clients.sqs, stack.queues.queueUrl);

    // Act: the removal first, then the add, then the removal again.
    await stack.handlers.sync(sqsEvent([remove!]), context());
    await stack.handlers.sync(sqsEvent([add!]), context());
    await stack.handlers.sync(sqsEvent([remove!]), context());

    // Assess
    expect((await readMemberships(stack, 'late-add')).get(brazeIds.get('user-1')!)).toBe(false);
    const cohort = await stack.stores.memberships.getCohort({
      workspaceId: stack.workspace.workspaceId,
      partner: 'heap',
      cohortId: 'late-add',
    });
    expect(cohort?.memberCount).toBe(0);
  });

  it('keeps the first created_at and the latest name, whatever order a create and its renames are applied in', async () => {
    const orders = [
      [0, 1, 2],
      [0, 2, 1],
      [1, 0, 2],
      [1, 2, 0],
      [2, 0, 1],
      [2, 1, 0],
    ];
    for (const [index, order] of orders.entries()) {
      // Prepare: a create and two renames, each with the partner's own timestamp (as Segment sends them).
      const cohortId = `renamed-${index}`;
      const partner = partnerClient(stack);
      for (const [name, createdAt] of [
        ['First name', '2021-01-21T19:20:30+05:00'],
        ['Second name', '2026-02-01T10:00:00Z'],
        ['Third name', '2026-03-01T10:00:00Z'],
      ] as const) {
        expect((await partner.nameCohort(cohortId, name, createdAt)).status).toBe(201);
      }
      // In acceptance order (two requests in one millisecond are ordered by request id).
      const bodies = (await drainMessages(stack.clients.sqs, stack.queues.queueUrl))
        .map((body) => ({ body, message: JSON.parse(body) as CohortNamedMessage }))
        .sort((a, b) => changeOrderKey(a.message.stamp, 0).localeCompare(changeOrderKey(b.message.stamp, 0)));
      expect(bodies).toHaveLength(3);
      const [first, , last] = bodies.map(({ message }) => message);

      // Act: applied in this order, the first one applied twice.
      for (const position of [order[0]!, ...order]) {
        await stack.handlers.sync(sqsEvent([bodies[position]!.body]), context());
      }

      // Assess: as the API shows it.
      const { body } = await workspaceClient(stack).cohort('heap', cohortId);
      expect(body.cohort, `order ${order.join(',')}`).toMatchObject({
        name: last!.name,
        created_at: first!.createdAt,
        renamed_at: last!.stamp.acceptedAt,
      });
    }
  });

  it('shows no renamed_at while a cohort has its first name, and the first created_at after a rename', async () => {
    // Prepare
    const partner = partnerClient(stack);
    await partner.nameCohort('named-once', 'Abandoned funnel', '2021-01-21T19:20:30+05:00');
    const [created] = await drainMessages(stack.clients.sqs, stack.queues.queueUrl);
    await stack.handlers.sync(sqsEvent([created!]), context());
    const before = await workspaceClient(stack).cohort('heap', 'named-once');

    // Act: a rename, with the partner's time of the rename as its created_at.
    await partner.nameCohort('named-once', 'Abandoned cart', '2026-02-01T10:00:00Z');
    const [renamed] = await drainMessages(stack.clients.sqs, stack.queues.queueUrl);
    await stack.handlers.sync(sqsEvent([renamed!]), context());

    // Assess
    expect(before.body.cohort).toMatchObject({
      name: 'Abandoned funnel',
      created_at: '2021-01-21T19:20:30+05:00',
      renamed_at: null,
    });
    const after = await workspaceClient(stack).cohorts();
    expect(after.body.cohorts.find((cohort) => cohort.cohort_id === 'named-once')).toMatchObject({
      name: 'Abandoned cart',
      created_at: '2021-01-21T19:20:30+05:00',
      renamed_at: (JSON.parse(renamed!) as CohortNamedMessage).stamp.acceptedAt,
    });
  });

  it('reports a redelivered request exactly as the first delivery did', async () => {
    await partnerClient(stack).changeCohort('report-once', [{ user_ids: ['user-2', 'user-3', 'nobody'] }]);
    const [body] = await drainMessages(stack.clients.sqs, stack.queues.queueUrl);
    await stack.handlers.sync(sqsEvent([body!]), context());
    await stack.handlers.sync(sqsEvent([body!]), context());
    const reports = await stack.stores.memberships.recentSyncReports({
      workspaceId: stack.workspace.workspaceId,
      partner: 'heap',
      cohortId: 'report-once',
    });
    expect(reports).toHaveLength(1);
    expect(reports[0]).toMatchObject({ received: 3, matched: 2, unmatched: 1, added: 2, alreadyInState: 0 });
  });
});

describe('failures', () => {
  let stack: LocalStack;
  beforeAll(async () => {
    stack = await startTestStack();
  });
  afterAll(() => stack?.stop());

  it('moves a poison record to the DLQ after maxReceiveCount, without holding back the good ones', async () => {
    // Prepare
    await workspaceClient(stack).track([{ external_id: 'good-user' }]);

    // Act
    await stack.clients.sqs.send(
      new SendMessageCommand({ QueueUrl: stack.queues.queueUrl, MessageBody: '{"not":"a cohort message"}' }),
    );
    await partnerClient(stack).changeCohort('alongside-poison', [{ user_ids: ['good-user'] }]);

    // Assess
    const dead = await eventually(
      async () => {
        const response = await stack.clients.sqs.send(
          new ReceiveMessageCommand({
            QueueUrl: stack.queues.deadLetterQueueUrl,
            MessageSystemAttributeNames: ['All'],
            WaitTimeSeconds: 0,
          }),
        );
        return response.Messages?.[0];
      },
      30_000,
      'the poison record in the DLQ',
    );
    expect(dead.Body).toBe('{"not":"a cohort message"}');
    expect(Number(dead.Attributes?.ApproximateReceiveCount)).toBeGreaterThanOrEqual(stack.queues.maxReceiveCount);
    const cohort = await stack.stores.memberships.getCohort({
      workspaceId: stack.workspace.workspaceId,
      partner: 'heap',
      cohortId: 'alongside-poison',
    });
    expect(cohort?.memberCount).toBe(1);
  });

  it('answers 503 and accepts nothing when the queue refuses the message', async () => {
    // Prepare: an ingest whose queue does not exist on the SQS server.
    const refusing = await startTestStack({
      poll: false,
      wrapQueue: () => new SqsCohortQueue(stack.clients.sqs, `${stack.queues.queueUrl}-missing`),
    });
    try {
      // Act
      const response = await partnerClient(refusing).changeCohort('refused', [{ user_ids: ['x'] }]);

      // Assess
      expect(response.status).toBe(503);
      expect(response.headers.get('retry-after')).toBe('1');
      expect(response.body.message).toMatch(/nothing was accepted/);
      const attributes = await refusing.clients.sqs.send(
        new GetQueueAttributesCommand({
          QueueUrl: refusing.queues.queueUrl,
          AttributeNames: ['ApproximateNumberOfMessages'],
        }),
      );
      expect(attributes.Attributes?.ApproximateNumberOfMessages).toBe('0');
    } finally {
      await refusing.stop();
    }
  });
});

describe('workspace isolation', () => {
  let stack: LocalStack;
  beforeAll(async () => {
    stack = await startTestStack();
  });
  afterAll(() => stack?.stop());

  it("never lets workspace A's keys read or change workspace B", async () => {
    // Prepare: B has a user with the same external id as A's.
    const b = await stack.stores.workspaces.createWorkspace({ name: 'b', partners: ['heap'] });
    const workspaceA = workspaceClient(stack);
    const workspaceB = workspaceClient(stack, b);
    await workspaceA.track([{ external_id: 'shared-id' }]);
    await workspaceB.track([{ external_id: 'shared-id' }, { external_id: 'only-in-b' }]);

    // Act: A's data import key syncs a cohort naming B's users.
    await partnerClient(stack).changeCohort('a-cohort', [{ user_ids: ['shared-id', 'only-in-b'] }]);
    const report = await eventually(async () => {
      const detail = await workspaceA.cohort('heap', 'a-cohort');
      return detail.body.cohort?.sync_reports[0];
    });

    // Assess
    expect(report).toMatchObject({ matched: 1, unmatched: 1, added: 1 });
    expect((await workspaceB.cohorts()).body.cohorts).toEqual([]);
    expect((await workspaceB.cohort('heap', 'a-cohort')).status).toBe(404);
    const bUser = await workspaceB.exportIds({ external_ids: ['shared-id'] });
    expect(bUser.body.users[0]?.cohorts).toEqual([]);
    const aLooksForB = await workspaceA.exportIds({ external_ids: ['only-in-b'] });
    expect(aLooksForB.body).toMatchObject({ users: [], invalid_user_ids: ['only-in-b'] });
    // B's data import key is no partner key, and A's REST key is no data import key.
    const crossed = await request(`${stack.url}/partners/heap/cohorts/users`, {
      body: {
        partner_api_key: stack.partnerApiKey,
        client_secret: stack.workspace.restApiKey,
        cohort_id: 'x',
        cohort_changes: [],
      },
    });
    expect(crossed.status).toBe(401);
  });
});
