/**
 * Membership events (DynamoDB Stream of the cohorts table → Lambda → SNS): the outbox of
 * the sync. Every register write is a stream record, written atomically with the write
 * itself, so every applied flip is published at least once, whatever happens to the sync
 * after its transaction commits; the same flip always gets the same `event_id`.
 *
 * A batch is published whole or not at all: a failure throws, and Lambda retries the
 * batch (bisecting it on repeated failure) from the same place in the shard, so flips of
 * one membership are never published out of their order.
 */
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import type { DynamoDBStreamEvent } from 'aws-lambda';
import { membershipEvents, type EventSources, type MembershipEventPublisher } from '../../lib/cohorts/events.js';
import { isRegisterKey, membershipFlips, type RegisterStreamRecord } from '../../lib/dynamodb/membership-stream.js';
import { observedHandler, type Observability } from '../../lib/observability.js';

export interface EventsDependencies {
  sources: EventSources;
  publisher: MembershipEventPublisher;
  observability: Observability;
  /** How long a warm instance reuses a cohort's name (default 60 s: a rename shows in events within a minute). */
  cohortNameTtlMs?: number;
  clock?: () => number;
}

/**
 * Cohort names change rarely and every stream batch of a big sync names the same cohort:
 * remember them for a while instead of reading the cohort for each batch of 100 flips.
 */
const rememberingCohorts = (
  cohorts: EventSources['cohorts'],
  ttlMs: number,
  clock: () => number,
): EventSources['cohorts'] => {
  const remembered = new Map<
    string,
    { at: number; cohort: Awaited<ReturnType<EventSources['cohorts']['getCohort']>> }
  >();
  return {
    getCohort: async (ref) => {
      const key = JSON.stringify([ref.workspaceId, ref.partner, ref.cohortId]);
      const hit = remembered.get(key);
      if (hit && clock() - hit.at < ttlMs) return hit.cohort;
      const cohort = await cohorts.getCohort(ref);
      if (remembered.size >= 10_000) remembered.clear();
      remembered.set(key, { at: clock(), cohort });
      return cohort;
    },
  };
};

export type EventsHandler = (event: DynamoDBStreamEvent, context: import('aws-lambda').Context) => Promise<void>;

type Image = Record<string, AttributeValue> | undefined;
const image = (value: unknown) => (value ? unmarshall(value as Record<string, AttributeValue>) : undefined);

/**
 * Lambda's stream records (AttributeValue images) as the flips' reader wants them: only
 * membership registers' (by key), so that no other item of the table (a dead letter whose
 * image this reader cannot unmarshall, say) can fail the batch, which a stream retries until
 * its records expire, holding up every membership event behind it.
 */
export const toRegisterRecords = (event: DynamoDBStreamEvent): RegisterStreamRecord[] =>
  event.Records.flatMap((record) => {
    const keys = image(record.dynamodb?.Keys as Image) ?? {};
    if (!isRegisterKey(keys)) return [];
    return [
      {
        eventName: record.eventName,
        keys,
        oldImage: image(record.dynamodb?.OldImage as Image),
        newImage: image(record.dynamodb?.NewImage as Image),
      },
    ];
  });

export const createEventsHandler = ({
  sources,
  publisher,
  observability,
  cohortNameTtlMs = 60_000,
  clock = Date.now,
}: EventsDependencies): EventsHandler => {
  const { logger, metrics } = observability;
  const eventSources: EventSources = {
    ...sources,
    cohorts: rememberingCohorts(sources.cohorts, cohortNameTtlMs, clock),
  };
  return observedHandler<DynamoDBStreamEvent, void>(observability).handler(async (event) => {
    const flips = membershipFlips(toRegisterRecords(event));
    if (flips.length === 0) return;
    const events = await membershipEvents(flips, eventSources);
    try {
      await publisher.publish(events);
    } catch (error: unknown) {
      logger.error('membership events not published; the stream batch will be retried', {
        records: event.Records.length,
        events: events.length,
        error: error instanceof Error ? error.message : String(error),
      });
      throw error;
    }
    metrics.addMetric('membershipEventsPublished', MetricUnit.Count, events.length);
  }) as unknown as EventsHandler;
};
