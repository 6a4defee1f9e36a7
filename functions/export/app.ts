/**
 * Segment worker (SQS → Lambda): each message says "continue export X" or "count segment
 * S for size job J". It works until close to its timeout, then queues the continuation;
 * if it dies, SQS redelivers the message and the job record says where to pick up.
 */
import { BatchProcessor, EventType, processPartialResponse, type ParsedRecord } from '@aws-lambda-powertools/batch';
import { parser } from '@aws-lambda-powertools/batch/parser';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { runExportChunk, type ExportPorts } from '../../lib/segments/export.js';
import { runSizeJobChunk, type SizePolicy } from '../../lib/segments/size.js';
import type { SegmentPorts } from '../../lib/segments/service.js';
import { SegmentJobMessage } from '../../lib/segments/messages.js';
import type { ExportQueue } from '../../lib/segments/ports.js';
import { observedHandler, type Observability } from '../../lib/observability.js';

/** Stop starting new steps when less than this is left before the function's timeout. */
const SAFETY_MARGIN_MS = 15_000;
const USERS_PER_INVOCATION = 200_000;

export interface ExportDependencies extends ExportPorts {
  /** Where size jobs read their segment and store the size. */
  segments: SegmentPorts['segments'];
  /** The sync write window size jobs wait out (default: lib/segments/size.ts). */
  sizePolicy?: SizePolicy;
  queue: ExportQueue;
  observability: Observability;
}

export const createExportHandler = ({ queue, observability, sizePolicy, ...ports }: ExportDependencies) => {
  const { logger, metrics } = observability;
  // A processor per invocation (see functions/sync/app.ts): overlapping invocations must not share failures.
  const newProcessor = () =>
    new BatchProcessor(EventType.SQS, { parser, innerSchema: SegmentJobMessage, transformer: 'json', logger });

  return observedHandler<SQSEvent, SQSBatchResponse>(observability).handler((event, context: Context) =>
    processPartialResponse(
      event,
      async (record: ParsedRecord<SQSRecord, SegmentJobMessage>) => {
        if ('type' in record.body) {
          const message = record.body;
          const outcome = await runSizeJobChunk(message, ports, {
            outOfTime: () => context.getRemainingTimeInMillis() < SAFETY_MARGIN_MS,
            policy: sizePolicy,
          });
          logger.info('segment size job', {
            workspaceId: message.workspaceId,
            segmentId: message.segmentId,
            jobId: message.jobId,
            ...outcome,
          });
          if (outcome.status === 'running') await queue.send(message);
          if (outcome.status === 'deferred') await queue.send(message, { delaySeconds: outcome.delaySeconds });
          return;
        }
        const { workspaceId, exportId } = record.body;
        const { job, advanced } = await runExportChunk(workspaceId, exportId, ports, {
          maxUsers: USERS_PER_INVOCATION,
          outOfTime: () => context.getRemainingTimeInMillis() < SAFETY_MARGIN_MS,
        });
        if (!job || !advanced) return;
        metrics.addMetric('exportUsersWritten', MetricUnit.Count, job.usersWritten);
        logger.info('export part written', {
          workspaceId,
          exportId,
          parts: job.parts.length,
          usersWritten: job.usersWritten,
          status: job.status,
        });
        if (job.status === 'running') await queue.send({ v: 1, workspaceId, exportId });
      },
      newProcessor(),
      { context, throwOnFullBatchFailure: false },
    ),
  );
};
