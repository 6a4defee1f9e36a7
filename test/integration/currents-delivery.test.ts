/**
 * The Currents sender's policy against a real HTTP receiver on loopback that answers, per
 * test, 200 / 500 / 429 / 400 on one event / 413 / 401 / a redirect. Time is a port: no test
 * waits. Posts go through the egress client every customer URL goes through (allowed to
 * reach this loopback receiver, as an operator's allow-list would).
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createServer, type Server } from 'node:http';
import { CurrentsEvent, customEvent, purchaseEvent, type CurrentsEvent as Event } from '../../lib/currents/events.js';
import {
  AUTH_ERROR_WINDOW_MS,
  currentsPoster,
  deliverEvents,
  SERVER_ERROR_WINDOW_MS,
  type PendingEvent,
} from '../../lib/currents/delivery.js';
import { SafeHttpClient } from '../../lib/webhooks/safe-http.js';

const egress = new SafeHttpClient({ allowHttp: true, allowList: ['127.0.0.1'] });
const httpPoster = currentsPoster(egress);

interface Arrival {
  headers: Record<string, string | string[] | undefined>;
  events: Event[];
}

let server: Server;
let url: string;
let arrivals: Arrival[] = [];
let answer: (events: Event[]) => number | { status: number; location: string } = () => 200;

beforeAll(async () => {
  server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const { events } = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { events: Event[] };
      arrivals.push({ headers: request.headers, events });
      const answered = answer(events);
      if (typeof answered === 'number') response.writeHead(answered).end();
      else response.writeHead(answered.status, { location: answered.location }).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  url = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}/currents`;
});
afterAll(async () => {
  egress.close();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});
beforeEach(() => {
  arrivals = [];
  answer = () => 200;
});

const T0 = Date.UTC(2026, 0, 1);
const clockAt = (now: number, random = 0.5) => ({ now: () => now, random: () => random });
const user = { brazeId: '639a35d192b0df004d06514c', externalId: 'user-1', timezone: 'Europe/Paris' };
const pending = (
  count: number,
  make: (index: number) => Event = (index) =>
    customEvent(user, { name: `e${index}`, time: new Date(T0).toISOString() }),
  attempt = 1,
): PendingEvent[] =>
  Array.from({ length: count }, (_, index) => ({ key: `m${index}`, event: make(index), queuedAt: T0, attempt }));
const sizes = () => arrivals.map((arrival) => arrival.events.length);

describe('Currents delivery', () => {
  it('sends batches of at most 100 events of one type, with the Currents headers', async () => {
    // Prepare
    const custom = pending(250);
    const purchases = pending(30, (index) =>
      purchaseEvent(user, {
        product_id: `p${index}`,
        currency: 'USD',
        price: 3.14,
        quantity: 2,
        time: new Date(T0).toISOString(),
      }),
    ).map((item) => ({ ...item, key: `p-${item.key}` }));

    // Act
    const outcomes = await deliverEvents(
      [...custom, ...purchases],
      httpPoster({ url, token: 'secret-token' }),
      clockAt(T0),
    );

    // Assess
    expect(sizes()).toEqual([100, 100, 50, 30]);
    expect(arrivals.every((arrival) => new Set(arrival.events.map((event) => event.event_type)).size === 1)).toBe(true);
    expect(arrivals[0]!.headers).toMatchObject({
      authorization: 'Bearer secret-token',
      'braze-currents-version': '1',
      'content-type': 'application/json',
    });
    expect([...outcomes.values()].every((outcome) => outcome.kind === 'delivered')).toBe(true);
    expect(outcomes.size).toBe(280);
  });

  it('sends payloads with the sample structure of currents-examples', async () => {
    await deliverEvents(
      pending(1, () =>
        purchaseEvent(user, {
          product_id: 'sku',
          currency: 'EUR',
          price: 9.5,
          time: '2026-01-01T00:00:10Z',
          properties: { color: 'red' },
        }),
      ),
      httpPoster({ url }),
      clockAt(T0),
    );
    const [event] = arrivals[0]!.events;
    expect(CurrentsEvent.safeParse(event).success).toBe(true);
    expect(event).toMatchObject({
      event_type: 'users.behaviors.Purchase',
      time: Date.UTC(2026, 0, 1, 0, 0, 10) / 1000,
      user: { user_id: user.brazeId, external_user_id: 'user-1', timezone: 'Europe/Paris' },
      properties: {
        product_id: 'sku',
        currency: 'EUR',
        price: 9.5,
        quantity: 1,
        purchase_properties: { color: 'red' },
      },
    });
    expect(arrivals[0]!.headers.authorization).toBeUndefined();
  });

  it.each([500, 503, 429, 302, 0])('backs off with jitter on %i and gives up after 24 hours', async (status) => {
    answer = () => status;
    // A status of 0 stands for a receiver that is not there at all.
    const post = status === 0 ? httpPoster({ url: 'http://127.0.0.1:9/nowhere' }) : httpPoster({ url });
    const first = await deliverEvents(pending(3), post, clockAt(T0, 1));
    expect([...first.values()]).toEqual(Array(3).fill({ kind: 'retry', status, delaySeconds: 10 }));
    const later = await deliverEvents(pending(1, undefined, 6), post, clockAt(T0 + 3600_000, 1));
    expect(later.get('m0')).toEqual({ kind: 'retry', status, delaySeconds: 320 });
    const late = await deliverEvents(pending(1, undefined, 40), post, clockAt(T0 + SERVER_ERROR_WINDOW_MS));
    expect(late.get('m0')).toMatchObject({ kind: 'dropped', status });
  });

  it('splits a batch into single events on 400 and drops only the one that fails again', async () => {
    // Prepare: the receiver rejects any batch that holds event e2.
    answer = (events) =>
      events.some((event) => event.event_type === 'users.behaviors.CustomEvent' && event.properties.name === 'e2')
        ? 400
        : 200;

    // Act
    const outcomes = await deliverEvents(pending(5), httpPoster({ url }), clockAt(T0));

    // Assess
    expect(sizes()).toEqual([5, 1, 1, 1, 1, 1]);
    expect(outcomes.get('m2')).toEqual({ kind: 'dropped', reason: 'rejected by the receiver (400)', status: 400 });
    expect([...outcomes.entries()].filter(([, outcome]) => outcome.kind === 'delivered').map(([key]) => key)).toEqual([
      'm0',
      'm1',
      'm3',
      'm4',
    ]);
  });

  it('splits the batch on 413 until it fits', async () => {
    answer = (events) => (events.length > 30 ? 413 : 200);
    const outcomes = await deliverEvents(pending(100), httpPoster({ url }), clockAt(T0));
    expect(sizes()).toEqual([100, 50, 25, 25, 50, 25, 25]);
    expect([...outcomes.values()].every((outcome) => outcome.kind === 'delivered')).toBe(true);
  });

  it.each([401, 403, 404])('retries every 2–5 minutes on %i and gives up after 48 hours', async (status) => {
    answer = () => status;
    const soon = await deliverEvents(pending(2), httpPoster({ url }), clockAt(T0 + SERVER_ERROR_WINDOW_MS, 0));
    expect(soon.get('m0')).toEqual({ kind: 'retry', status, delaySeconds: 120 });
    const later = await deliverEvents(pending(1), httpPoster({ url }), clockAt(T0, 1));
    expect(later.get('m0')).toEqual({ kind: 'retry', status, delaySeconds: 300 });
    const late = await deliverEvents(pending(1), httpPoster({ url }), clockAt(T0 + AUTH_ERROR_WINDOW_MS));
    expect(late.get('m0')).toMatchObject({ kind: 'dropped', status });
  });

  it('never follows a redirect: a 307 to another address is an answer like a 5XX, and nothing reaches where it points', async () => {
    // Prepare: the receiver redirects to a path of its own, which would record a second arrival if followed
    answer = () => (arrivals.length === 1 ? { status: 307, location: `${url}/elsewhere` } : 200);

    // Act
    const outcomes = await deliverEvents(pending(2), httpPoster({ url }), clockAt(T0, 1));

    // Assess: one POST, answered 307, retried later; the body went nowhere else
    expect(arrivals).toHaveLength(1);
    expect([...outcomes.values()]).toEqual(Array(2).fill({ kind: 'retry', status: 307, delaySeconds: 10 }));
  });

  it('drops at once, with the reason, events for a destination the egress policy refuses (no connection made)', async () => {
    // Prepare: the same loopback receiver, through a client without the allow-list (as on AWS)
    const strict = new SafeHttpClient({ allowHttp: true });

    // Act
    const outcomes = await deliverEvents(pending(2), currentsPoster(strict)({ url }), clockAt(T0));
    strict.close();

    // Assess: the reason as the egress client words it, its prefix once (it is what a dead letter shows)
    expect(arrivals).toHaveLength(0);
    expect([...outcomes.values()]).toEqual(
      Array(2).fill({ kind: 'dropped', status: 0, reason: 'destination refused: 127.0.0.1: loopback address' }),
    );
  });
});
