/**
 * Read–decide–conditional-write, written once (lib/dynamodb/optimistic.ts), on DynamoDB Local:
 * concurrent writers to one item lose no update; a writer out of rounds fails with the error
 * its caller chose, having written nothing; a decision without an item writes nothing.
 */
import { randomBytes } from 'node:crypto';
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalStack } from '../../local/stack.js';
import { versionedPut } from '../../lib/dynamodb/optimistic.js';
import { startTestStack } from '../support/stack.js';

let stack: LocalStack;
beforeAll(async () => {
  stack = await startTestStack({ poll: false });
}, 120_000);
afterAll(() => stack?.stop());

const counter = () => ({ pk: `optimistic-${randomBytes(6).toString('hex')}`, sk: 'counter' });
const read = async (key: Record<string, unknown>) =>
  (
    await stack.clients.documents.send(
      new GetCommand({ TableName: stack.tables.cohorts, Key: key, ConsistentRead: true }),
    )
  ).Item;
const increment = (key: Record<string, unknown>, rounds: number) =>
  versionedPut(
    stack.clients.documents,
    stack.tables.cohorts,
    key,
    { rounds, baseMs: 1, capMs: 20, exhausted: () => new Error('out of rounds') },
    (current) => {
      const value = Number(current?.value ?? 0) + 1;
      return { answer: value, item: { value } };
    },
  );

describe('versionedPut', () => {
  it('loses no update among 24 concurrent writers', async () => {
    const key = counter();

    const answers = await Promise.all(Array.from({ length: 24 }, () => increment(key, 200)));

    expect(answers.sort((a, b) => a - b)).toEqual(Array.from({ length: 24 }, (_, index) => index + 1));
    expect(await read(key)).toMatchObject({ value: 24, version: 24 });
  });

  it("fails a writer out of rounds with its caller's error, and counts only the writes that landed", async () => {
    const key = counter();

    const outcomes = await Promise.allSettled(Array.from({ length: 12 }, () => increment(key, 1)));

    const landed = outcomes.filter((outcome) => outcome.status === 'fulfilled').length;
    const refused = outcomes.filter((outcome) => outcome.status === 'rejected');
    expect(landed).toBeGreaterThanOrEqual(1);
    for (const outcome of refused)
      expect((outcome as PromiseRejectedResult).reason).toEqual(new Error('out of rounds'));
    expect(await read(key)).toMatchObject({ value: landed, version: landed });
  });

  it('writes nothing for a decision without an item', async () => {
    const key = counter();

    const answer = await versionedPut(
      stack.clients.documents,
      stack.tables.cohorts,
      key,
      { rounds: 3, baseMs: 1, capMs: 20, exhausted: () => new Error('out of rounds') },
      () => ({ answer: 'nothing to do' }),
    );

    expect(answer).toBe('nothing to do');
    expect(await read(key)).toBeUndefined();
  });
});
