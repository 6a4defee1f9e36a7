/**
 * Currents connectors live in the Cohorts table:
 *   pk <ws>#CURRENTS, sk <connectorId>     url, token, event types, paused, delivery counters
 *   pk <ws>#CURRENTS-DEAD#<connectorId>, sk <droppedAt>#<eventId>   a dropped event (kept 14 days)
 * The token is what the receiver (Heap) expects in `Authorization: Bearer`; it is stored
 * as given (DynamoDB encrypts at rest), never logged, never returned by the API.
 */
import {
  BatchWriteCommand,
  DeleteCommand,
  GetCommand,
  PutCommand,
  UpdateCommand,
  type DynamoDBDocumentClient,
} from '@aws-sdk/lib-dynamodb';
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { generateId } from '../workspaces/keys.js';
import { backoff, chunk, queryAll } from './batch.js';
import type { CurrentsEvent } from '../currents/events.js';

export interface Connector {
  workspaceId: string;
  connectorId: string;
  url: string;
  token?: string;
  eventTypes: string[];
  paused: boolean;
  createdAt: string;
  delivered: number;
  retrying: number;
  dropped: number;
  lastSuccessAt?: string;
  lastError?: { at: string; status: number; reason: string };
}

export interface DeadLetter {
  droppedAt: string;
  reason: string;
  status: number;
  event: CurrentsEvent;
}

const listKey = (workspaceId: string) => `${workspaceId}#CURRENTS`;
const deadKey = (workspaceId: string, connectorId: string) => `${workspaceId}#CURRENTS-DEAD#${connectorId}`;
const DEAD_LETTER_TTL_SECONDS = 14 * 24 * 3600;
/** AWS: BatchWriteItem takes at most 25 items. */
const BATCH_WRITE_LIMIT = 25;

const toConnector = (item: Record<string, unknown>): Connector => {
  const { pk: _pk, sk, ...fields } = item;
  return { ...(fields as Omit<Connector, 'connectorId'>), connectorId: sk as string };
};

export class DynamoConnectorStore {
  constructor(
    private readonly client: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  async create(
    input: { workspaceId: string; url: string; token?: string; eventTypes: string[] },
    now: Date,
  ): Promise<Connector> {
    const connector: Connector = {
      ...input,
      connectorId: generateId(),
      paused: false,
      createdAt: now.toISOString(),
      delivered: 0,
      retrying: 0,
      dropped: 0,
    };
    const { connectorId, ...fields } = connector;
    await this.client.send(
      new PutCommand({
        TableName: this.tableName,
        Item: { pk: listKey(input.workspaceId), sk: connectorId, ...fields },
        ConditionExpression: 'attribute_not_exists(sk)',
      }),
    );
    return connector;
  }

  async list(workspaceId: string): Promise<Connector[]> {
    const items = await queryAll(this.client, {
      TableName: this.tableName,
      KeyConditionExpression: 'pk = :pk',
      ExpressionAttributeValues: { ':pk': listKey(workspaceId) },
    });
    return items.map(toConnector);
  }

  async get(workspaceId: string, connectorId: string): Promise<Connector | undefined> {
    const response = await this.client.send(
      new GetCommand({ TableName: this.tableName, Key: { pk: listKey(workspaceId), sk: connectorId } }),
    );
    return response.Item && toConnector(response.Item);
  }

  async delete(workspaceId: string, connectorId: string): Promise<boolean> {
    const response = await this.client.send(
      new DeleteCommand({
        TableName: this.tableName,
        Key: { pk: listKey(workspaceId), sk: connectorId },
        ReturnValues: 'ALL_OLD',
      }),
    );
    return response.Attributes !== undefined;
  }

  async setPaused(workspaceId: string, connectorId: string, paused: boolean): Promise<boolean> {
    try {
      await this.client.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { pk: listKey(workspaceId), sk: connectorId },
          UpdateExpression: 'SET paused = :paused',
          ConditionExpression: 'attribute_exists(sk)',
          ExpressionAttributeValues: { ':paused': paused },
        }),
      );
      return true;
    } catch (error: unknown) {
      if (error instanceof ConditionalCheckFailedException) return false;
      throw error;
    }
  }

  /** Moves the delivery counters of one delivery run (atomic adds, so concurrent runs add up). */
  async recordDeliveries(
    workspaceId: string,
    connectorId: string,
    counts: {
      delivered: number;
      retrying: number;
      dropped: number;
      lastSuccessAt?: string;
      lastError?: Connector['lastError'];
    },
  ): Promise<void> {
    const sets: string[] = [];
    const values: Record<string, unknown> = {
      ':delivered': counts.delivered,
      ':retrying': counts.retrying,
      ':dropped': counts.dropped,
    };
    if (counts.lastSuccessAt) {
      sets.push('lastSuccessAt = :lastSuccessAt');
      values[':lastSuccessAt'] = counts.lastSuccessAt;
    }
    if (counts.lastError) {
      sets.push('lastError = :lastError');
      values[':lastError'] = counts.lastError;
    }
    await this.client
      .send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { pk: listKey(workspaceId), sk: connectorId },
          UpdateExpression: `ADD delivered :delivered, retrying :retrying, dropped :dropped${sets.length ? ` SET ${sets.join(', ')}` : ''}`,
          ConditionExpression: 'attribute_exists(sk)',
          ExpressionAttributeValues: values,
        }),
      )
      .catch((error: unknown) => {
        // The connector was deleted meanwhile: nothing to count on.
        if (!(error instanceof ConditionalCheckFailedException)) throw error;
      });
  }

  async putDeadLetters(workspaceId: string, connectorId: string, letters: readonly DeadLetter[]): Promise<void> {
    for (const batch of chunk(letters, BATCH_WRITE_LIMIT)) {
      let pending = batch.map((letter) => ({
        PutRequest: {
          Item: {
            pk: deadKey(workspaceId, connectorId),
            sk: `${letter.droppedAt}#${letter.event.id}`,
            ...letter,
            ttl: Math.floor(Date.parse(letter.droppedAt) / 1000) + DEAD_LETTER_TTL_SECONDS,
          },
        },
      }));
      for (let round = 0; pending.length > 0; round += 1) {
        if (round > 10) throw new Error('BatchWriteItem: dead letters still unprocessed after 10 retries');
        if (round > 0) await backoff(round);
        const response = await this.client.send(new BatchWriteCommand({ RequestItems: { [this.tableName]: pending } }));
        pending = (response.UnprocessedItems?.[this.tableName] ?? []) as typeof pending;
      }
    }
  }

  async listDeadLetters(workspaceId: string, connectorId: string): Promise<(DeadLetter & { key: string })[]> {
    const items = await queryAll(this.client, {
      TableName: this.tableName,
      KeyConditionExpression: 'pk = :pk',
      ExpressionAttributeValues: { ':pk': deadKey(workspaceId, connectorId) },
    });
    return items.map((item) => ({
      key: item.sk as string,
      droppedAt: item.droppedAt as string,
      reason: item.reason as string,
      status: item.status as number,
      event: item.event as CurrentsEvent,
    }));
  }

  async deleteDeadLetter(workspaceId: string, connectorId: string, key: string): Promise<void> {
    await this.client.send(
      new DeleteCommand({ TableName: this.tableName, Key: { pk: deadKey(workspaceId, connectorId), sk: key } }),
    );
  }
}
