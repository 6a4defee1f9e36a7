/**
 * The ports queuing events for Currents is written against: the workspace's connectors
 * and the queue to the delivery function. lib/dynamodb and lib/sqs implement them.
 */
import * as z from 'zod';
import { CurrentsEvent } from './events.js';

/** One Currents event on its way to one connector. */
export const CurrentsMessage = z.object({
  v: z.literal(1),
  workspaceId: z.string().min(1),
  connectorId: z.string().min(1),
  /** Epoch ms when first queued: the sender's 24 h / 48 h windows count from here. */
  queuedAt: z.number().int(),
  event: CurrentsEvent,
});
export type CurrentsMessage = z.infer<typeof CurrentsMessage>;

export interface CurrentsQueue {
  /** All or nothing for the caller: a message the queue refused is a ServiceUnavailableError (the client retries). */
  send(messages: readonly CurrentsMessage[]): Promise<void>;
}

/** A connector as far as queuing events for it goes: which event types it takes, and whether it is paused. */
export interface ConnectorSubscription {
  connectorId: string;
  eventTypes: readonly string[];
  paused: boolean;
}

export interface ConnectorDirectory {
  list(workspaceId: string): Promise<readonly ConnectorSubscription[]>;
}

/** A connector and its delivery state, as stored (its token is never part of it). */
export interface Connector {
  workspaceId: string;
  connectorId: string;
  url: string;
  eventTypes: string[];
  paused: boolean;
  createdAt: string;
  delivered: number;
  retrying: number;
  dropped: number;
  lastSuccessAt?: string;
  lastError?: { at: string; status: number; reason: string };
}

/** An event a connector dropped, and why. */
export interface DeadLetter {
  droppedAt: string;
  reason: string;
  status: number;
  event: CurrentsEvent;
}

/**
 * The one client for calls to a customer's URL (webhooks, test sends, Currents):
 * lib/webhooks/safe-http.ts's SafeHttpClient implements it with the destination policy,
 * no redirects, and bounds on the answer and the time.
 */
export interface EgressClient {
  send(request: {
    url: string;
    method: string;
    headers: Record<string, string>;
    body?: string;
  }): Promise<
    | { kind: 'response'; status: number }
    | { kind: 'refused'; reason: string }
    | { kind: 'error'; reason: string; timeout: boolean }
  >;
}
