/**
 * How a request's membership changes are cut into transactions (lib/dynamodb/membership-store.ts),
 * on DynamoDB Local: in braze_id order, each transaction's registers sit in a few neighbouring
 * shards, not in nearly all 64, so one throttled shard holds back few transactions (AWS cancels
 * a transaction whole when one item is throttled); the count stays exact. And under AWS's
 * limits (the model, local/aws-limits.ts), the transactions in flight adapt to what the
 * table absorbs.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '../../local/constants.js';
import type { LocalStack } from '../../local/stack.js';
import {
  cohortKey,
  DynamoMembershipStore,
  laneSortKey,
  memberSortKey,
  registerKey,
  TRANSACTION_LOAD,
} from '../../lib/dynamodb/membership-store.js';
import { DynamoMembershipReader } from '../../lib/dynamodb/campaign-store.js';
import { registerShardOf } from '../../lib/dynamodb/shards.js';
import { membershipKey } from '../../lib/campaigns/audience.js';
import { AdaptiveLimit } from '../../lib/concurrency.js';
import { applyAwsLimits, tableShapes } from '../../local/aws-limits.js';
import { startTestStack } from '../support/stack.js';

let stack: LocalStack;
beforeAll(async () => {
  stack = await startTestStack({ poll: false });
});
afterAll(() => stack?.stop());

describe('register shards per cohort', () => {
  it('gives a new cohort 64, whether its first request names it or changes it, and keeps a cohort first seen with 32 on 32', async () => {
    // Prepare: a cohort as the version with 32 shards left it (its item has no registerShards;
    // registers under 32 shard keys, a member in shard 31 and a removed one), and two new ones.
    const workspaceId = `layout-${randomBytes(4).toString('hex')}`;
    const legacy = { workspaceId, partner: 'heap', cohortId: 'legacy' };
    const member = `fc${randomBytes(11).toString('hex')}`;
    const gone = `01${randomBytes(11).toString('hex')}`;
    const at = new Date().toISOString();
    const register = (brazeId: string, isMember: boolean) => ({
      pk: registerKey(legacy, registerShardOf(brazeId, 32)),
      sk: memberSortKey(brazeId),
      brazeId,
      member: isMember,
      orderKey: '0001',
      effect: isMember ? 'added' : 'removed',
      updatedAt: at,
    });
    for (const Item of [
      {
        pk: `${workspaceId}#COHORTS`,
        sk: 'heap#legacy',
        partner: 'heap',
        cohortId: 'legacy',
        name: 'Legacy',
        firstSeenAt: at,
      },
      register(member, true),
      register(gone, false),
      { pk: cohortKey(legacy), sk: laneSortKey(0), members: 1 },
    ])
      await stack.clients.documents.send(new PutCommand({ TableName: stack.tables.cohorts, Item }));
    const store = new DynamoMembershipStore(stack.clients.documents, stack.tables.cohorts);
    const named = { workspaceId, partner: 'heap', cohortId: 'named-first' };
    const changed = { workspaceId, partner: 'heap', cohortId: 'changed-first' };
    const newcomer = `fd${randomBytes(11).toString('hex')}`;

    // Act: the legacy cohort takes a new member and loses its old one, exactly; the others are new.
    const outcome = await store.applyMemberships(
      legacy,
      [
        { brazeId: newcomer, member: true, orderKey: '0002' },
        { brazeId: member, member: false, orderKey: '0002' },
        { brazeId: gone, member: false, orderKey: '0002' },
      ],
      new Date(),
    );
    await store.nameCohort(named, { name: 'Named', createdAt: at, orderKey: '0001', acceptedAt: at }, new Date());
    await store.applyMemberships(named, [{ brazeId: member, member: true, orderKey: '0002' }], new Date());
    await store.applyMemberships(changed, [{ brazeId: member, member: true, orderKey: '0001' }], new Date());
    const members = async (cohort: typeof legacy) => {
      const found: string[] = [];
      for await (const brazeId of store.cohortMembers(cohort)) found.push(brazeId);
      return found;
    };
    const item = async (cohortId: string) =>
      (
        await stack.clients.documents.send(
          new GetCommand({
            TableName: stack.tables.cohorts,
            Key: { pk: `${workspaceId}#COHORTS`, sk: `heap#${cohortId}` },
          }),
        )
      ).Item;

    // Assess: the legacy cohort stays on 32 keys (the newcomer's register is in shard 31 of 32, not 63 of 64).
    expect(outcome).toMatchObject({ added: 1, removed: 1, alreadyInState: 1 });
    expect((await item('legacy'))?.registerShards).toBeUndefined();
    expect(await members(legacy)).toEqual([newcomer]);
    expect((await store.getCohort(legacy))?.memberCount).toBe(1);
    expect(
      (
        await stack.clients.documents.send(
          new GetCommand({
            TableName: stack.tables.cohorts,
            Key: { pk: registerKey(legacy, 31), sk: memberSortKey(newcomer) },
          }),
        )
      ).Item?.member,
    ).toBe(true);
    expect((await item('named-first'))?.registerShards).toBe(64);
    expect((await item('named-first'))?.name).toBe('Named');
    expect((await item('changed-first'))?.registerShards).toBe(64);
    expect(await members(named)).toEqual([member]);
    // A user's cohorts, a campaign's membership check and a merge read each cohort on its own layout.
    expect((await store.cohortsOfUser(workspaceId, newcomer)).map((ref) => ref.cohortId)).toEqual(['legacy']);
    expect((await store.cohortsOfUser(workspaceId, member)).map((ref) => ref.cohortId).sort()).toEqual([
      'changed-first',
      'named-first',
    ]);
    const reader = new DynamoMembershipReader(stack.clients.documents, stack.tables.cohorts);
    const checked = await reader.memberOf(workspaceId, newcomer, [
      { partner: 'heap', cohortId: 'legacy' },
      { partner: 'heap', cohortId: 'named-first' },
    ]);
    expect([...checked]).toEqual([membershipKey('heap', 'legacy')]);
    expect(await store.endMembership(legacy, newcomer, 'merge', new Date())).toBe(true);
    expect((await store.getCohort(legacy))?.memberCount).toBe(0);
  });
});

describe('membership transactions', () => {
  it('span a few neighbouring shards each (in braze_id order), and the count is exact', async () => {
    // Prepare: 1,000 users in random order, on a client that records each transaction's register shards.
    const brazeIds = Array.from({ length: 1_000 }, () => randomBytes(12).toString('hex'));
    const shardsPerTransaction: number[] = [];
    const client = new DynamoDBClient({
      region: LOCAL_REGION,
      credentials: LOCAL_CREDENTIALS,
      endpoint: stack.dynamoDbEndpoint,
    });
    client.middlewareStack.add(
      (next, context) => async (args) => {
        if (context.commandName === 'TransactWriteItemsCommand') {
          const items = (args.input as { TransactItems: { Put?: { Item: Record<string, { S?: string }> } }[] })
            .TransactItems;
          const shards = new Set(
            items.flatMap((item) => {
              const pk = item.Put?.Item.pk?.S ?? '';
              const shard = /#M(\d\d)#/.exec(pk)?.[1];
              return shard === undefined ? [] : [shard];
            }),
          );
          shardsPerTransaction.push(shards.size);
        }
        return next(args);
      },
      { step: 'serialize', priority: 'low', name: 'recordShards' },
    );
    const store = new DynamoMembershipStore(DynamoDBDocumentClient.from(client), stack.tables.cohorts);
    const cohort = { workspaceId: `writes-${randomBytes(4).toString('hex')}`, partner: 'heap', cohortId: 'big' };

    // Act
    const outcome = await store.applyMemberships(
      cohort,
      brazeIds.map((brazeId) => ({ brazeId, member: true, orderKey: '0001' })),
      new Date(),
    );

    // Assess: 11 transactions of ≤ 99 registers; 64 shards over 1,000 users is ~16 users a
    // shard, so 99 neighbours span 7 or 8 shards (in request order they spanned ~50).
    expect(outcome.added).toBe(1_000);
    expect(shardsPerTransaction.length).toBeGreaterThanOrEqual(11);
    expect(Math.max(...shardsPerTransaction)).toBeLessThanOrEqual(11);
    expect((await store.getCohort(cohort))?.memberCount).toBe(1_000);
  });

  it('send fewer transactions at once when DynamoDB throttles, and every count stays exact', async () => {
    // Prepare: AWS's limits ÷ 40 (a table quota of 1,000 write units a second, 25 a partition). Three requests
    // of 1,000 changes on three cohorts through one store (one sync process): their first
    // transactions (~200 units each, ~32 on each of their shards) need more than the quota and
    // the shards give, so DynamoDB throttles by arithmetic, not by chance.
    const client = new DynamoDBClient({
      region: LOCAL_REGION,
      credentials: LOCAL_CREDENTIALS,
      endpoint: stack.dynamoDbEndpoint,
    });
    const limits = applyAwsLimits(client, { tables: tableShapes(stack.tables), scale: 40 });
    const store = new DynamoMembershipStore(DynamoDBDocumentClient.from(client), stack.tables.cohorts);
    const workspaceId = `throttled-${randomBytes(4).toString('hex')}`;
    const cohorts = ['a', 'b', 'c'].map((cohortId) => ({ workspaceId, partner: 'heap', cohortId }));

    // Act
    const outcomes = await Promise.all(
      cohorts.map((cohort) =>
        store.applyMemberships(
          cohort,
          Array.from({ length: 1_000 }, () => ({
            brazeId: randomBytes(12).toString('hex'),
            member: true,
            orderKey: '0001',
          })),
          new Date(),
        ),
      ),
    );

    // Assess: throttled, the limit was cut below where it started (and only by throttling);
    // nothing lost or counted twice.
    const load = store.transactionLoad();
    expect(limits.stats().outcomes.throttled).toBeGreaterThan(0);
    expect(load.overloads).toBeGreaterThan(0);
    expect(load.decreases).toBeGreaterThan(0);
    expect(load.decreases).toBeLessThanOrEqual(load.overloads);
    expect(load.lowest).toBeLessThan(TRANSACTION_LOAD.initial);
    for (const [index, cohort] of cohorts.entries()) {
      expect(outcomes[index]!.added).toBe(1_000);
      expect((await store.getCohort(cohort))?.memberCount).toBe(1_000);
    }
  }, 120_000);

  it('count a transaction once when DynamoDB answers a server error after applying it (or before)', async () => {
    // Prepare: the first two transactions answer InternalServerError (HTTP 500, as DynamoDB
    // Local does when a lock wait times out under load): the first after DynamoDB applied it,
    // the second without sending it. Either way the caller cannot tell whether it was written.
    const client = new DynamoDBClient({
      region: LOCAL_REGION,
      credentials: LOCAL_CREDENTIALS,
      endpoint: stack.dynamoDbEndpoint,
    });
    let transactions = 0;
    const serverError = () =>
      Object.assign(new Error('This action timed out because it too long waiting for a lock.'), {
        name: 'InternalServerError',
        $fault: 'server',
        $metadata: { httpStatusCode: 500 },
      });
    client.middlewareStack.add(
      (next, context) => async (args) => {
        if (context.commandName !== 'TransactWriteItemsCommand') return next(args);
        transactions += 1;
        if (transactions === 1) {
          await next(args);
          throw serverError();
        }
        if (transactions === 2) throw serverError();
        return next(args);
      },
      { step: 'initialize', name: 'serverErrors' },
    );
    const store = new DynamoMembershipStore(DynamoDBDocumentClient.from(client), stack.tables.cohorts);
    const cohort = { workspaceId: `errors-${randomBytes(4).toString('hex')}`, partner: 'heap', cohortId: 'c' };
    const brazeIds = Array.from({ length: 300 }, () => randomBytes(12).toString('hex'));

    // Act
    const outcome = await store.applyMemberships(
      cohort,
      brazeIds.map((brazeId) => ({ brazeId, member: true, orderKey: '0001' })),
      new Date(),
    );

    // Assess: every user added once, the count exact (the applied transaction not counted twice).
    expect(transactions).toBeGreaterThan(4);
    expect(outcome.added + outcome.alreadyInState).toBe(300);
    expect((await store.getCohort(cohort))?.memberCount).toBe(300);
    const members: string[] = [];
    for await (const member of store.cohortMembers(cohort)) members.push(member);
    expect(members).toEqual([...brazeIds].sort());
  });

  it('decide again when a merge ends a membership between the read and the write: the count stays the sum of members', async () => {
    // Prepare: two members of a cohort; a sync re-adds them with a newer stamp (no flip, as
    // decided from its read), and a merge ends one of them after that read and before the
    // sync's transaction (endRegister keeps the stamp). Interleaved by a middleware, so the race
    // happens every time (found by hand on npm start: counts of -1 and -4 after identify-merges
    // racing re-syncs).
    const client = new DynamoDBClient({
      region: LOCAL_REGION,
      credentials: LOCAL_CREDENTIALS,
      endpoint: stack.dynamoDbEndpoint,
    });
    const merger = new DynamoMembershipStore(stack.clients.documents, stack.tables.cohorts);
    const cohort = { workspaceId: `merge-race-${randomBytes(4).toString('hex')}`, partner: 'heap', cohortId: 'c' };
    const [merged, kept] = [`a${randomBytes(11).toString('hex')}0`, `b${randomBytes(11).toString('hex')}0`];
    await merger.applyMemberships(
      cohort,
      [merged, kept].map((brazeId) => ({ brazeId, member: true, orderKey: '0001' })),
      new Date(),
    );
    let interleaved = 0;
    client.middlewareStack.add(
      (next, context) => async (args) => {
        if (context.commandName === 'TransactWriteItemsCommand' && interleaved === 0) {
          interleaved += 1;
          await merger.endMembership(cohort, merged, 'merge', new Date());
        }
        return next(args);
      },
      { step: 'initialize', name: 'mergeBetweenReadAndWrite' },
    );
    const sync = new DynamoMembershipStore(DynamoDBDocumentClient.from(client), stack.tables.cohorts);

    // Act
    await sync.applyMemberships(
      cohort,
      [merged, kept].map((brazeId) => ({ brazeId, member: true, orderKey: '0002' })),
      new Date(),
    );

    // Assess: the merge happened in the middle; whatever the sync then decided, the count is
    // the number of registers that say member, in the list and on the cohort.
    expect(interleaved).toBe(1);
    const members: string[] = [];
    for await (const member of sync.cohortMembers(cohort)) members.push(member);
    expect((await sync.getCohort(cohort))?.memberCount).toBe(members.length);
    const listed = await sync.listCohorts(cohort.workspaceId, { limit: 10 });
    expect(listed.cohorts.map((item) => item.memberCount)).toEqual([members.length]);
    expect(members).toContain(kept);
  });

  it('stop when the work is given up: nothing written after the signal aborts, waiting transactions leave the queue', async () => {
    // Prepare: transactions one at a time (a limit of 1), and the signal aborts when the first
    // one has been applied, as the sync's deadline aborts a record's work (functions/sync/app.ts).
    const client = new DynamoDBClient({
      region: LOCAL_REGION,
      credentials: LOCAL_CREDENTIALS,
      endpoint: stack.dynamoDbEndpoint,
    });
    const givenUp = new AbortController();
    let transactions = 0;
    client.middlewareStack.add(
      (next, context) => async (args) => {
        const result = await next(args);
        if (context.commandName === 'TransactWriteItemsCommand') {
          transactions += 1;
          givenUp.abort(new Error('out of time: given up'));
        }
        return result;
      },
      { step: 'initialize', name: 'giveUp' },
    );
    const store = new DynamoMembershipStore(
      DynamoDBDocumentClient.from(client),
      stack.tables.cohorts,
      new AdaptiveLimit({ initial: 1, min: 1, max: 1 }),
    );
    const cohort = { workspaceId: `given-up-${randomBytes(4).toString('hex')}`, partner: 'heap', cohortId: 'c' };
    const desired = Array.from({ length: 300 }, () => ({
      brazeId: randomBytes(12).toString('hex'),
      member: true,
      orderKey: '0001',
    }));

    // Act
    const apply = store.applyMemberships(cohort, desired, new Date(), { signal: givenUp.signal });

    // Assess: the first transaction (99 users) is written and counted; the other three never start.
    await expect(apply).rejects.toThrow('out of time: given up');
    expect(transactions).toBe(1);
    expect((await store.getCohort(cohort))?.memberCount).toBe(99);
    const members: string[] = [];
    for await (const member of store.cohortMembers(cohort)) members.push(member);
    expect(members).toHaveLength(99);

    // And work given up before it starts writes nothing at all, not even the cohort's entry.
    const other = { ...cohort, cohortId: 'never' };
    await expect(store.applyMemberships(other, desired, new Date(), { signal: givenUp.signal })).rejects.toThrow(
      'out of time: given up',
    );
    expect(await store.getCohort(other)).toBeUndefined();
  });
});
