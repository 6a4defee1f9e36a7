/**
 * Currents end to end on the local stack: /users/track events and purchases → SQS →
 * delivery function → the receiver standing in for Heap, with retries, drops into the
 * dead-letter store, replay, and per-connector delivery state. Time is controlled.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import type { LocalStack } from '../../local/stack.js';
import { CurrentsEvent } from '../../lib/currents/events.js';
import { SqsCurrentsQueue } from '../../lib/sqs/currents-queue.js';
import { queueDepth } from '../../local/settle.js';
import { eventually, startTestStack } from '../support/stack.js';
import { request, workspaceClient } from '../support/client.js';

let stack: LocalStack;
let now = Date.UTC(2026, 0, 1);
const connectorState = async () =>
  (
    await request<{ connector: Record<string, unknown> }>(`${stack.url}/currents/${stack.currents.demoConnectorId}`, {
      headers: { authorization: `Bearer ${stack.workspace.restApiKey}` },
    })
  ).body.connector;
const received = () =>
  stack.currents.receiver.batches.filter((batch) => batch.status === 200).flatMap((batch) => batch.events);

beforeAll(async () => {
  // random() = 0: a 5XX retry comes back after 1 s.
  stack = await startTestStack({ currentsClock: { now: () => now, random: () => 0 } });
  await workspaceClient(stack).track([
    { external_id: 'buyer', time_zone: 'Europe/Paris' },
    { device_id: 'anon-device' },
  ]);
});
afterAll(() => stack?.stop());
beforeEach(() => {
  stack.currents.receiver.batches.length = 0;
  stack.currents.receiver.answer = () => 200;
});

describe('Currents to Heap', () => {
  it('delivers tracked events and purchases in the Currents format, and reports unknown users per item', async () => {
    // Act
    const tracked = await request(`${stack.url}/users/track`, {
      headers: { authorization: `Bearer ${stack.workspace.restApiKey}` },
      body: {
        events: [
          { external_id: 'buyer', name: 'added_to_cart', time: '2026-01-01T00:00:00Z', properties: { sku: 'A1' } },
          { external_id: 'ghost', name: 'added_to_cart', time: '2026-01-01T00:00:00Z' },
        ],
        purchases: [
          {
            external_id: 'buyer',
            product_id: 'A1',
            currency: 'USD',
            price: 9.99,
            quantity: 2,
            time: '2026-01-01T00:01:00Z',
          },
        ],
      },
    });

    // Assess
    expect(tracked.status).toBe(201);
    expect(tracked.body).toMatchObject({
      events_processed: 1,
      purchases_processed: 1,
      errors: [{ input_array: 'events', index: 1 }],
    });
    const events = await eventually(async () => (received().length >= 2 ? received() : undefined));
    expect(events.every((event) => CurrentsEvent.safeParse(event).success)).toBe(true);
    const custom = events.find((event) => event.event_type === 'users.behaviors.CustomEvent')!;
    expect(custom).toMatchObject({
      time: Date.UTC(2026, 0, 1) / 1000,
      user: { external_user_id: 'buyer', timezone: 'Europe/Paris' },
      properties: { name: 'added_to_cart', custom_properties: { sku: 'A1' } },
    });
    const batch = stack.currents.receiver.batches[0]!;
    const connector = await stack.currents.connectors.getForDelivery(
      stack.workspace.workspaceId,
      stack.currents.demoConnectorId,
    );
    expect(batch.headers).toMatchObject({ authorization: `Bearer ${connector!.token}`, 'braze-currents-version': '1' });
    // The receiver has the events before the function records that it delivered them.
    await stack.settled();
    expect(await connectorState()).toMatchObject({
      delivered: 2,
      retrying: 0,
      dropped: 0,
      last_success_at: expect.any(String),
    });
  });

  it('retries a 5XX with backoff until the receiver recovers', async () => {
    // Prepare: the receiver fails twice.
    let failures = 2;
    stack.currents.receiver.answer = () => (failures-- > 0 ? 503 : 200);
    const before = (await connectorState()).delivered as number;

    // Act
    await request(`${stack.url}/users/track`, {
      headers: { authorization: `Bearer ${stack.workspace.restApiKey}` },
      body: { events: [{ external_id: 'buyer', name: 'retry_me', time: '2026-01-01T00:00:00Z' }] },
    });

    // Assess
    await eventually(
      async () =>
        received().some(
          (event) => event.event_type === 'users.behaviors.CustomEvent' && event.properties.name === 'retry_me',
        )
          ? true
          : undefined,
      30_000,
    );
    expect(stack.currents.receiver.batches.map((arrival) => arrival.status)).toEqual([503, 503, 200]);
    const state = await eventually(async () => {
      const current = await connectorState();
      return current.delivered === before + 1 ? current : undefined;
    });
    expect(state).toMatchObject({ retrying: 0, last_error: { status: 503 } });
  });

  it('drops an event the receiver rejects alone with 400 into the dead-letter store, and replays it', async () => {
    // Prepare: the receiver rejects "bad" events.
    stack.currents.receiver.answer = (events) =>
      events.some((event) => event.event_type === 'users.behaviors.CustomEvent' && event.properties.name === 'bad')
        ? 400
        : 200;
    const before = await connectorState();

    // Act
    await request(`${stack.url}/users/track`, {
      headers: { authorization: `Bearer ${stack.workspace.restApiKey}` },
      body: {
        events: [
          { external_id: 'buyer', name: 'good', time: '2026-01-01T00:00:00Z' },
          { external_id: 'buyer', name: 'bad', time: '2026-01-01T00:00:00Z' },
        ],
      },
    });

    // Assess
    const letters = await eventually(async () => {
      const found = await stack.currents.connectors.listDeadLetters(
        stack.workspace.workspaceId,
        stack.currents.demoConnectorId,
      );
      return found.length > 0 ? found : undefined;
    });
    expect(letters).toHaveLength(1);
    expect(letters[0]).toMatchObject({
      reason: 'rejected by the receiver (400)',
      status: 400,
      event: { properties: { name: 'bad' } },
    });
    await eventually(async () =>
      (await connectorState()).dropped === (before.dropped as number) + 1 ? true : undefined,
    );
    expect(
      received().map((event) => (event.event_type === 'users.behaviors.CustomEvent' ? event.properties.name : '')),
    ).toContain('good');

    // Act: the receiver is fixed; an operator replays the dead letters (what `admin currents replay` does).
    stack.currents.receiver.answer = () => 200;
    const queue = new SqsCurrentsQueue(stack.clients.sqs, stack.currents.queues.queueUrl);
    for (const letter of letters) {
      await queue.send([
        {
          v: 1,
          workspaceId: stack.workspace.workspaceId,
          connectorId: stack.currents.demoConnectorId,
          queuedAt: now,
          event: letter.event,
        },
      ]);
      await stack.currents.connectors.deleteDeadLetter(
        stack.workspace.workspaceId,
        stack.currents.demoConnectorId,
        letter.key,
      );
    }

    // Assess
    await eventually(async () =>
      received().some((event) => event.event_type === 'users.behaviors.CustomEvent' && event.properties.name === 'bad')
        ? true
        : undefined,
    );
    expect(
      await stack.currents.connectors.listDeadLetters(stack.workspace.workspaceId, stack.currents.demoConnectorId),
    ).toEqual([]);
  });

  it('gives up on a failing receiver after 24 hours, keeping the event', async () => {
    stack.currents.receiver.answer = () => 500;
    const queuedAt = now;
    now += 25 * 3600 * 1000;
    const queue = new SqsCurrentsQueue(stack.clients.sqs, stack.currents.queues.queueUrl);
    const event = CurrentsEvent.parse({
      event_type: 'users.behaviors.CustomEvent',
      id: '2b0ef7a6-0d1a-4e9b-9d55-1c6f1c2a9e01',
      time: 1767225600,
      user: { user_id: 'x' },
      properties: { name: 'too_late', custom_properties: {} },
    });
    await queue.send([
      { v: 1, workspaceId: stack.workspace.workspaceId, connectorId: stack.currents.demoConnectorId, queuedAt, event },
    ]);
    const letters = await eventually(async () => {
      const found = await stack.currents.connectors.listDeadLetters(
        stack.workspace.workspaceId,
        stack.currents.demoConnectorId,
      );
      return found.some((letter) => letter.event.id === event.id) ? found : undefined;
    });
    expect(letters.find((letter) => letter.event.id === event.id)).toMatchObject({
      status: 500,
      reason: 'receiver failing (500) for 24 hours',
    });
  });

  const connectorItem = async (connectorId: string) =>
    (
      await stack.clients.documents.send(
        new GetCommand({
          TableName: stack.tables.cohorts,
          Key: { pk: `${stack.workspace.workspaceId}#CURRENTS`, sk: connectorId },
        }),
      )
    ).Item!;

  it('keeps the token sealed in the table and out of what the store lists', async () => {
    // Prepare
    const { token } = (await stack.currents.connectors.getForDelivery(
      stack.workspace.workspaceId,
      stack.currents.demoConnectorId,
    ))!;

    // Act
    const item = await connectorItem(stack.currents.demoConnectorId);
    const listed = await stack.currents.connectors.list(stack.workspace.workspaceId);

    // Assess: read straight from DynamoDB, no attribute holds the token.
    expect(token).toMatch(/^[0-9a-f]{64}$/);
    expect(item.token).toBeUndefined();
    expect(item.tokenSealed).toMatch(/^v1\.[\w-]+\.[\w-]+$/);
    expect(JSON.stringify(item)).not.toContain(token!);
    expect(JSON.stringify(listed)).not.toContain(token!);
    expect(JSON.stringify(listed)).not.toContain(item.tokenSealed as string);
  });

  it('seals a token stored in plain before sealing at its next delivery, sending it as before', async () => {
    // Prepare: a connector as the store wrote them before sealing.
    const connectorId = `plain-${Date.now()}`;
    const token = 'plain-token-from-before';
    await stack.clients.documents.send(
      new PutCommand({
        TableName: stack.tables.cohorts,
        Item: {
          pk: `${stack.workspace.workspaceId}#CURRENTS`,
          sk: connectorId,
          workspaceId: stack.workspace.workspaceId,
          url: stack.currents.receiver.url,
          token,
          eventTypes: ['users.behaviors.CustomEvent'],
          paused: false,
          createdAt: new Date(now).toISOString(),
          delivered: 0,
          retrying: 0,
          dropped: 0,
        },
      }),
    );
    try {
      // Act
      await request(`${stack.url}/users/track`, {
        headers: { authorization: `Bearer ${stack.workspace.restApiKey}` },
        body: { events: [{ external_id: 'buyer', name: 'to_plain', time: '2026-01-01T00:00:00Z' }] },
      });

      // Assess
      await eventually(async () =>
        stack.currents.receiver.batches.some((batch) => batch.headers.authorization === `Bearer ${token}`)
          ? true
          : undefined,
      );
      const item = await connectorItem(connectorId);
      expect(item.token).toBeUndefined();
      expect(JSON.stringify(item)).not.toContain(token);
      expect((await stack.currents.connectors.getForDelivery(stack.workspace.workspaceId, connectorId))?.token).toBe(
        token,
      );
    } finally {
      await stack.currents.connectors.delete(stack.workspace.workspaceId, connectorId);
    }
  });

  // Last: the event it holds stays on the queue (retrying) for the rest of the file.
  it('holds the events tracked while a connector is paused on its queue, undelivered and not lost', async () => {
    // Prepare
    const auth = { authorization: `Bearer ${stack.workspace.restApiKey}` };
    const connector = `${stack.url}/currents/${stack.currents.demoConnectorId}`;
    // Nothing of the earlier tests still on its way (the events function reads every item the table's stream holds).
    await stack.settled();
    expect((await request(`${connector}/pause`, { method: 'POST', headers: auth })).status).toBe(200);

    const batchesBefore = stack.currentsPoller!.batches;

    // Act
    const tracked = await request(`${stack.url}/users/track`, {
      headers: auth,
      body: { events: [{ external_id: 'buyer', name: 'while_paused', time: '2026-01-01T00:00:00Z' }] },
    });
    // The delivery function has seen it (a batch ran since) and put it back for later (5 minutes
    // while paused): it waits on the queue, invisible, so nothing can deliver it during this test.
    await eventually(async () => (stack.currentsPoller!.batches > batchesBefore ? true : undefined));
    await stack.currentsPoller!.idle();
    const depth = await queueDepth(stack.clients.sqs, stack.currents.queues.queueUrl);
    await request(`${connector}/resume`, { method: 'POST', headers: auth });

    // Assess
    expect(tracked.status).toBe(201);
    expect(depth).toBe(1);
    expect(received().some((event) => (event.properties as { name?: string }).name === 'while_paused')).toBe(false);
  });
});
