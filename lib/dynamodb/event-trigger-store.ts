/**
 * The event trigger index on the campaigns table (docs/campaigns.md, "Data model"): one item
 * per workspace, event key and campaign, under the workspace's `EVENTS` partition. The sort key
 * holds a hash of the event key (a name is up to 255 characters, up to 1,020 bytes of UTF-8:
 * as text it could pass DynamoDB's 1,024-byte sort key with the campaign id), so the lookup
 * per tracked event is one Query of one prefix.
 */
import { createHash } from 'node:crypto';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { EventTriggerIndex } from '../campaigns/ports.js';
import { batchWriteAll, queryAll } from './batch.js';

const eventsKey = (workspaceId: string) => `${workspaceId}#EVENTS`;
const eventHash = (eventKey: string) => createHash('sha256').update(eventKey).digest('base64url').slice(0, 32);

export class DynamoEventTriggerIndex implements EventTriggerIndex {
  constructor(
    private readonly client: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  async put(workspaceId: string, campaignId: string, eventKeys: readonly string[]): Promise<void> {
    if (eventKeys.length === 0) return;
    await batchWriteAll(
      this.client,
      this.tableName,
      eventKeys.map((eventKey) => ({
        PutRequest: {
          Item: { pk: eventsKey(workspaceId), sk: `${eventHash(eventKey)}#${campaignId}`, eventKey, campaignId },
        },
      })),
    );
  }

  async delete(workspaceId: string, campaignId: string, eventKeys: readonly string[]): Promise<void> {
    if (eventKeys.length === 0) return;
    await batchWriteAll(
      this.client,
      this.tableName,
      eventKeys.map((eventKey) => ({
        DeleteRequest: { Key: { pk: eventsKey(workspaceId), sk: `${eventHash(eventKey)}#${campaignId}` } },
      })),
    );
  }

  async campaignsOn(workspaceId: string, eventKey: string): Promise<string[]> {
    const items = await queryAll(this.client, {
      TableName: this.tableName,
      KeyConditionExpression: 'pk = :pk AND begins_with(sk, :prefix)',
      ExpressionAttributeValues: { ':pk': eventsKey(workspaceId), ':prefix': `${eventHash(eventKey)}#` },
    });
    // A hash collision of two event keys (2^-192) would only cost a definition read: the key decides.
    return items.filter((item) => item.eventKey === eventKey).map((item) => item.campaignId as string);
  }
}
