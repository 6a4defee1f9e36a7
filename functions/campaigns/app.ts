/**
 * The campaigns function (SQS → Lambda), on two queues: membership events (the topic's
 * subscription, raw delivery) enter and exit users of action-based campaigns and Canvases;
 * campaign work is the minute tick, audience chunks of scheduled runs and timer drains
 * (lib/campaigns/journeys.ts). Powertools batch reports failed records, which come back
 * after the visibility timeout and, after maxReceiveCount, land in the queue's DLQ.
 */
import middy from '@middy/core';
import { BatchProcessor, EventType, processPartialResponse } from '@aws-lambda-powertools/batch';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import type { MembershipEvent } from '../../lib/cohorts/events.js';
import type { EventEntries } from '../../lib/campaigns/event-entries.js';
import type { Journeys } from '../../lib/campaigns/journeys.js';
import { WorkMessage } from '../../lib/campaigns/messages.js';
import { traceHandler, type Observability } from '../../lib/observability.js';

/** Stop starting new steps when less than this is left before the function's timeout. */
const SAFETY_MARGIN_MS = 15_000;

export interface CampaignsDependencies {
  journeys: Journeys;
  /** Tracked events' entries and exits (absent: their work messages fail, and are retried). */
  eventEntries?: EventEntries;
  observability: Observability;
}

export type CampaignsHandler = (event: SQSEvent, context: Context) => Promise<SQSBatchResponse>;

const isMembershipEvent = (body: unknown): body is MembershipEvent =>
  typeof body === 'object' &&
  body !== null &&
  typeof (body as MembershipEvent).event_id === 'string' &&
  ((body as MembershipEvent).type === 'cohort.membership.added' ||
    (body as MembershipEvent).type === 'cohort.membership.removed') &&
  typeof (body as MembershipEvent).user?.braze_id === 'string';

export const createCampaignsHandler = ({
  journeys,
  eventEntries,
  observability,
}: CampaignsDependencies): CampaignsHandler => {
  const { logger, metrics } = observability;
  // A processor per invocation (see functions/sync/app.ts): overlapping invocations must not share failures.
  const newProcessor = () => new BatchProcessor(EventType.SQS, { logger });

  const recordHandler = async (record: SQSRecord, context: Context) => {
    const body = JSON.parse(record.body) as unknown;
    if (isMembershipEvent(body)) {
      const { entered, exited } = await journeys.onMembershipEvent(body);
      if (entered > 0) metrics.addMetric('journeyEntries', MetricUnit.Count, entered);
      if (exited > 0) metrics.addMetric('journeyExits', MetricUnit.Count, exited);
      return;
    }
    const message = WorkMessage.parse(body);
    const outOfTime = () => context.getRemainingTimeInMillis() < SAFETY_MARGIN_MS;
    if (message.type === 'campaign.tick') {
      logger.info('campaign tick', await journeys.tick());
    } else if (message.type === 'campaign.event') {
      if (!eventEntries) throw new Error('campaign.event work message, but no event entries are wired');
      const { entered, exited } = await eventEntries.onTrackedEvent(message);
      if (entered > 0) metrics.addMetric('eventEntries', MetricUnit.Count, entered);
      if (exited > 0) metrics.addMetric('eventExits', MetricUnit.Count, exited);
    } else if (message.type === 'campaign.timers') {
      const released = await journeys.drainTimers(message.shard, outOfTime);
      if (released > 0) metrics.addMetric('timersReleased', MetricUnit.Count, released);
    } else {
      const chunk = await journeys.runAudienceChunk(message, outOfTime);
      if (chunk) {
        metrics.addMetric('audienceQueued', MetricUnit.Count, chunk.users);
        logger.info('audience chunk', {
          campaignId: message.campaignId,
          runId: message.runId,
          range: message.range,
          ...chunk,
        });
      }
    }
  };

  return middy<SQSEvent, SQSBatchResponse>()
    .use(traceHandler(observability))
    .use(injectLambdaContext(logger, { resetKeys: true }))
    .use(logMetrics(metrics))
    .handler((event, context) =>
      processPartialResponse(event, (record: SQSRecord) => recordHandler(record, context), newProcessor(), {
        context,
        throwOnFullBatchFailure: false,
      }),
    );
};
