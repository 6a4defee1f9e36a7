/**
 * Currents connectors live in the Cohorts table:
 *   pk <ws>#CURRENTS, sk <connectorId>     url, sealed token, event types, paused, delivery counters
 *   pk <ws>#CURRENTS-DEAD#<connectorId>, sk <droppedAt>#<eventId>   a dropped event (kept 14 days)
 * The token is what the receiver (Heap) expects in `Authorization: Bearer`. It is stored
 * sealed (`tokenSealed`: AES-256-GCM under a key from a service secret, bound to the
 * connector; lib/secrets/token-cipher.ts), opened only by `getForDelivery` (the currents
 * function), never logged, never returned by the API or `get`/`list`. A connector stored
 * before sealing holds its token in a plain `token` attribute until its next delivery
 * seals it.
 */
import {
  DeleteCommand,
  GetCommand,
  PutCommand,
  UpdateCommand,
  type DynamoDBDocumentClient,
} from '@aws-sdk/lib-dynamodb';
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { generateId } from '../workspaces/keys.js';
import type { TokenCipher } from '../secrets/token-cipher.js';
import { batchWriteAll, queryAll, queryPage } from './batch.js';
import { searchMatcher } from '../paging.js';
import type { CurrentsEvent } from '../currents/events.js';
import type { Connector, DeadLetter } from '../currents/ports.js';

export type { Connector, DeadLetter };

const listKey = (workspaceId: string) => `${workspaceId}#CURRENTS`;
const deadKey = (workspaceId: string, connectorId: string) => `${workspaceId}#CURRENTS-DEAD#${connectorId}`;
const toDeadLetter = (item: Record<string, unknown>): DeadLetter & { key: string } => ({
  key: item.sk as string,
  droppedAt: item.droppedAt as string,
  reason: item.reason as string,
  status: item.status as number,
  event: item.event as CurrentsEvent,
});
const DEAD_LETTER_TTL_SECONDS = 14 * 24 * 3600;
/** AWS: BatchWriteItem takes at most 25 items. */

/** A connector with what delivering to it takes: its token, opened. */
export type DeliveryTarget = Connector & { token?: string };

const toConnector = (item: Record<string, unknown>): Connector => {
  // The token, sealed or (stored before sealing) plain, never leaves the store this way.
  const { pk: _pk, sk, token: _token, tokenSealed: _tokenSealed, ...fields } = item;
  return { ...(fields as Omit<Connector, 'connectorId'>), connectorId: sk as string };
};

/** What a sealed token is bound to: a sealed token copied to another connector does not open. */
const tokenContext = (workspaceId: string, connectorId: string) => `currents-connector#${workspaceId}#${connectorId}`;

export class DynamoConnectorStore {
  /** `tokenCipher`: needed to create a connector with a token and to deliver (not to list or count). */
  constructor(
    private readonly client: DynamoDBDocumentClient,
    private readonly tableName: string,
    private readonly tokenCipher?: TokenCipher,
  ) {}

  async create(
    input: { workspaceId: string; url: string; token?: string; eventTypes: string[] },
    now: Date,
  ): Promise<Connector> {
    const { token, ...fields } = input;
    const connector: Connector = {
      ...fields,
      connectorId: generateId(),
      paused: false,
      createdAt: now.toISOString(),
      delivered: 0,
      retrying: 0,
      dropped: 0,
    };
    const { connectorId, ...stored } = connector;
    const tokenSealed =
      token === undefined ? undefined : await this.cipher().seal(token, tokenContext(input.workspaceId, connectorId));
    await this.client.send(
      new PutCommand({
        TableName: this.tableName,
        Item: { pk: listKey(input.workspaceId), sk: connectorId, ...stored, tokenSealed },
        ConditionExpression: 'attribute_not_exists(sk)',
      }),
    );
    return connector;
  }

  /**
   * The connector with its token opened, for the currents function. A token still stored
   * plain (before sealing) is sealed now, in a write conditioned on it being unchanged.
   */
  async getForDelivery(workspaceId: string, connectorId: string): Promise<DeliveryTarget | undefined> {
    const response = await this.client.send(
      new GetCommand({ TableName: this.tableName, Key: { pk: listKey(workspaceId), sk: connectorId } }),
    );
    if (!response.Item) return undefined;
    const connector = toConnector(response.Item);
    const context = tokenContext(workspaceId, connectorId);
    const { tokenSealed, token: plainToken } = response.Item as { tokenSealed?: string; token?: string };
    if (typeof tokenSealed === 'string') return { ...connector, token: await this.cipher().open(tokenSealed, context) };
    if (typeof plainToken !== 'string') return connector;
    const sealed = await this.cipher().seal(plainToken, context);
    await this.client
      .send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { pk: listKey(workspaceId), sk: connectorId },
          UpdateExpression: 'SET tokenSealed = :sealed REMOVE #token',
          ConditionExpression: '#token = :plain',
          ExpressionAttributeNames: { '#token': 'token' },
          ExpressionAttributeValues: { ':sealed': sealed, ':plain': plainToken },
        }),
      )
      .catch((error: unknown) => {
        // Sealed meanwhile by another delivery, or deleted: either way nothing is left to seal.
        if (!(error instanceof ConditionalCheckFailedException)) throw error;
      });
    return { ...connector, token: plainToken };
  }

  private cipher(): TokenCipher {
    if (!this.tokenCipher) throw new Error('This connector store was built without a token cipher');
    return this.tokenCipher;
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
    await batchWriteAll(
      this.client,
      this.tableName,
      letters.map((letter) => ({
        PutRequest: {
          Item: {
            pk: deadKey(workspaceId, connectorId),
            sk: `${letter.droppedAt}#${letter.event.id}`,
            ...letter,
            ttl: Math.floor(Date.parse(letter.droppedAt) / 1000) + DEAD_LETTER_TTL_SECONDS,
          },
        },
      })),
    );
  }

  async listDeadLetters(workspaceId: string, connectorId: string): Promise<(DeadLetter & { key: string })[]> {
    const items = await queryAll(this.client, {
      TableName: this.tableName,
      KeyConditionExpression: 'pk = :pk',
      ExpressionAttributeValues: { ':pk': deadKey(workspaceId, connectorId) },
    });
    return items.map(toDeadLetter);
  }

  /**
   * One page of a connector's dead letters in the order they were dropped (or newest first),
   * after `after`: bounded reads (5 queries), `next` absent at the end.
   */
  async deadLetterPage(
    workspaceId: string,
    connectorId: string,
    page: { limit: number; after?: string; order?: 'asc' | 'desc'; search?: string },
  ): Promise<{ letters: (DeadLetter & { key: string })[]; next?: string }> {
    const pk = deadKey(workspaceId, connectorId);
    // A search: the event's type or the reason containing the text, or the event's id starting with it.
    const matches = searchMatcher(page.search);
    const keep =
      matches &&
      ((item: Record<string, unknown>) => {
        const event = item.event as Partial<CurrentsEvent> | undefined;
        return matches({ name: event?.event_type, id: event?.id }) || matches({ name: item.reason });
      });
    const found = await queryPage(
      this.client,
      {
        TableName: this.tableName,
        KeyConditionExpression: 'pk = :pk',
        ExpressionAttributeValues: { ':pk': pk },
        ScanIndexForward: page.order !== 'desc',
        pk,
      },
      { limit: page.limit, ...(page.after === undefined ? {} : { after: page.after }), ...(keep ? { keep } : {}) },
    );
    return { letters: found.items.map(toDeadLetter), ...(found.next !== undefined ? { next: found.next } : {}) };
  }

  /**
   * Takes a dead letter for one replay until `until` (ms): a conditional write, so of two
   * replays at once only one queues it. False when it is gone (replayed) or another replay
   * holds it; a claim left by a replay that died ends at `until`, and the letter is replayable again.
   */
  async claimDeadLetter(
    workspaceId: string,
    connectorId: string,
    key: string,
    claim: { now: number; until: number },
  ): Promise<boolean> {
    try {
      await this.client.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { pk: deadKey(workspaceId, connectorId), sk: key },
          UpdateExpression: 'SET replayClaimedUntil = :until',
          ConditionExpression:
            'attribute_exists(sk) AND (attribute_not_exists(replayClaimedUntil) OR replayClaimedUntil <= :now)',
          ExpressionAttributeValues: { ':until': claim.until, ':now': claim.now },
        }),
      );
      return true;
    } catch (error: unknown) {
      if (error instanceof ConditionalCheckFailedException) return false;
      throw error;
    }
  }

  /** Gives a claimed letter back (its queueing failed), unless it is gone: an update must not recreate it. */
  async releaseDeadLetter(workspaceId: string, connectorId: string, key: string): Promise<void> {
    await this.client
      .send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { pk: deadKey(workspaceId, connectorId), sk: key },
          UpdateExpression: 'REMOVE replayClaimedUntil',
          ConditionExpression: 'attribute_exists(sk)',
        }),
      )
      .catch((error: unknown) => {
        if (!(error instanceof ConditionalCheckFailedException)) throw error;
      });
  }

  /**
   * Whether a letter no replay holds at `now` may remain: true when one is found, or when the
   * bounded reads (5 queries) end before the end of the letters.
   */
  async hasUnclaimedDeadLetters(workspaceId: string, connectorId: string, now: number): Promise<boolean> {
    const pk = deadKey(workspaceId, connectorId);
    const found = await queryPage(
      this.client,
      { TableName: this.tableName, KeyConditionExpression: 'pk = :pk', ExpressionAttributeValues: { ':pk': pk }, pk },
      {
        limit: 1,
        keep: (item) => !(typeof item.replayClaimedUntil === 'number' && item.replayClaimedUntil > now),
      },
    );
    return found.items.length > 0 || found.next !== undefined;
  }

  async deleteDeadLetter(workspaceId: string, connectorId: string, key: string): Promise<void> {
    await this.client.send(
      new DeleteCommand({ TableName: this.tableName, Key: { pk: deadKey(workspaceId, connectorId), sk: key } }),
    );
  }
}
