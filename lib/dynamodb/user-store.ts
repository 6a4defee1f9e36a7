/**
 * Users table (hash key `pk` only):
 *   <ws>#U#<brazeId>           a profile: externalId?, aliases, deviceIds, customAttributes
 *   <ws>#X#<h(external id)>    index: → brazeId (identified)
 *   <ws>#A#<h(label, name)>    index: → brazeId
 *   <ws>#D#<h(device id)>      index: → brazeId, identified (whether its owner has an external id)
 *   <ws>#N#<lane>              a share of the workspace's user count (the count is the sum of the lanes)
 * Identifiers are hashed in keys because they may be 512 characters of 4-byte UTF-8,
 * over DynamoDB's 2,048-byte partition key; the value is kept as an attribute.
 */
import { createHash } from 'node:crypto';
import { GetCommand, TransactWriteCommand, UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { ConditionalCheckFailedException, TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import { backoff, batchGetAll, chunk, queryItems } from './batch.js';
import { identifierKey, type DirectoryEntry, type IdentifierRef, type UserDirectory } from '../cohorts/matching.js';
import type { Cancellable } from '../cohorts/ports.js';
import { generateId } from '../workspaces/keys.js';
import { isLoadError } from '../errors.js';
import {
  newProfile,
  UserConflictError,
  type UserAliasValue,
  type UserCount,
  type UserProfile,
  type UserStore,
} from '../users/ports.js';
import type { WorkspaceUsers } from '../segments/ports.js';

const digest = (...parts: string[]): string =>
  createHash('sha256').update(parts.join('\u0000'), 'utf8').digest('base64url');

export const profileKey = (workspaceId: string, brazeId: string) => `${workspaceId}#U#${brazeId}`;
export const indexKey = (workspaceId: string, ref: IdentifierRef): string => {
  switch (ref.type) {
    case 'external_id':
      return `${workspaceId}#X#${digest(ref.externalId)}`;
    case 'alias':
      return `${workspaceId}#A#${digest(ref.label, ref.name)}`;
    case 'device_id':
      return `${workspaceId}#D#${digest(ref.deviceId)}`;
  }
};

/** byWorkspace index keys: 16 shards by the first hex digit, so shards 0…f in order are sorted by braze_id. */
export const WORKSPACE_SHARDS = [...'0123456789abcdef'];
export const workspaceIndexKeys = (workspaceId: string, brazeId: string) => ({
  wpk: `${workspaceId}#USERS#${brazeId[0]}`,
  wsk: brazeId,
});

/**
 * The workspace's user count is split over lanes, each moved in the transaction that
 * creates or deletes a profile, so it is exact under retries and crashes (a transaction
 * that did not happen moved no lane). Lanes because AWS cancels a transaction touching
 * an item another in-flight transaction holds (`TransactionConflict`): concurrent
 * creators pick random lanes and rarely meet. Reading the count is one strongly
 * consistent BatchGetItem of the 32 lanes.
 */
export const USER_COUNT_LANES = 32;
export const userCountKey = (workspaceId: string, lane: number) => `${workspaceId}#N#${String(lane).padStart(2, '0')}`;
const randomLane = () => Math.floor(Math.random() * USER_COUNT_LANES);
/** Transactions cancelled by load only (a conflict on a lane, throttling) are retried this many times. */
const MAX_COUNT_ATTEMPTS = 8;

/** Why a transaction was cancelled: a failed condition (something moved) or only load. */
const conditionFailed = (error: unknown): boolean =>
  error instanceof ConditionalCheckFailedException ||
  (error instanceof TransactionCanceledException &&
    (error.CancellationReasons ?? []).some((reason) => reason.Code === 'ConditionalCheckFailed'));

/** An identifier's index item: who it names, and whether that user is identified (rule 3 reads it). */
export const indexItem = (workspaceId: string, ref: IdentifierRef, brazeId: string, identified: boolean) => ({
  pk: indexKey(workspaceId, ref),
  brazeId,
  identified,
  value: identifierKey(ref),
});

/** Load (a transaction conflict, throttling) is retried this many times before the request fails. */
const MAX_LOAD_ATTEMPTS = 8;

/**
 * Sends a write, retrying it while it fails because of load only: a cancelled transaction
 * whose reasons are conflicts or throttling wrote nothing and did not find anything
 * changed, so it is not "already done" (only a failed condition is).
 */
const retryingLoad = async <T>(send: () => Promise<T>): Promise<T> => {
  for (let attempt = 0; ; attempt += 1) {
    try {
      return await send();
    } catch (error: unknown) {
      if (conditionFailed(error) || !isLoadError(error) || attempt + 1 >= MAX_LOAD_ATTEMPTS) throw error;
      await backoff(attempt, 20, 1_000);
    }
  }
};

export class DynamoUserStore implements UserDirectory, UserStore, WorkspaceUsers {
  constructor(
    private readonly client: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  /** A write retried while it fails because of load only (see retryingLoad). */
  private write(command: () => UpdateCommand | TransactWriteCommand): Promise<unknown> {
    // A fresh command each attempt; the document client's send is overloaded per command.
    return retryingLoad(() => this.client.send(command() as UpdateCommand));
  }

  /** One BatchGetItem per 100 identifiers (rather than one call each). */
  async lookup(
    workspaceId: string,
    identifiers: readonly IdentifierRef[],
    { signal }: Cancellable = {},
  ): Promise<Map<string, DirectoryEntry>> {
    const byPk = new Map(identifiers.map((ref) => [indexKey(workspaceId, ref), ref]));
    const items = await batchGetAll(
      this.client,
      this.tableName,
      [...byPk.keys()].map((pk) => ({ pk })),
      { attributes: ['pk', 'brazeId', 'identified'], signal },
    );
    const entries = new Map<string, DirectoryEntry>();
    for (const item of items) {
      const ref = byPk.get(item.pk as string);
      if (ref)
        entries.set(identifierKey(ref), { brazeId: item.brazeId as string, identified: item.identified === true });
    }
    return entries;
  }

  async find(workspaceId: string, ref: IdentifierRef): Promise<DirectoryEntry | undefined> {
    return (await this.lookup(workspaceId, [ref])).get(identifierKey(ref));
  }

  /** The exact number of users of the workspace: the sum of its count lanes, read strongly consistent. */
  async workspaceUserCount(workspaceId: string): Promise<UserCount> {
    const lanes = await batchGetAll(
      this.client,
      this.tableName,
      Array.from({ length: USER_COUNT_LANES }, (_, lane) => ({ pk: userCountKey(workspaceId, lane) })),
      { consistentRead: true, attributes: ['users', 'lastCreatedAt', 'lastRemovedAt'] },
    );
    const latest = (name: 'lastCreatedAt' | 'lastRemovedAt') =>
      lanes.reduce<string | undefined>(
        (max, lane) => (typeof lane[name] === 'string' && (max === undefined || lane[name] > max) ? lane[name] : max),
        undefined,
      );
    const lastCreatedAt = latest('lastCreatedAt');
    const lastRemovedAt = latest('lastRemovedAt');
    return {
      users: lanes.reduce((sum, lane) => sum + Number(lane.users ?? 0), 0),
      ...(lastCreatedAt !== undefined ? { lastCreatedAt } : {}),
      ...(lastRemovedAt !== undefined ? { lastRemovedAt } : {}),
    };
  }

  /** A transaction action moving one lane of the user count, stamped with when. */
  private userCountUpdate(workspaceId: string, delta: 1 | -1, now: Date) {
    return {
      Update: {
        TableName: this.tableName,
        Key: { pk: userCountKey(workspaceId, randomLane()) },
        UpdateExpression: `ADD #users :delta SET ${delta > 0 ? 'lastCreatedAt' : 'lastRemovedAt'} = :now`,
        ExpressionAttributeNames: { '#users': 'users' },
        ExpressionAttributeValues: { ':delta': delta, ':now': now.toISOString() },
      },
    };
  }

  /** Every user of a workspace in braze_id order, after `after` (byWorkspace index, shard by shard). */
  async *workspaceUsers(workspaceId: string, after?: string, pageSize = 1_000): AsyncGenerator<string> {
    for (const shard of WORKSPACE_SHARDS) {
      if (after !== undefined && shard < after[0]!) continue;
      const from = after !== undefined && shard === after[0] ? after : undefined;
      const items = queryItems(this.client, {
        TableName: this.tableName,
        IndexName: 'byWorkspace',
        KeyConditionExpression: from === undefined ? 'wpk = :shard' : 'wpk = :shard AND wsk > :after',
        ExpressionAttributeValues: {
          ':shard': `${workspaceId}#USERS#${shard}`,
          ...(from === undefined ? {} : { ':after': from }),
        },
        ProjectionExpression: 'wsk',
        Limit: pageSize,
      });
      for await (const item of items) yield item.wsk as string;
    }
  }

  async getProfile(workspaceId: string, brazeId: string): Promise<UserProfile | undefined> {
    const response = await this.client.send(
      new GetCommand({
        TableName: this.tableName,
        Key: { pk: profileKey(workspaceId, brazeId) },
        ConsistentRead: true,
      }),
    );
    return response.Item as UserProfile | undefined;
  }

  async getProfiles(
    workspaceId: string,
    brazeIds: readonly string[],
    options: { consistentRead?: boolean } = {},
  ): Promise<UserProfile[]> {
    const unique = [...new Set(brazeIds)];
    const items = await batchGetAll(
      this.client,
      this.tableName,
      unique.map((brazeId) => ({ pk: profileKey(workspaceId, brazeId) })),
      { consistentRead: options.consistentRead },
    );
    const byId = new Map(items.map((item) => [item.brazeId as string, item as unknown as UserProfile]));
    return unique.flatMap((brazeId) => byId.get(brazeId) ?? []);
  }

  /**
   * Finds the user an identifier names, or creates one owned by it. Creation is a
   * transaction guarded on the index item, so two concurrent creators end with one user,
   * and it moves the workspace's user count: a create that is retried, or that loses the
   * race, counts nothing.
   */
  async findOrCreate(
    workspaceId: string,
    ref: IdentifierRef,
    now: Date,
  ): Promise<{ brazeId: string; created: boolean }> {
    for (let attempt = 0, raced = 0; raced < 3 && attempt < MAX_COUNT_ATTEMPTS; attempt += 1) {
      const existing = await this.find(workspaceId, ref);
      if (existing) return { brazeId: existing.brazeId, created: false };
      const brazeId = generateId();
      const profile: UserProfile & { pk: string; wpk: string; wsk: string } = {
        pk: profileKey(workspaceId, brazeId),
        ...workspaceIndexKeys(workspaceId, brazeId),
        ...newProfile(workspaceId, brazeId, ref, now),
      };
      try {
        await this.client.send(
          new TransactWriteCommand({
            TransactItems: [
              { Put: { TableName: this.tableName, Item: profile, ConditionExpression: 'attribute_not_exists(pk)' } },
              {
                Put: {
                  TableName: this.tableName,
                  Item: indexItem(workspaceId, ref, brazeId, ref.type === 'external_id'),
                  ConditionExpression: 'attribute_not_exists(pk)',
                },
              },
              this.userCountUpdate(workspaceId, 1, now),
            ],
          }),
        );
        return { brazeId, created: true };
      } catch (error: unknown) {
        if (!(error instanceof TransactionCanceledException)) throw error;
        // Someone created it meanwhile: read it again. Only load (a conflict on a count
        // lane, throttling): nothing was written; try again after a backoff, on another lane.
        if (conditionFailed(error)) raced += 1;
        else await backoff(attempt, 20, 1_000);
      }
    }
    throw new UserConflictError('could not create the user: concurrent updates; retry');
  }

  /** Gives an identified user an alias. An alias already owned by another user is a conflict. */
  async addAlias(workspaceId: string, brazeId: string, alias: UserAliasValue, now: Date): Promise<void> {
    const ref: IdentifierRef = { type: 'alias', label: alias.alias_label, name: alias.alias_name };
    const owner = await this.find(workspaceId, ref);
    if (owner?.brazeId === brazeId) return;
    if (owner)
      throw new UserConflictError(`alias ${alias.alias_label}:${alias.alias_name} already belongs to another user`);
    try {
      await this.write(
        () =>
          new TransactWriteCommand({
            TransactItems: [
              {
                Put: {
                  TableName: this.tableName,
                  Item: indexItem(workspaceId, ref, brazeId, true),
                  ConditionExpression: 'attribute_not_exists(pk)',
                },
              },
              {
                Update: {
                  TableName: this.tableName,
                  Key: { pk: profileKey(workspaceId, brazeId) },
                  UpdateExpression: 'SET aliases = list_append(aliases, :alias), updatedAt = :now',
                  ConditionExpression: 'attribute_exists(pk)',
                  ExpressionAttributeValues: { ':alias': [alias], ':now': now.toISOString() },
                },
              },
            ],
          }),
      );
    } catch (error: unknown) {
      if (conditionFailed(error))
        throw new UserConflictError(`alias ${alias.alias_label}:${alias.alias_name} was taken concurrently; retry`);
      throw error;
    }
  }

  /**
   * Records a device of an identified user. From then on the device id points at an
   * identified user, so cohort imports never match it (contract rule 3).
   */
  async addDeviceToIdentifiedUser(workspaceId: string, brazeId: string, deviceId: string, now: Date): Promise<void> {
    const ref: IdentifierRef = { type: 'device_id', deviceId };
    await this.write(
      () =>
        new TransactWriteCommand({
          TransactItems: [
            {
              Put: {
                TableName: this.tableName,
                Item: indexItem(workspaceId, ref, brazeId, true),
              },
            },
            {
              Update: {
                TableName: this.tableName,
                Key: { pk: profileKey(workspaceId, brazeId) },
                UpdateExpression: 'SET deviceIds = list_append(deviceIds, :device), updatedAt = :now',
                ConditionExpression: 'attribute_exists(pk) AND NOT contains(deviceIds, :deviceId)',
                ExpressionAttributeValues: { ':device': [deviceId], ':deviceId': deviceId, ':now': now.toISOString() },
              },
            },
          ],
        }),
    ).catch((error: unknown) => {
      // The device was already recorded on this user: nothing to do.
      if (!conditionFailed(error)) throw error;
    });
  }

  /** Sets custom attributes; a null value removes the attribute (as Braze's /users/track does). */
  async setCustomAttributes(
    workspaceId: string,
    brazeId: string,
    attributes: Record<string, unknown>,
    now: Date,
  ): Promise<void> {
    const entries = Object.entries(attributes);
    const names: Record<string, string> = {};
    const values: Record<string, unknown> = { ':now': now.toISOString() };
    const sets = ['updatedAt = :now'];
    const removes: string[] = [];
    entries.forEach(([name, value], index) => {
      names[`#a${index}`] = name;
      if (value === null) {
        removes.push(`customAttributes.#a${index}`);
      } else {
        values[`:v${index}`] = value;
        sets.push(`customAttributes.#a${index} = :v${index}`);
      }
    });
    if (entries.length === 0) return;
    await this.write(
      () =>
        new UpdateCommand({
          TableName: this.tableName,
          Key: { pk: profileKey(workspaceId, brazeId) },
          UpdateExpression: `SET ${sets.join(', ')}${removes.length ? ` REMOVE ${removes.join(', ')}` : ''}`,
          ConditionExpression: 'attribute_exists(pk)',
          ExpressionAttributeNames: names,
          ExpressionAttributeValues: values,
        }),
    );
  }

  /** An anonymous profile becomes the identified user `externalId` (which must be new). */
  async identifyInPlace(workspaceId: string, profile: UserProfile, externalId: string, now: Date): Promise<void> {
    const ref: IdentifierRef = { type: 'external_id', externalId };
    await this.write(
      () =>
        new TransactWriteCommand({
          TransactItems: [
            {
              Update: {
                TableName: this.tableName,
                Key: { pk: profileKey(workspaceId, profile.brazeId) },
                UpdateExpression: 'SET externalId = :externalId, updatedAt = :now',
                ConditionExpression: 'attribute_exists(pk) AND attribute_not_exists(externalId)',
                ExpressionAttributeValues: { ':externalId': externalId, ':now': now.toISOString() },
              },
            },
            {
              Put: {
                TableName: this.tableName,
                Item: indexItem(workspaceId, ref, profile.brazeId, true),
                ConditionExpression: 'attribute_not_exists(pk)',
              },
            },
          ],
        }),
    );
    await this.pointDevicesAt(workspaceId, profile.deviceIds, profile.brazeId, profile.brazeId);
  }

  /**
   * Merges an anonymous profile into an existing identified user and deletes it: its
   * aliases and devices now name the identified user (devices as identified, so they
   * stop matching cohort imports); the target's own attributes win over the source's.
   */
  async mergeInto(workspaceId: string, source: UserProfile, target: UserProfile, now: Date): Promise<void> {
    for (const alias of source.aliases) {
      await this.write(
        () =>
          new UpdateCommand({
            TableName: this.tableName,
            Key: { pk: indexKey(workspaceId, { type: 'alias', label: alias.alias_label, name: alias.alias_name }) },
            UpdateExpression: 'SET brazeId = :target, #identified = :true',
            ConditionExpression: 'brazeId = :source',
            ExpressionAttributeNames: { '#identified': 'identified' },
            ExpressionAttributeValues: { ':target': target.brazeId, ':source': source.brazeId, ':true': true },
          }),
      ).catch((error: unknown) => {
        if (!conditionFailed(error)) throw error;
      });
    }
    await this.pointDevicesAt(workspaceId, source.deviceIds, source.brazeId, target.brazeId);
    const aliases = [
      ...target.aliases,
      ...source.aliases.filter(
        (alias) =>
          !target.aliases.some((own) => own.alias_label === alias.alias_label && own.alias_name === alias.alias_name),
      ),
    ];
    const deviceIds = [...new Set([...target.deviceIds, ...source.deviceIds])];
    const customAttributes = { ...source.customAttributes, ...target.customAttributes };
    await this.write(
      () =>
        new UpdateCommand({
          TableName: this.tableName,
          Key: { pk: profileKey(workspaceId, target.brazeId) },
          UpdateExpression:
            'SET aliases = :aliases, deviceIds = :deviceIds, customAttributes = :attributes, updatedAt = :now',
          ConditionExpression: 'attribute_exists(pk)',
          ExpressionAttributeValues: {
            ':aliases': aliases,
            ':deviceIds': deviceIds,
            ':attributes': customAttributes,
            ':now': now.toISOString(),
          },
        }),
    );
    await this.removeProfile(workspaceId, source.brazeId, now);
  }

  /**
   * Deletes a profile and takes it off the user count, in one transaction conditioned on
   * the profile existing: deleting it again (a retried merge) counts nothing.
   */
  private async removeProfile(workspaceId: string, brazeId: string, now: Date): Promise<void> {
    for (let attempt = 0; ; attempt += 1) {
      try {
        await this.client.send(
          new TransactWriteCommand({
            TransactItems: [
              {
                Delete: {
                  TableName: this.tableName,
                  Key: { pk: profileKey(workspaceId, brazeId) },
                  ConditionExpression: 'attribute_exists(pk)',
                },
              },
              this.userCountUpdate(workspaceId, -1, now),
            ],
          }),
        );
        return;
      } catch (error: unknown) {
        if (conditionFailed(error)) return;
        if (!(error instanceof TransactionCanceledException) || attempt + 1 >= MAX_COUNT_ATTEMPTS) throw error;
        await backoff(attempt, 20, 1_000);
      }
    }
  }

  /** Re-points device index items (only those still owned by `from`) at an identified user. */
  private async pointDevicesAt(
    workspaceId: string,
    deviceIds: readonly string[],
    from: string,
    to: string,
  ): Promise<void> {
    for (const devices of chunk(deviceIds, 25)) {
      await Promise.all(
        devices.map((deviceId) =>
          this.write(
            () =>
              new UpdateCommand({
                TableName: this.tableName,
                Key: { pk: indexKey(workspaceId, { type: 'device_id', deviceId }) },
                UpdateExpression: 'SET brazeId = :to, #identified = :true',
                ConditionExpression: 'brazeId = :from',
                ExpressionAttributeNames: { '#identified': 'identified' },
                ExpressionAttributeValues: { ':to': to, ':from': from, ':true': true },
              }),
          ).catch((error: unknown) => {
            // The device was re-assigned since: it no longer belongs to this profile.
            if (!conditionFailed(error)) throw error;
          }),
        ),
      );
    }
  }
}
