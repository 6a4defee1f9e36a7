/**
 * How a request's membership changes are cut into transactions (lib/dynamodb/membership-store.ts),
 * on DynamoDB Local: in braze_id order, each transaction's registers sit in a few neighbouring
 * shards, not in nearly all 32, so one throttled shard holds back few transactions (AWS cancels
 * a transaction whole when one item is throttled); the count stays exact. And under AWS's
 * limits (the model, lib/local/aws-limits.ts), the transactions in flight adapt to what the
 * table absorbs.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '../../lib/local/constants.js';
import type { LocalStack } from '../../lib/local/stack.js';
import { DynamoMembershipStore, TRANSACTION_LOAD } from '../../lib/dynamodb/membership-store.js';
import { AdaptiveLimit } from '../../lib/concurrency.js';
import { applyAwsLimits, tableShapes } from '../../lib/local/aws-limits.js';
import { startTestStack } from '../support/stack.js';

let stack: LocalStack;
beforeAll(async () => {
  stack = await startTestStack({ poll: false });
});
afterAll(() => stack?.stop());

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

    // Assess: 11 transactions of ≤ 99 registers; 32 shards over 1,000 users is ~31 users a
    // shard, so 99 neighbours span 4 or 5 shards (in request order they spanned ~30).
    expect(outcome.added).toBe(1_000);
    expect(shardsPerTransaction.length).toBeGreaterThanOrEqual(11);
    expect(Math.max(...shardsPerTransaction)).toBeLessThanOrEqual(6);
    expect((await store.getCohort(cohort))?.memberCount).toBe(1_000);
  });

  it('send fewer transactions at once when DynamoDB throttles, and every count stays exact', async () => {
    // Prepare: AWS's limits ÷ 20 (a table quota of 2,000 write units a second, 50 a partition). Three requests
    // of 1,000 changes on three cohorts through one store (one sync process): their first
    // transactions (~200 units each) need more than the quota and the shards give, so DynamoDB
    // throttles by arithmetic, not by chance.
    const client = new DynamoDBClient({
      region: LOCAL_REGION,
      credentials: LOCAL_CREDENTIALS,
      endpoint: stack.dynamoDbEndpoint,
    });
    const limits = applyAwsLimits(client, { tables: tableShapes(stack.tables), scale: 20 });
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
