/**
 * The webhook sender (SQS → Lambda): one record per message (campaign or Canvas step,
 * user, entry). Powertools batch runs the records in parallel and reports the failed ones;
 * a message to retry (5XX, 429, timeout, connection error) gets its visibility timeout set
 * to the backoff and is reported failed, so it comes back then (lib/campaigns/sender.ts).
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
import type { createSender } from '../../lib/campaigns/sender.js';
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

export const createSenderHandler = ({ sender, retryLater, observability }: SenderDependencies): SenderHandler => {
  const { logger, metrics } = observability;
  const newProcessor = () =>
    new BatchProcessor(EventType.SQS, { parser, innerSchema: SendMessage, transformer: 'json', logger });

  const recordHandler = async (record: ParsedRecord<SQSRecord, SendMessage>) => {
    const result = await sender.send(record.body);
    if (result.kind === 'retry') {
      metrics.addMetric('webhookRetries', MetricUnit.Count, 1);
      await retryLater(record.receiptHandle, result.delaySeconds);
      throw new RetryLaterError(`retry in ${result.delaySeconds} s: ${result.reason}`);
    }
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
    .handler((event, context) =>
      processPartialResponse(event, recordHandler, newProcessor(), { context, throwOnFullBatchFailure: false }),
    );
};
