/**
 * Cohort sync (SQS → Lambda): each record is one accepted partner request. Powertools
 * batch reports failed records (`ReportBatchItemFailures`), so one bad record is
 * retried, and after maxReceiveCount moved to the DLQ, without holding back the others.
 */
import { BatchProcessor, EventType, processPartialResponse } from '@aws-lambda-powertools/batch';
import { parser } from '@aws-lambda-powertools/batch/parser';
import type { ParsedRecord } from '@aws-lambda-powertools/batch';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import type { Context, SQSEvent, SQSRecord, SQSBatchResponse } from 'aws-lambda';
import { setMaxListeners } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { CohortMessage } from '../../lib/cohorts/messages.js';
import { syncCohortMessage, type SyncPorts } from '../../lib/cohorts/sync.js';
import { backoffDelay } from '../../lib/retry.js';
import { observedHandler, type Observability } from '../../lib/observability.js';
import type { CohortQueue } from '../../lib/cohorts/ingest.js';
import { isLoadError, OutOfTimeError } from '../../lib/errors.js';

export interface SyncDependencies extends SyncPorts {
  observability: Observability;
  /**
   * Where a record that failed because of load (throttling, transaction conflicts, the
   * deadline) is put back as a fresh message. Without it such a record fails like any
   * other, and after maxReceiveCount receives lands in the DLQ.
   */
  requeue?: CohortQueue;
  /** First requeue delay in seconds (doubling, jittered, at most SQS's 900); tests use 0. */
  requeueDelayBaseSeconds?: number;
}

/**
 * A request put back this many times fails like any other record from then on (so
 * after 5 more receives it reaches the DLQ): load that lasts hours is an incident.
 */
export const MAX_REQUEUES = 20;
/** SQS: DelaySeconds is at most 900. Grows with each requeue, jittered, so retries spread out. */
const requeueDelaySeconds = (base: number, requeues: number): number =>
  Math.round(backoffDelay(requeues, { base, cap: 900, jitter: 'equal' }));

export type SyncHandler = (event: SQSEvent, context: Context) => Promise<SQSBatchResponse>;

const REPORT_METRICS = [
  'received',
  'matched',
  'unmatched',
  'added',
  'removed',
  'alreadyInState',
  'superseded',
] as const;

/**
 * Records run in parallel; one that is still running this close to the function's timeout
 * is reported failed (or requeued), so that the batch answers in time with the finished
 * records kept, instead of the timeout returning all of them. Its writes so far are safe to
 * repeat. Its work is then cancelled, not left running: on AWS a returned invocation's
 * promises resume in the next one, so abandoned work would go on beside its own retry,
 * doubling the load exactly when the table is slowest (under a loaded local stack the
 * pile-up grew to hundreds of queued calls and the cohort soak never drained).
 */
export const DEADLINE_MARGIN_MS = 3_000;

const beforeDeadline = async <T>(
  work: (signal: AbortSignal) => Promise<T>,
  context: Context | undefined,
): Promise<T> => {
  const cancel = new AbortController();
  // One listener per SDK call in flight (a 1,000-identifier lookup has 10 at once): not a leak.
  setMaxListeners(0, cancel.signal);
  const timer = new AbortController();
  try {
    if (!context) return await work(cancel.signal);
    return await Promise.race([
      work(cancel.signal),
      sleep(Math.max(0, context.getRemainingTimeInMillis() - DEADLINE_MARGIN_MS), undefined, {
        signal: timer.signal,
      }).then(() => {
        throw new OutOfTimeError('out of time before the function timeout; the record will be retried');
      }),
    ]);
  } finally {
    timer.abort();
    // Finished, failed or out of time, nothing of the record's work goes on: when one of its
    // transactions fails for good, the others stop too instead of writing beside its retry.
    cancel.abort(new OutOfTimeError('the record is done with; its remaining work is cancelled'));
  }
};

export const createSyncHandler = ({
  observability,
  requeue,
  requeueDelayBaseSeconds = 10,
  ...ports
}: SyncDependencies): SyncHandler => {
  const { logger, metrics } = observability;
  // A processor per invocation: Powertools keeps a batch's failures on the processor, so
  // one shared by overlapping invocations (the local stack runs several in one process)
  // would let one clear the other's failures and lose its failed records.
  const newProcessor = () =>
    new BatchProcessor(EventType.SQS, { parser, innerSchema: CohortMessage, transformer: 'json', logger });

  const recordHandler = async (
    record: ParsedRecord<SQSRecord, CohortMessage>,
    lambdaContext?: Context,
  ): Promise<void> => {
    const message = record.body;
    const context = {
      messageId: record.messageId,
      receiveCount: record.attributes.ApproximateReceiveCount,
      workspaceId: message.workspaceId,
      partner: message.partner,
      cohortId: message.cohortId,
      requestId: message.stamp.requestId,
    };
    let result: Awaited<ReturnType<typeof syncCohortMessage>>;
    try {
      result = await beforeDeadline((signal) => syncCohortMessage(message, ports, { signal }), lambdaContext);
    } catch (error: unknown) {
      const reason = error instanceof Error ? error.message : String(error);
      const requeues = message.requeues ?? 0;
      // Load is not a defect of the record: put it back as a fresh message (its receive
      // count starts again), so load alone never moves a record to the DLQ. Everything
      // it wrote so far is keyed by its stamp, so the copy finishes the same work.
      if (requeue && isLoadError(error) && requeues < MAX_REQUEUES) {
        const delaySeconds = requeueDelaySeconds(requeueDelayBaseSeconds, requeues);
        await requeue.send({ ...message, requeues: requeues + 1 }, { delaySeconds });
        metrics.addMetric('recordsRequeued', MetricUnit.Count, 1);
        logger.warn('cohort sync under load; the request was queued again', {
          ...context,
          requeues: requeues + 1,
          delaySeconds,
          reason,
        });
        return;
      }
      // The record goes back to the queue (and after maxReceiveCount to the DLQ): say why.
      logger.error('cohort sync failed; the record will be retried', { ...context, error: reason });
      throw error;
    }
    metrics.addMetric('recordsProcessed', MetricUnit.Count, 1);
    if (result.type === 'cohort.named') {
      logger.info('cohort named', context);
      return;
    }
    // Metrics once per request: a redelivered request re-applies nothing and is not counted twice.
    if (result.firstTime) {
      for (const name of REPORT_METRICS) metrics.addMetric(name, MetricUnit.Count, result.report[name]);
    }
    logger.info('cohort changes synced', { ...context, report: result.report, redelivery: !result.firstTime });
  };

  return observedHandler<SQSEvent, SQSBatchResponse>(observability).handler((event, context) =>
    // A batch where every record failed is reported like any other (all ids in
    // batchItemFailures) rather than thrown: same redelivery, no invocation error.
    processPartialResponse(event, recordHandler, newProcessor(), { context, throwOnFullBatchFailure: false }),
  );
};
