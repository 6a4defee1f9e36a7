/**
 * The Currents sender's policy (../shared/reference/partner-cohort-api.md):
 * - 2XX: delivered;
 * - 5XX, 429 and any other code: back off with jitter, give up after 24 h;
 * - 400: split the batch into single events; a single that fails with 400 again is dropped;
 * - 401/403/404: retry every 2–5 minutes, give up after 48 h;
 * - 413: split the batch (a single event that is still too large is dropped).
 * Batches hold at most 100 events of one type. Pure: time, randomness and the HTTP call
 * are ports, so tests control all three. The HTTP call goes through the one egress client
 * every call to a customer URL uses (lib/webhooks/safe-http.ts: destination policy, no
 * redirects, bounded answers and time); a destination it refuses is dropped at once with
 * the reason (a dead letter, replayable once the connector or the allow-list is fixed).
 */
import type { CurrentsEvent } from './events.js';
import type { EgressClient } from './ports.js';
import { backoffDelay } from '../retry.js';

export const MAX_EVENTS_PER_POST = 100;
export const SERVER_ERROR_WINDOW_MS = 24 * 3600 * 1000;
export const AUTH_ERROR_WINDOW_MS = 48 * 3600 * 1000;
const AUTH_RETRY_MIN_SECONDS = 120;
const AUTH_RETRY_MAX_SECONDS = 300;
const BACKOFF_BASE_SECONDS = 10;
/** 15 minutes: well under SQS's 12-hour visibility limit, so retries keep coming within the window. */
const BACKOFF_CAP_SECONDS = 900;

export interface PendingEvent {
  /** Who to tell about this event's outcome (e.g. the SQS message id). */
  key: string;
  event: CurrentsEvent;
  /** When the event was first queued (ms): the retry windows count from here. */
  queuedAt: number;
  /** Delivery attempts so far, this one included (SQS ApproximateReceiveCount). */
  attempt: number;
}

export type DeliveryOutcome =
  | { kind: 'delivered' }
  | { kind: 'retry'; delaySeconds: number; status: number }
  | { kind: 'dropped'; reason: string; status: number };

/**
 * Sends one POST of `{"events": [...]}` and answers its HTTP status (a 3XX is not followed);
 * a network failure or timeout answers 0; a destination the egress policy refuses, the reason
 * in full, as the egress client words it ("destination refused: 10.0.0.1: private address"),
 * which is what the dead letter shows.
 */
export type PostEvents = (events: CurrentsEvent[]) => Promise<number | { refused: string }>;

export interface DeliveryClock {
  now(): number;
  random(): number;
}

export const systemClock: DeliveryClock = { now: () => Date.now(), random: Math.random };

type StatusClass = 'delivered' | 'split-singles' | 'split-halves' | 'auth' | 'server';

export const classifyStatus = (status: number): StatusClass => {
  if (status >= 200 && status < 300) return 'delivered';
  if (status === 400) return 'split-singles';
  if (status === 413) return 'split-halves';
  if (status === 401 || status === 403 || status === 404) return 'auth';
  // 5XX, 429, network failures (0) and any other code are treated as 5XX.
  return 'server';
};

/** Full jitter: uniform in [1 s, min(cap, base × 2^(attempt−1))]. */
export const backoffSeconds = (attempt: number, random: () => number): number =>
  Math.max(1, Math.round(backoffDelay(attempt - 1, { base: BACKOFF_BASE_SECONDS, cap: BACKOFF_CAP_SECONDS }, random)));

export const deliverEvents = async (
  pending: readonly PendingEvent[],
  post: PostEvents,
  clock: DeliveryClock = systemClock,
): Promise<Map<string, DeliveryOutcome>> => {
  const outcomes = new Map<string, DeliveryOutcome>();
  const settle = (events: readonly PendingEvent[], outcome: (item: PendingEvent) => DeliveryOutcome) => {
    for (const item of events) outcomes.set(item.key, outcome(item));
  };

  const send = async (batch: readonly PendingEvent[]): Promise<void> => {
    const answer = await post(batch.map((item) => item.event)).catch(() => 0);
    if (typeof answer === 'object')
      return settle(batch, () => ({ kind: 'dropped', reason: answer.refused, status: 0 }));
    const status = answer;
    switch (classifyStatus(status)) {
      case 'delivered':
        return settle(batch, () => ({ kind: 'delivered' }));
      case 'split-singles':
        if (batch.length === 1)
          return settle(batch, () => ({ kind: 'dropped', reason: 'rejected by the receiver (400)', status }));
        for (const single of batch) await send([single]);
        return;
      case 'split-halves': {
        if (batch.length === 1)
          return settle(batch, () => ({ kind: 'dropped', reason: 'too large for the receiver (413), alone', status }));
        const half = Math.ceil(batch.length / 2);
        await send(batch.slice(0, half));
        await send(batch.slice(half));
        return;
      }
      case 'auth':
        return settle(batch, (item) =>
          clock.now() - item.queuedAt >= AUTH_ERROR_WINDOW_MS
            ? { kind: 'dropped', reason: `receiver refused authentication (${status}) for 48 hours`, status }
            : {
                kind: 'retry',
                status,
                delaySeconds: Math.round(
                  AUTH_RETRY_MIN_SECONDS + clock.random() * (AUTH_RETRY_MAX_SECONDS - AUTH_RETRY_MIN_SECONDS),
                ),
              },
        );
      case 'server':
        return settle(batch, (item) =>
          clock.now() - item.queuedAt >= SERVER_ERROR_WINDOW_MS
            ? { kind: 'dropped', reason: `receiver failing (${status || 'network error'}) for 24 hours`, status }
            : { kind: 'retry', status, delaySeconds: backoffSeconds(item.attempt, clock.random) },
        );
    }
  };

  // One POST per event type and at most 100 events.
  const byType = new Map<string, PendingEvent[]>();
  for (const item of pending) byType.set(item.event.event_type, [...(byType.get(item.event.event_type) ?? []), item]);
  for (const events of byType.values()) {
    for (let start = 0; start < events.length; start += MAX_EVENTS_PER_POST)
      await send(events.slice(start, start + MAX_EVENTS_PER_POST));
  }
  return outcomes;
};

/** The HTTP side: `POST {"events":[...]}` with the Currents headers, through the egress client. */
export const currentsPoster =
  (client: EgressClient) =>
  (connector: { url: string; token?: string }): PostEvents =>
  async (events) => {
    const result = await client.send({
      url: connector.url,
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'Braze-Currents-Version': '1',
        ...(connector.token ? { authorization: `Bearer ${connector.token}` } : {}),
      },
      body: JSON.stringify({ events }),
    });
    // A name that does not resolve now may resolve later (DNS failing, a record being set up): a network failure,
    // retried for 24 hours like one. Every other refusal is the policy's, and final.
    if (result.kind === 'refused') return /does not resolve/.test(result.reason) ? 0 : { refused: result.reason };
    return result.kind === 'response' ? result.status : 0;
  };
