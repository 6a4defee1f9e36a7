/**
 * How a Currents connector and its dropped events are shown, as the API answers them
 * (`GET /currents…`); the admin CLI prints the same, so an operator and the console see one shape.
 */
import type { ConnectorView, DeadLetterView } from '../contract/views.js';
import type { Connector, DeadLetter } from './ports.js';

/** Delivery state of a connector (never its token). */
export const connectorView = (connector: Connector): ConnectorView => ({
  connector_id: connector.connectorId,
  url: connector.url,
  events: connector.eventTypes,
  paused: connector.paused,
  delivered: connector.delivered,
  retrying: connector.retrying,
  dropped: connector.dropped,
  last_success_at: connector.lastSuccessAt ?? null,
  last_error: connector.lastError ?? null,
  created_at: connector.createdAt,
});

/** No personal data: the event's id and type, and why it was dropped. */
export const deadLetterView = (letter: DeadLetter): DeadLetterView => ({
  dropped_at: letter.droppedAt,
  reason: letter.reason,
  status: letter.status,
  event_id: letter.event.id,
  event_type: letter.event.event_type,
});
