/**
 * Workspaces table: workspaces, key grants (by key hash) and the partner registry.
 * Items (hash key `pk` only):
 *   WS#<workspaceId>     the workspace: name, enabled partners, hashes of its current keys,
 *                        `version` (each change of its partners is conditioned on the one it read)
 *   KEY#<key hash>       a grant: kind, workspaceId, expiresAt (a key rotated out with grace), and
 *                        the partners it had when written; auth takes the workspace's own list
 *                        (getPartnerAndKey), so a partner disabled reaches keys in their grace too
 *   PARTNER#<name>       a registered partner: hash of its partner API key, enabled
 * Key hashes are `v2:` + a peppered HMAC (lib/workspaces/keys.ts); items written before
 * peppers hold a plain SHA-256 until their key's next successful use moves them.
 *   RATE#<partner>#<ws>#<window start>  requests claimed by all ingest instances in an hourly window (TTL-deleted)
 */
import {
  BatchGetCommand,
  GetCommand,
  PutCommand,
  TransactWriteCommand,
  UpdateCommand,
  type DynamoDBDocumentClient,
} from '@aws-sdk/lib-dynamodb';
import { assertStrongKey, generateId, generateKey, graceEndsAt, keyHint, type KeyHasher } from '../workspaces/keys.js';
import { KNOWN_PARTNERS } from '../workspaces/partners.js';
import type { KeyInfo, WorkspaceSettingsStore } from '../workspaces/settings.js';
import type { CredentialStore, KeyGrant, KeyKind, PartnerRegistration, Workspace } from '../workspaces/types.js';
import type { ClaimResult, RequestCounter } from '../workspaces/rate-limit.js';
import { ConflictError } from '../errors.js';
import { optimistically } from './optimistic.js';
import { ConditionalCheckFailedException, TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';

const workspacePk = (workspaceId: string) => `WS#${workspaceId}`;
const keyPk = (keyHash: string) => `KEY#${keyHash}`;
const partnerPk = (partner: string) => `PARTNER#${partner}`;

interface WorkspaceItem extends Workspace {
  pk: string;
  /** Changes of the workspace's partners, counted: each is conditioned on the one it read (absent before the first). */
  version?: number;
  dataImportKeyHash: string;
  restKeyHash: string;
  /** What the console shows of each current key (lib/workspaces/keys.ts, keyHint) and when it was issued; absent on keys issued before. */
  dataImportKeyHint?: string;
  dataImportKeyCreatedAt?: string;
  restKeyHint?: string;
  restKeyCreatedAt?: string;
  /** Keys rotated out and still in their grace (absent: none, or rotated before this was kept). */
  dataImportKeysInGrace?: KeyInGrace[];
  restKeysInGrace?: KeyInGrace[];
}

const keyFields = (kind: KeyKind) =>
  kind === 'data_import'
    ? ({
        hash: 'dataImportKeyHash',
        hint: 'dataImportKeyHint',
        createdAt: 'dataImportKeyCreatedAt',
        grace: 'dataImportKeysInGrace',
      } as const)
    : ({ hash: 'restKeyHash', hint: 'restKeyHint', createdAt: 'restKeyCreatedAt', grace: 'restKeysInGrace' } as const);

/**
 * Keys of one kind kept working in their grace at once: an older one ends when a rotation
 * would keep more (each grace is at most 7 days; a key rotated five times in a week has
 * had time to reach whoever used it).
 */
export const MAX_GRACE_KEYS = 5;

/** A key rotated out with a grace, as the workspace remembers it: so that a rotation without grace can end it. */
interface KeyInGrace {
  hash: string;
  /** Epoch seconds. */
  expiresAt: number;
}

export interface CreatedWorkspace extends Workspace {
  dataImportKey: string;
  restApiKey: string;
}

export class DynamoWorkspaceStore implements CredentialStore, RequestCounter, WorkspaceSettingsStore {
  constructor(
    private readonly client: DynamoDBDocumentClient,
    private readonly tableName: string,
    readonly keyHasher: KeyHasher,
  ) {}

  async getPartnerAndKey(
    partner: string,
    keyHash: string,
  ): Promise<{ partner?: PartnerRegistration; grant?: KeyGrant }> {
    const response = await this.client.send(
      new BatchGetCommand({
        RequestItems: { [this.tableName]: { Keys: [{ pk: partnerPk(partner) }, { pk: keyPk(keyHash) }] } },
      }),
    );
    const unprocessed = response.UnprocessedKeys?.[this.tableName]?.Keys?.length ?? 0;
    if (unprocessed > 0) {
      // Two keys never exceed any limit; unprocessed here means throttling: read them singly.
      const [partnerItem, grant] = await Promise.all([this.getItem(partnerPk(partner)), this.getKey(keyHash)]);
      return {
        partner: partnerItem as PartnerRegistration | undefined,
        grant: await this.withWorkspacePartners(grant),
      };
    }
    const items = response.Responses?.[this.tableName] ?? [];
    const partnerItem = items.find((item) => item.pk === partnerPk(partner));
    const grantItem = items.find((item) => item.pk === keyPk(keyHash));
    return {
      partner: partnerItem as PartnerRegistration | undefined,
      grant: await this.withWorkspacePartners(grantItem as KeyGrant | undefined),
    };
  }

  /**
   * A data import key grants what its workspace enables now, not the copy the grant was
   * written with (a key in its grace period keeps the copy of its rotation): one revocation
   * model for every key. One more read per lookup that found a grant (ingest caches it).
   */
  private async withWorkspacePartners(grant: KeyGrant | undefined): Promise<KeyGrant | undefined> {
    if (grant?.kind !== 'data_import') return grant;
    const workspace = (await this.getItem(workspacePk(grant.workspaceId))) as WorkspaceItem | undefined;
    return workspace && { ...grant, partners: workspace.partners ?? [] };
  }

  async getKey(keyHash: string): Promise<KeyGrant | undefined> {
    return (await this.getItem(keyPk(keyHash))) as KeyGrant | undefined;
  }

  async getWorkspace(workspaceId: string): Promise<Workspace | undefined> {
    const item = (await this.getItem(workspacePk(workspaceId))) as WorkspaceItem | undefined;
    return (
      item && { workspaceId: item.workspaceId, name: item.name, partners: item.partners, createdAt: item.createdAt }
    );
  }

  async getPartner(partner: string): Promise<PartnerRegistration | undefined> {
    const item = await this.getItem(partnerPk(partner));
    return item && { partner: item.partner as string, keyHash: item.keyHash as string, enabled: item.enabled === true };
  }

  /** The partner registry: every known partner that is registered (one read). */
  async listPartners(): Promise<PartnerRegistration[]> {
    const response = await this.client.send(
      new BatchGetCommand({
        RequestItems: { [this.tableName]: { Keys: KNOWN_PARTNERS.map((partner) => ({ pk: partnerPk(partner) })) } },
      }),
    );
    let items = response.Responses?.[this.tableName] ?? [];
    // A handful of keys is under every limit: anything unprocessed was throttled, so read those singly.
    const unprocessed = (response.UnprocessedKeys?.[this.tableName]?.Keys ?? []) as { pk: string }[];
    for (const key of unprocessed) {
      const item = await this.getItem(key.pk);
      if (item) items = [...items, item];
    }
    return items.map((item) => ({
      partner: item.partner as string,
      keyHash: item.keyHash as string,
      enabled: item.enabled === true,
    }));
  }

  /** What may be shown of a workspace's current key of a kind: its hint and when it was issued (never the key or its hash). */
  async getKeyInfo(workspaceId: string, kind: KeyKind): Promise<KeyInfo | undefined> {
    const item = (await this.getItem(workspacePk(workspaceId))) as WorkspaceItem | undefined;
    if (!item) return undefined;
    const fields = keyFields(kind);
    return { kind, hint: item[fields.hint], createdAt: item[fields.createdAt] };
  }

  /**
   * Registers (or re-keys) a partner; returns its new partner API key unless one is given.
   * Re-keying cuts the partner's current key off at once: `registerPartnerIfAbsent` never does.
   */
  async registerPartner(partner: string, options: { partnerApiKey?: string; enabled?: boolean } = {}): Promise<string> {
    const partnerApiKey = options.partnerApiKey ?? generateKey();
    await this.client.send(
      new PutCommand({
        TableName: this.tableName,
        Item: await this.partnerItem(partner, partnerApiKey, options.enabled),
      }),
    );
    return partnerApiKey;
  }

  /**
   * Registers a partner unless it already is (one conditional write, so two concurrent
   * deploy steps cannot both issue a key): then the registration is returned, key untouched.
   */
  async registerPartnerIfAbsent(
    partner: string,
    options: { partnerApiKey?: string; enabled?: boolean } = {},
  ): Promise<{ partnerApiKey: string } | { existing: PartnerRegistration }> {
    const partnerApiKey = options.partnerApiKey ?? generateKey();
    try {
      await this.client.send(
        new PutCommand({
          TableName: this.tableName,
          Item: await this.partnerItem(partner, partnerApiKey, options.enabled),
          ConditionExpression: 'attribute_not_exists(pk)',
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        }),
      );
      return { partnerApiKey };
    } catch (error: unknown) {
      if (!(error instanceof ConditionalCheckFailedException) || !error.Item) throw error;
      // The document client does not unmarshall an error's item: it is in DynamoDB's own format.
      const item = unmarshall(error.Item);
      return { existing: { partner, keyHash: item.keyHash as string, enabled: item.enabled === true } };
    }
  }

  async setPartnerEnabled(partner: string, enabled: boolean): Promise<void> {
    await this.client.send(
      new UpdateCommand({
        TableName: this.tableName,
        Key: { pk: partnerPk(partner) },
        UpdateExpression: 'SET enabled = :enabled',
        ConditionExpression: 'attribute_exists(pk)',
        ExpressionAttributeValues: { ':enabled': enabled },
      }),
    );
  }

  async createWorkspace(input: {
    name: string;
    partners: string[];
    workspaceId?: string;
    dataImportKey?: string;
    restApiKey?: string;
  }): Promise<CreatedWorkspace> {
    const workspace: Workspace = {
      workspaceId: input.workspaceId ?? generateId(),
      name: input.name,
      partners: [...new Set(input.partners)],
      createdAt: new Date().toISOString(),
    };
    const dataImportKey =
      input.dataImportKey === undefined ? generateKey() : assertStrongKey(input.dataImportKey, 'data import key');
    const restApiKey =
      input.restApiKey === undefined ? generateKey() : assertStrongKey(input.restApiKey, 'REST API key');
    const item: WorkspaceItem = {
      pk: workspacePk(workspace.workspaceId),
      ...workspace,
      dataImportKeyHash: await this.keyHasher.hash(dataImportKey),
      restKeyHash: await this.keyHasher.hash(restApiKey),
      dataImportKeyHint: keyHint(dataImportKey),
      dataImportKeyCreatedAt: workspace.createdAt,
      restKeyHint: keyHint(restApiKey),
      restKeyCreatedAt: workspace.createdAt,
    };
    await this.client.send(
      new TransactWriteCommand({
        TransactItems: [
          { Put: { TableName: this.tableName, Item: item, ConditionExpression: 'attribute_not_exists(pk)' } },
          {
            Put: {
              TableName: this.tableName,
              Item: this.grantItem(item.dataImportKeyHash, 'data_import', workspace),
              ConditionExpression: 'attribute_not_exists(pk)',
            },
          },
          {
            Put: {
              TableName: this.tableName,
              Item: this.grantItem(item.restKeyHash, 'rest', workspace),
              ConditionExpression: 'attribute_not_exists(pk)',
            },
          },
        ],
      }),
    );
    return { ...workspace, dataImportKey, restApiKey };
  }

  /**
   * Changes a workspace's partners (and the current grant's copy) by `change` of the list as
   * read, conditioned on the version read: concurrent changes are applied one after another
   * (a loser reads again and re-applies its change), and after CHANGE_ATTEMPTS lost races
   * the caller gets a ConflictError (409). Never a lost update.
   */
  async changeWorkspacePartners(
    workspaceId: string,
    change: (partners: readonly string[]) => string[],
  ): Promise<Workspace> {
    return optimistically<Workspace>(
      {
        rounds: CHANGE_ATTEMPTS,
        baseMs: 20,
        capMs: 500,
        exhausted: () =>
          new ConflictError('The workspace was changed by another request at the same time: read it again and retry'),
      },
      async () => {
        const item = await this.requireWorkspaceItem(workspaceId, true);
        const partners = [...new Set(change(item.partners ?? []))];
        const version = item.version ?? 0;
        try {
          await this.client.send(
            new TransactWriteCommand({
              TransactItems: [
                {
                  Update: {
                    TableName: this.tableName,
                    Key: { pk: item.pk },
                    UpdateExpression: 'SET partners = :partners, version = :next',
                    ConditionExpression:
                      item.version === undefined ? 'attribute_not_exists(version)' : 'version = :version',
                    ExpressionAttributeValues: {
                      ':partners': partners,
                      ':next': version + 1,
                      ...(item.version === undefined ? {} : { ':version': version }),
                    },
                  },
                },
                {
                  Update: {
                    TableName: this.tableName,
                    Key: { pk: keyPk(item.dataImportKeyHash) },
                    UpdateExpression: 'SET partners = :partners',
                    ConditionExpression: 'attribute_exists(pk)',
                    ExpressionAttributeValues: { ':partners': partners },
                  },
                },
              ],
            }),
          );
          return { done: { workspaceId, name: item.name, partners, createdAt: item.createdAt } };
        } catch (error: unknown) {
          // Another change (of the partners, or a rotation of the key) came first: read again.
          if (!isRaceLost(error)) throw error;
          return 'lost';
        }
      },
    );
  }

  /**
   * Issues a new key of one kind. The old key keeps working for `graceSeconds`
   * (0: it stops at once), so a partner can be re-configured without a gap.
   */
  async rotateKey(workspaceId: string, kind: KeyKind, graceSeconds = 0, now: Date = new Date()): Promise<string> {
    const item = await this.requireWorkspaceItem(workspaceId);
    const newKey = generateKey();
    const newHash = await this.keyHasher.hash(newKey);
    const fields = keyFields(kind);
    const hashField = fields.hash;
    const oldHash = item[hashField];
    const expiresAt = graceEndsAt(now, graceSeconds);
    // Keys rotated out earlier and still in their grace. A rotation without grace (a key that
    // leaked) ends all of them too; one with grace adds the current key, and past
    // MAX_GRACE_KEYS the oldest ends now.
    const nowSeconds = Math.floor(now.getTime() / 1000);
    const inGrace = (item[fields.grace] ?? []).filter((key) => key.expiresAt > nowSeconds);
    const kept = graceSeconds > 0 ? [...inGrace, { hash: oldHash, expiresAt }] : [];
    const ended = graceSeconds > 0 ? kept.slice(0, Math.max(0, kept.length - MAX_GRACE_KEYS)) : inGrace;
    const stillInGrace = kept.slice(ended.length);
    await this.client
      .send(
        new TransactWriteCommand({
          TransactItems: [
            {
              Update: {
                TableName: this.tableName,
                Key: { pk: item.pk },
                UpdateExpression: `SET ${hashField} = :new, ${fields.hint} = :hint, ${fields.createdAt} = :createdAt, ${fields.grace} = :grace`,
                ConditionExpression: `${hashField} = :old`,
                ExpressionAttributeValues: {
                  ':new': newHash,
                  ':old': oldHash,
                  ':hint': keyHint(newKey),
                  ':createdAt': now.toISOString(),
                  ':grace': stillInGrace,
                },
              },
            },
            {
              Put: {
                TableName: this.tableName,
                Item: this.grantItem(newHash, kind, item),
                ConditionExpression: 'attribute_not_exists(pk)',
              },
            },
            graceSeconds > 0
              ? {
                  Update: {
                    TableName: this.tableName,
                    Key: { pk: keyPk(oldHash) },
                    // `ttl` lets DynamoDB delete the expired grant; `expiresAt` is what auth checks.
                    UpdateExpression: 'SET expiresAt = :expiresAt, #ttl = :expiresAt',
                    ExpressionAttributeNames: { '#ttl': 'ttl' },
                    ExpressionAttributeValues: { ':expiresAt': expiresAt },
                  },
                }
              : { Delete: { TableName: this.tableName, Key: { pk: keyPk(oldHash) } } },
            ...ended
              .filter((key) => key.hash !== oldHash)
              .map((key) => ({ Delete: { TableName: this.tableName, Key: { pk: keyPk(key.hash) } } })),
          ],
        }),
      )
      .catch((error: unknown) => {
        // Another rotation (or a change of the partners) came between the read and the write: nothing was written.
        if (isRaceLost(error))
          throw new ConflictError(
            `Another change of this workspace's ${kind === 'data_import' ? 'data import' : 'REST API'} key came at the same time: read the key's status and retry`,
          );
        throw error;
      });
    return newKey;
  }

  /**
   * One transaction: the grant is written under its new hash and deleted under the old,
   * and, for a workspace's current key, the workspace's record of it follows. Each part
   * is conditioned on what was read, so a concurrent upgrade (another instance), rotation
   * or revocation cancels it, and that outcome is final: what is current is found next time.
   */
  async upgradeKeyHash(legacyHash: string, keyHash: string, grant: KeyGrant): Promise<void> {
    const old = (await this.getItem(keyPk(legacyHash))) as (KeyGrant & { pk: string }) | undefined;
    if (!old) return;
    const { pk: _pk, ...fields } = old;
    const hashField = grant.kind === 'data_import' ? 'dataImportKeyHash' : 'restKeyHash';
    try {
      await this.client.send(
        new TransactWriteCommand({
          TransactItems: [
            {
              Put: {
                TableName: this.tableName,
                Item: { pk: keyPk(keyHash), ...fields },
                ConditionExpression: 'attribute_not_exists(pk)',
              },
            },
            {
              Delete: {
                TableName: this.tableName,
                Key: { pk: keyPk(legacyHash) },
                ConditionExpression: 'attribute_exists(pk)',
              },
            },
            // A key in its grace period is no longer the workspace's current one: only its grant moves.
            ...(old.expiresAt === undefined
              ? [
                  {
                    Update: {
                      TableName: this.tableName,
                      Key: { pk: workspacePk(old.workspaceId) },
                      UpdateExpression: `SET ${hashField} = :new`,
                      ConditionExpression: `${hashField} = :old`,
                      ExpressionAttributeValues: { ':new': keyHash, ':old': legacyHash },
                    },
                  },
                ]
              : []),
          ],
        }),
      );
    } catch (error: unknown) {
      if (!isConditionCancellation(error)) throw error;
    }
  }

  async upgradePartnerKeyHash(partner: string, legacyHash: string, keyHash: string): Promise<void> {
    try {
      await this.client.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { pk: partnerPk(partner) },
          UpdateExpression: 'SET keyHash = :new',
          ConditionExpression: 'keyHash = :old',
          ExpressionAttributeValues: { ':new': keyHash, ':old': legacyHash },
        }),
      );
    } catch (error: unknown) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
    }
  }

  /**
   * Claims `block` requests of a window in one conditional update. When the block does not
   * fit, the failed condition returns the item (ReturnValuesOnConditionCheckFailure), so the
   * caller learns the count without another read.
   */
  async claimRequests(
    key: string,
    windowStart: number,
    block: number,
    limit: number,
    expiresAt: number,
  ): Promise<ClaimResult> {
    const pk = `RATE#${key}#${windowStart}`;
    try {
      const response = await this.client.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { pk },
          UpdateExpression: 'ADD requests :block SET #ttl = :expiresAt',
          ConditionExpression: 'attribute_not_exists(requests) OR requests <= :room',
          ExpressionAttributeNames: { '#ttl': 'ttl' },
          ExpressionAttributeValues: { ':block': block, ':room': limit - block, ':expiresAt': expiresAt },
          ReturnValues: 'UPDATED_NEW',
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        }),
      );
      return { claimed: true, count: Number(response.Attributes?.requests) };
    } catch (error: unknown) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
      // The document client does not unmarshall an error's item: it is in DynamoDB's own format.
      const counted = error.Item?.requests?.N;
      if (counted !== undefined) return { claimed: false, count: Number(counted) };
      const item = await this.client.send(
        new GetCommand({ TableName: this.tableName, Key: { pk }, ConsistentRead: true }),
      );
      return { claimed: false, count: Number(item.Item?.requests ?? 0) };
    }
  }

  private async requireWorkspaceItem(workspaceId: string, consistent = false): Promise<WorkspaceItem> {
    const item = (await this.getItem(workspacePk(workspaceId), consistent)) as WorkspaceItem | undefined;
    if (!item) throw new Error(`No workspace ${workspaceId}`);
    return item;
  }

  /** A partner's item; a key the caller chose must be as strong as a generated one. */
  private async partnerItem(partner: string, partnerApiKey: string, enabled = true) {
    assertStrongKey(partnerApiKey, 'partner API key');
    return { pk: partnerPk(partner), partner, keyHash: await this.keyHasher.hash(partnerApiKey), enabled };
  }

  private grantItem(keyHash: string, kind: KeyKind, workspace: Workspace) {
    return { pk: keyPk(keyHash), kind, workspaceId: workspace.workspaceId, partners: workspace.partners };
  }

  private async getItem(pk: string, consistent = false): Promise<Record<string, unknown> | undefined> {
    const response = await this.client.send(
      new GetCommand({ TableName: this.tableName, Key: { pk }, ...(consistent ? { ConsistentRead: true } : {}) }),
    );
    return response.Item;
  }
}

/** How many times a change of a workspace reads again after losing a race before it answers 409. */
const CHANGE_ATTEMPTS = 5;

/** A transaction that lost to a concurrent writer: a condition failed, or another transaction held an item. */
const isRaceLost = (error: unknown): boolean =>
  error instanceof TransactionCanceledException &&
  (error.CancellationReasons ?? []).some(
    (reason) => reason.Code === 'ConditionalCheckFailed' || reason.Code === 'TransactionConflict',
  );

/** A transaction cancelled because a condition failed (not by load: that is worth retrying, and is thrown). */
const isConditionCancellation = (error: unknown): boolean =>
  error instanceof TransactionCanceledException &&
  (error.CancellationReasons ?? []).some((reason) => reason.Code === 'ConditionalCheckFailed');
