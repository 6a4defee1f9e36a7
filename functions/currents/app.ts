/**
 * Currents delivery (SQS → Lambda): each record is one event for one connector. The batch
 * is grouped by connector and event type and POSTed in batches of up to 100, and each
 * event's outcome follows the sender's policy (lib/currents/delivery.ts): delivered
 * records are deleted; a retry is scheduled by setting the record's visibility timeout
 * to the backoff and reporting it failed; a dropped event is counted, logged without
 * personal data and kept in the connector's dead-letter store.
 *
 * Not Powertools' BatchProcessor: it handles records one by one, and this function must
 * see the whole batch to group it into POSTs; it still answers `batchItemFailures`.
 */
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import type { SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import {
  deliverEvents,
  systemClock,
  AUTH_ERROR_WINDOW_MS,
  type DeliveryClock,
  type DeliveryOutcome,
  type PendingEvent,
  type PostEvents,
} from '../../lib/currents/delivery.js';
import type {
  Connector,
  DeadLetter,
  DeliveryTarget,
  DynamoConnectorStore,
} from '../../lib/dynamodb/connector-store.js';
import { CurrentsMessage } from '../../lib/sqs/currents-queue.js';
import { observedHandler, type Observability } from '../../lib/observability.js';

/** A paused connector holds its events, checking every 5 minutes, for as long as an auth failure would. */
const PAUSED_RETRY_SECONDS = 300;

export interface CurrentsDeliveryDependencies {
  connectors: Pick<DynamoConnectorStore, 'getForDelivery' | 'recordDeliveries' | 'putDeadLetters'>;
  /** Makes a failed record come back after `seconds` (SQS ChangeMessageVisibility). */
  retryLater(receiptHandle: string, seconds: number): Promise<void>;
  /** The POST to a connector, through the egress client (lib/currents/delivery.ts, `currentsPoster`). */
  poster: (connector: DeliveryTarget) => PostEvents;
  clock?: DeliveryClock;
  observability: Observability;
}

export const createCurrentsHandler = ({
  connectors,
  retryLater,
  poster,
  clock = systemClock,
  observability,
}: CurrentsDeliveryDependencies) => {
  const { logger, metrics } = observability;

  const deliverGroup = async (
    workspaceId: string,
    connectorId: string,
    records: { record: SQSRecord; message: CurrentsMessage }[],
    failures: string[],
  ) => {
    const connector = await connectors.getForDelivery(workspaceId, connectorId);
    if (!connector) {
      logger.warn('connector deleted: its queued events are discarded', {
        workspaceId,
        connectorId,
        events: records.length,
      });
      metrics.addMetric('currentsDiscarded', MetricUnit.Count, records.length);
      return;
    }
    const pending: PendingEvent[] = records.map(({ record, message }) => ({
      key: record.messageId,
      event: message.event,
      queuedAt: message.queuedAt,
      attempt: Number(record.attributes.ApproximateReceiveCount ?? '1'),
    }));
    const outcomes: Map<string, DeliveryOutcome> = connector.paused
      ? new Map(
          pending.map((item) => [
            item.key,
            clock.now() - item.queuedAt >= AUTH_ERROR_WINDOW_MS
              ? { kind: 'dropped', reason: 'connector paused for 48 hours', status: 0 }
              : { kind: 'retry', delaySeconds: PAUSED_RETRY_SECONDS, status: 0 },
          ]),
        )
      : await deliverEvents(pending, poster(connector), clock);

    const now = new Date(clock.now()).toISOString();
    const byKey = new Map(records.map((entry) => [entry.record.messageId, entry]));
    const counts = { delivered: 0, retrying: 0, dropped: 0 };
    const deadLetters: DeadLetter[] = [];
    let lastError: Connector['lastError'];
    for (const item of pending) {
      const outcome = outcomes.get(item.key)!;
      const wasRetrying = item.attempt > 1;
      if (outcome.kind === 'delivered') {
        counts.delivered += 1;
        if (wasRetrying) counts.retrying -= 1;
      } else if (outcome.kind === 'retry') {
        if (!wasRetrying) counts.retrying += 1;
        lastError = { at: now, status: outcome.status, reason: `retrying in ${outcome.delaySeconds} s` };
        failures.push(item.key);
        await retryLater(byKey.get(item.key)!.record.receiptHandle, outcome.delaySeconds).catch((error: unknown) => {
          logger.warn('could not schedule the retry; the event comes back after the queue visibility timeout', {
            error: String(error),
          });
        });
      } else {
        counts.dropped += 1;
        if (wasRetrying) counts.retrying -= 1;
        lastError = { at: now, status: outcome.status, reason: outcome.reason };
        deadLetters.push({ droppedAt: now, reason: outcome.reason, status: outcome.status, event: item.event });
      }
    }
    if (deadLetters.length > 0) {
      await connectors.putDeadLetters(workspaceId, connectorId, deadLetters);
      // Ids, types and reasons only: events carry personal data.
      logger.warn('Currents events dropped', {
        workspaceId,
        connectorId,
        dropped: deadLetters.map((letter) => ({
          id: letter.event.id,
          type: letter.event.event_type,
          reason: letter.reason,
          status: letter.status,
        })),
      });
    }
    await connectors.recordDeliveries(workspaceId, connectorId, {
      ...counts,
      ...(counts.delivered > 0 ? { lastSuccessAt: now } : {}),
      lastError,
    });
    metrics.addMetric('currentsDelivered', MetricUnit.Count, counts.delivered);
    metrics.addMetric('currentsDropped', MetricUnit.Count, counts.dropped);
    metrics.addMetric('currentsRetried', MetricUnit.Count, pending.length - counts.delivered - counts.dropped);
  };

  return observedHandler<SQSEvent, SQSBatchResponse>(observability).handler(async (event) => {
    const failures: string[] = [];
    const groups = new Map<string, { record: SQSRecord; message: CurrentsMessage }[]>();
    for (const record of event.Records) {
      const parsed = CurrentsMessage.safeParse(
        (() => {
          try {
            return JSON.parse(record.body) as unknown;
          } catch {
            return undefined;
          }
        })(),
      );
      if (!parsed.success) {
        // Not a Currents message: fail it, so that after maxReceiveCount it lands in the DLQ.
        logger.error('invalid Currents message', { messageId: record.messageId });
        failures.push(record.messageId);
        continue;
      }
      const key = `${parsed.data.workspaceId}\u0000${parsed.data.connectorId}`;
      groups.set(key, [...(groups.get(key) ?? []), { record, message: parsed.data }]);
    }
    for (const [key, records] of groups) {
      const [workspaceId, connectorId] = key.split('\u0000') as [string, string];
      try {
        await deliverGroup(workspaceId, connectorId, records, failures);
      } catch (error: unknown) {
        logger.error('Currents delivery failed; the records will be retried', {
          workspaceId,
          connectorId,
          error: String(error),
        });
        for (const { record } of records) if (!failures.includes(record.messageId)) failures.push(record.messageId);
      }
    }
    return { batchItemFailures: failures.map((itemIdentifier) => ({ itemIdentifier })) };
  });
};
