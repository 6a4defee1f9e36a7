/**
 * The webhook sender (SQS → Lambda): one record per message (campaign or Canvas step,
 * user, entry). The batch is sent as one (lib/campaigns/sender.ts: its claims in one
 * DynamoDB transaction, its outcomes in another), then Powertools batch reports each
 * record from its result: a message to retry (5XX, 429, timeout, connection error) gets
 * its visibility timeout set to the backoff and is reported failed, so it comes back then;
 * so is a message whose destination is paused (lib/webhooks/breaker.ts), unsent, until its
 * probe, and each record's receive count goes to the sender, which fails such a message on
 * the deferral limit rather than let it reach the DLQ.
 */
import middy from '@middy/core';
import { BatchProcessor, EventType, processPartialResponse } from '@aws-lambda-powertools/batch';
import { parser } from '@aws-lambda-powertools/batch/parser';
import type { ParsedRecord } from '@aws-lambda-powertools/batch';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { SendMessage } from '../../lib/campaigns/messages.js';
import type { createSender, SendResult } from '../../lib/campaigns/sender.js';
import type { BreakerChange } from '../../lib/webhooks/breaker.js';
import { traceHandler, type Observability } from '../../lib/observability.js';

export interface SenderDependencies {
  sender: ReturnType<typeof createSender>;
  /** Makes a record come back after `seconds` (SQS ChangeMessageVisibility). */
  retryLater(receiptHandle: string, seconds: number): Promise<void>;
  observability: Observability;
}

export type SenderHandler = (event: SQSEvent, context: Context) => Promise<SQSBatchResponse>;

/** A message handed back for a later attempt: reported failed on purpose, not an error of the function. */
class RetryLaterError extends Error {
  constructor(reason: string) {
    super(reason);
    this.name = 'RetryLaterError';
  }
}

/**
 * Logs and counts a destination paused or resumed (the sender's `onDestinationChange`): the
 * origin and times only, never a path, a query or an answer, which may carry personal data.
 */
export const reportDestinationChange =
  ({ logger, metrics }: Observability) =>
  (change: BreakerChange): void => {
    if (change.kind === 'opened') {
      metrics.addMetric('webhookDestinationPaused', MetricUnit.Count, 1);
      logger.warn('webhook destination paused after repeated failures', {
        destination: change.destination,
        openSince: new Date(change.openSinceMs).toISOString(),
        cooldownSeconds: change.cooldownMs / 1000,
        probeFailed: change.probeFailed,
      });
    } else {
      metrics.addMetric('webhookDestinationResumed', MetricUnit.Count, 1);
      // A warning as its pause was: whoever saw the pause in the log sees the destination come back.
      logger.warn('webhook destination resumed: its probe was delivered', {
        destination: change.destination,
        pausedSeconds: Math.round((change.atMs - change.openSinceMs) / 1000),
        deferred: change.deferred,
      });
    }
  };

/** The batch's messages that parse (the others are failed by the batch processor's parser, as before). */
const parsedMessages = (records: readonly SQSRecord[]) =>
  records.flatMap((record) => {
    try {
      const parsed = SendMessage.safeParse(JSON.parse(record.body));
      if (!parsed.success) return [];
      const receives = Number(record.attributes.ApproximateReceiveCount);
      return [
        {
          messageId: record.messageId,
          message: parsed.data,
          receiveCount: Number.isInteger(receives) && receives > 0 ? receives : undefined,
        },
      ];
    } catch {
      return [];
    }
  });

export const createSenderHandler = ({ sender, retryLater, observability }: SenderDependencies): SenderHandler => {
  const { logger, metrics } = observability;
  const newProcessor = () =>
    new BatchProcessor(EventType.SQS, { parser, innerSchema: SendMessage, transformer: 'json', logger });

  const recordHandler =
    (results: ReadonlyMap<string, SendResult>) => async (record: ParsedRecord<SQSRecord, SendMessage>) => {
      const result = results.get(record.messageId);
      if (!result) throw new Error('not handled by the batch');
      if (result.kind === 'error') throw result.error;
      if (result.kind === 'retry') {
        // A deferral is no attempt: counted apart, so that retries still count requests that failed.
        metrics.addMetric(result.deferred ? 'webhookDeferred' : 'webhookRetries', MetricUnit.Count, 1);
        await retryLater(record.receiptHandle, result.delaySeconds);
        throw new RetryLaterError(
          `${result.deferred ? 'deferred' : 'retry'} in ${result.delaySeconds} s: ${result.reason}`,
        );
      }
      if (result.repacedTo) metrics.addMetric('webhookRepaced', MetricUnit.Count, 1);
      const outcome = result.outcome;
      if (!outcome) return;
      metrics.addMetric(
        outcome.kind === 'skipped' ? `webhookSkipped_${outcome.reason}` : `webhook_${outcome.kind}`,
        MetricUnit.Count,
        1,
      );
      // Ids and reasons only: templates and answers may carry personal data.
      if (outcome.kind === 'failed')
        logger.warn('webhook failed', {
          campaignId: record.body.campaignId,
          step: record.body.step,
          status: outcome.status,
          reason: outcome.reason,
        });
    };

  return middy<SQSEvent, SQSBatchResponse>()
    .use(traceHandler(observability))
    .use(injectLambdaContext(logger, { resetKeys: true }))
    .use(logMetrics(metrics))
    .handler(async (event, context) => {
      // The whole batch at once: its claims and its outcomes are a few DynamoDB transactions,
      // not two calls per message. Powertools then reports each record from its result.
      const messages = parsedMessages(event.Records);
      const settled = await sender.sendBatch(
        messages.map(({ message }) => message),
        {
          remainingMs: () => context.getRemainingTimeInMillis(),
          receiveCounts: messages.map(({ receiveCount }) => receiveCount),
        },
      );
      const results = new Map(messages.map(({ messageId }, index) => [messageId, settled[index]!]));
      return processPartialResponse(event, recordHandler(results), newProcessor(), {
        context,
        throwOnFullBatchFailure: false,
      });
    });
};
