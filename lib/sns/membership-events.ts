import { PublishBatchCommand, type SNSClient } from '@aws-sdk/client-sns';
import { chunk } from '../dynamodb/batch.js';
import type { MembershipEvent, MembershipEventPublisher } from '../cohorts/events.js';
import { toWellFormedUnicode } from '../unicode.js';

/** AWS: PublishBatch takes at most 10 messages. */
const PUBLISH_BATCH_LIMIT = 10;

/**
 * Publishes membership events to an SNS topic, with message attributes for subscription
 * filter policies (type, workspace_id, partner, cohort_id). Any entry SNS did not accept
 * fails the whole call, so the sync record is retried rather than the event lost.
 */
export class SnsMembershipEventPublisher implements MembershipEventPublisher {
  constructor(
    private readonly client: SNSClient,
    private readonly topicArn: string,
  ) {}

  async publish(events: readonly MembershipEvent[]): Promise<void> {
    await Promise.all(
      chunk(events, PUBLISH_BATCH_LIMIT).map(async (batch) => {
        const response = await this.client.send(
          new PublishBatchCommand({
            TopicArn: this.topicArn,
            PublishBatchRequestEntries: batch.map((event, index) => ({
              Id: String(index),
              Message: JSON.stringify(event),
              MessageAttributes: {
                type: { DataType: 'String', StringValue: event.type },
                workspace_id: { DataType: 'String', StringValue: event.workspace_id },
                partner: { DataType: 'String', StringValue: toWellFormedUnicode(event.partner) },
                // Validation refuses lone surrogates in ids; one queued before it did would make the SDK throw
                // ("URI malformed") and the record fail forever. The message body (JSON) keeps the id as it was.
                cohort_id: { DataType: 'String', StringValue: toWellFormedUnicode(event.cohort_id) },
              },
            })),
          }),
        );
        const failed = response.Failed ?? [];
        if (failed.length > 0) {
          throw new Error(
            `SNS refused ${failed.length} membership event(s): ${failed.map((entry) => entry.Code).join(', ')}`,
          );
        }
      }),
    );
  }
}
