/**
 * Segments live in the Cohorts table, beside the cohorts they are built on:
 *   pk <ws>#SEGMENTS, sk <segmentId>   name, filter, createdAt, updatedAt
 */
import { DeleteCommand, GetCommand, PutCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { queryAll } from './batch.js';
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { generateId } from '../workspaces/keys.js';
import type { Filter } from '../segments/filter.js';

export interface Segment {
  segmentId: string;
  name: string;
  filter: Filter;
  createdAt: string;
  updatedAt: string;
}

const listKey = (workspaceId: string) => `${workspaceId}#SEGMENTS`;

const toSegment = (item: Record<string, unknown>): Segment => ({
  segmentId: item.sk as string,
  name: item.name as string,
  filter: item.filter as Filter,
  createdAt: item.createdAt as string,
  updatedAt: item.updatedAt as string,
});

export class DynamoSegmentStore {
  constructor(
    private readonly client: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  async create(workspaceId: string, input: { name: string; filter: Filter }, now: Date): Promise<Segment> {
    const segment: Segment = { segmentId: generateId(), ...input, createdAt: now.toISOString(), updatedAt: now.toISOString() };
    await this.put(workspaceId, segment, 'attribute_not_exists(sk)');
    return segment;
  }

  private put(workspaceId: string, segment: Segment, condition: string) {
    const { segmentId, ...fields } = segment;
    return this.client.send(
      new PutCommand({ TableName: this.tableName, Item: { pk: listKey(workspaceId), sk: segmentId, ...fields }, ConditionExpression: condition }),
    );
  }

  async get(workspaceId: string, segmentId: string): Promise<Segment | undefined> {
    const response = await this.client.send(new GetCommand({ TableName: this.tableName, Key: { pk: listKey(workspaceId), sk: segmentId } }));
    return response.Item && toSegment(response.Item);
  }

  async list(workspaceId: string): Promise<Segment[]> {
    const items = await queryAll(this.client, {
      TableName: this.tableName,
      KeyConditionExpression: 'pk = :pk',
      ExpressionAttributeValues: { ':pk': listKey(workspaceId) },
    });
    return items.map(toSegment);
  }

  /** Replaces name and filter; undefined if there is no such segment. */
  async update(workspaceId: string, segmentId: string, input: { name: string; filter: Filter }, now: Date): Promise<Segment | undefined> {
    const existing = await this.get(workspaceId, segmentId);
    if (!existing) return undefined;
    const segment: Segment = { ...existing, ...input, updatedAt: now.toISOString() };
    try {
      await this.put(workspaceId, segment, 'attribute_exists(sk)');
      return segment;
    } catch (error: unknown) {
      if (error instanceof ConditionalCheckFailedException) return undefined;
      throw error;
    }
  }

  async delete(workspaceId: string, segmentId: string): Promise<boolean> {
    const response = await this.client.send(
      new DeleteCommand({ TableName: this.tableName, Key: { pk: listKey(workspaceId), sk: segmentId }, ReturnValues: 'ALL_OLD' }),
    );
    return response.Attributes !== undefined;
  }
}
