/**
 * Hostile conditions against the real local endpoints: the function dying after some
 * writes, DynamoDB throttling and partial reads and transaction conflicts, and a DLQ
 * redrive of an old change. The store must end equal to the serial oracle, counts exact.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import type { LocalStack } from '../../local/stack.js';
import { redriveDeadLetters } from '../../lib/sqs/redrive.js';
import { eventually, startTestStack } from '../support/stack.js';
import { partnerClient } from '../support/client.js';
import { drainMessages, shuffle, sqsEvent } from '../support/events.js';
import { lambdaContext } from '../../local/lambda-context.js';
import { DEADLINE_MARGIN_MS } from '../../functions/sync/app.js';
import { OutOfTimeError } from '../../lib/errors.js';
import { serialOracle } from '../support/oracle.js';
import { beforeApply, readMemberships } from '../support/store.js';
import { dieAfterWrites, injectDynamoDbFaults, type FaultInjection } from '../support/faults.js';
import { applyAwsLimits, tableShapes, type AwsLimitsModel } from '../../local/aws-limits.js';
import { GetQueueAttributesCommand } from '@aws-sdk/client-sqs';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';

const USERS = Array.from({ length: 300 }, (_, index) => `user-${index}`);

const seedUsers = async (stack: LocalStack): Promise<Map<string, string>> => {
  const brazeIds = new Map<string, string>();
  await Promise.all(
    USERS.map(async (externalId) => {
      const { brazeId } = await stack.stores.users.findOrCreate(
        stack.workspace.workspaceId,
        { type: 'external_id', externalId },
        new Date(),
      );
      brazeIds.set(externalId, brazeId);
    }),
  );
  return brazeIds;
};

/** Sends `requests` deltas of mixed adds and removes over the users; returns the bodies as queued, for the oracle. */
const sendRequests = async (stack: LocalStack, cohortId: string, requests: number, seed: number) => {
  const partner = partnerClient(stack);
  const bodies: string[] = [];
  for (let index = 0; index < requests; index += 1) {
    const order = shuffle(USERS, seed * 1000 + index);
    const changes = [
      { user_ids: order.slice(0, 150) },
      { user_ids: order.slice(100, 220), should_remove: true },
      { user_ids: order.slice(200, 260) },
    ];
    // As Heap sends it: a busy answer (503, DynamoDB Local's lock waits under the modelled load)
    // is sent again. A retried request that had been queued after all is applied twice in a row,
    // which leaves the same state: the oracle applies it once (and waitForReports waits for the
    // queue to empty, not only for one report per request).
    const response = await partner.changeCohortRetrying(cohortId, changes);
    expect(response.status, JSON.stringify(response.body)).toBe(201);
    // What the oracle needs: the changes in acceptance order (requests are sent one by one).
    bodies.push(
      JSON.stringify({
        v: 1,
        type: 'cohort.changed',
        workspaceId: stack.workspace.workspaceId,
        partner: 'heap',
        cohortId,
        changes,
        stamp: { acceptedAt: new Date(Date.UTC(2000, 0, 1, 0, 0, index)).toISOString(), requestId: `r${index}` },
      }),
    );
  }
  return bodies;
};

/**
 * How long the sync may go without committing anything before a fault test fails. The wait
 * itself has no bound in time but SYNC_CAP_MS: on a loaded machine (a clean-clone CI run beside
 * other work measured load 6–7 on 2 cores) the throttled syncs took over 150 s, slower, not wrong.
 */
const SYNC_STALL_MS = 90_000;
const SYNC_CAP_MS = 15 * 60_000;
/** Above every wait inside the tests, so that a wait that runs out says what was pending. */
const TEST_TIMEOUT_MS = SYNC_CAP_MS + 60_000;

const queueDepth = async (stack: LocalStack, queueUrl: string) => {
  const { Attributes = {} } = await stack.clients.sqs.send(
    new GetQueueAttributesCommand({
      QueueUrl: queueUrl,
      AttributeNames: [
        'ApproximateNumberOfMessages',
        'ApproximateNumberOfMessagesNotVisible',
        'ApproximateNumberOfMessagesDelayed',
      ],
    }),
  );
  return (
    Number(Attributes.ApproximateNumberOfMessages ?? 0) +
    Number(Attributes.ApproximateNumberOfMessagesNotVisible ?? 0) +
    Number(Attributes.ApproximateNumberOfMessagesDelayed ?? 0)
  );
};

/**
 * Waits for at least `count` sync reports of the cohort and an empty queue (every message applied
 * and deleted, none waiting to be retried): a request the partner sent again after a busy answer
 * may have been queued twice, so `count` reports alone could leave the last request half applied.
 * Running out, says how many reports there were and what the queues held.
 */
const waitForReports = async (stack: LocalStack, cohortId: string, count: number) => {
  const ref = { workspaceId: stack.workspace.workspaceId, partner: 'heap', cohortId };
  try {
    return await eventually(
      async () => {
        const reports = await stack.stores.memberships.recentSyncReports(ref, 100);
        if (reports.length < count) return undefined;
        return (await queueDepth(stack, stack.queues.queueUrl)) === 0 ? reports : undefined;
      },
      SYNC_STALL_MS,
      `${count} sync reports of ${cohortId}`,
      {
        // Reports written, and memberships stored and in: they move with every committed transaction.
        progress: async () => {
          const [reports, stored] = await Promise.all([
            stack.stores.memberships.recentSyncReports(ref, 100),
            readMemberships(stack, cohortId),
          ]);
          return [reports.length, stored.size, [...stored.values()].filter(Boolean).length];
        },
        capMs: SYNC_CAP_MS,
      },
    );
  } catch (error: unknown) {
    const reports = await stack.stores.memberships.recentSyncReports(ref, 100);
    throw new Error(
      `${error instanceof Error ? error.message : String(error)}: ${reports.length} of ${count} reports; ` +
        `the queue holds ${await queueDepth(stack, stack.queues.queueUrl)} message(s), ` +
        `the DLQ ${await queueDepth(stack, stack.queues.deadLetterQueueUrl)}`,
    );
  }
};

const expectOracleState = async (
  stack: LocalStack,
  cohortId: string,
  bodies: string[],
  brazeIds: Map<string, string>,
) => {
  const oracle = serialOracle(bodies, (externalId) => brazeIds.get(externalId));
  const stored = await readMemberships(stack, cohortId);
  expect(stored).toEqual(oracle);
  const cohort = await stack.stores.memberships.getCohort({
    workspaceId: stack.workspace.workspaceId,
    partner: 'heap',
    cohortId,
  });
  expect(cohort?.memberCount).toBe([...oracle.values()].filter(Boolean).length);
};

describe('the sync function dies in the middle of a batch', () => {
  let stack: LocalStack;
  let brazeIds: Map<string, string>;
  let death: ReturnType<typeof dieAfterWrites>;

  beforeAll(async () => {
    stack = await startTestStack({
      pollerConcurrency: 1,
      configureSyncDynamoDb: (client) => {
        death = dieAfterWrites(client, { afterTransactions: 2, deaths: 4 });
      },
      wrapSyncHandler: (handler) => death.wrap(handler),
    });
    brazeIds = await seedUsers(stack);
  });
  afterAll(() => stack?.stop());

  it('ends exact after the retries, with writes of the dead attempts already committed', {
    timeout: TEST_TIMEOUT_MS,
  }, async () => {
    // Act: 6 requests of ~330 changes each (several transactions per request).
    const bodies = await sendRequests(stack, 'dies', 6, 1);
    await waitForReports(stack, 'dies', 6);

    // Assess
    expect(death.state.deaths).toBe(4);
    await expectOracleState(stack, 'dies', bodies, brazeIds);
  });
});

describe('DynamoDB throttling, partial reads and transaction conflicts', () => {
  let stack: LocalStack;
  let brazeIds: Map<string, string>;
  let faults: FaultInjection;

  beforeAll(async () => {
    stack = await startTestStack({
      configureSyncDynamoDb: (client) => {
        faults = injectDynamoDbFaults(client, { throttle: 0.15, unprocessedKeys: 0.3, transactionConflict: 0.2 }, 42);
        // Each fault the test is about fires at least once, whatever the dice say.
        faults.force('throttle');
        faults.force('unprocessedKeys');
        faults.force('transactionConflict');
      },
    });
    brazeIds = await seedUsers(stack);
  });
  afterAll(() => stack?.stop());

  it('retries with backoff and loses nothing', { timeout: TEST_TIMEOUT_MS }, async () => {
    // Act
    const bodies = await sendRequests(stack, 'throttled', 8, 2);
    await waitForReports(stack, 'throttled', 8);

    // Assess
    expect(faults.throttled).toBeGreaterThan(0);
    expect(faults.unprocessedKeys).toBeGreaterThan(0);
    expect(faults.transactionConflicts).toBeGreaterThan(0);
    await expectOracleState(stack, 'throttled', bodies, brazeIds);
  });
});

describe("AWS's limits, modelled (partitions, table quota, transaction conflicts)", () => {
  let stack: LocalStack;
  let brazeIds: Map<string, string>;
  let limits: AwsLimitsModel;

  beforeAll(async () => {
    let syncClient: DynamoDBClient | undefined;
    stack = await startTestStack({
      configureSyncDynamoDb: (client) => {
        syncClient = client;
      },
    });
    // Every rate ÷ 200: 5 WCU/s per partition key, 200 per table, so one request alone (≈ 660
    // write units) binds, however slowly the requests arrive (a busy machine spreads them out).
    limits = applyAwsLimits(syncClient!, { tables: tableShapes(stack.tables), scale: 200 });
    brazeIds = await seedUsers(stack);
  });
  afterAll(() => stack?.stop());

  it('ends in the serial oracle state with exact counts, throttled and conflicting, with nothing dead-lettered', {
    timeout: TEST_TIMEOUT_MS,
  }, async () => {
    // Act: 8 requests of ~330 changes each, two syncs at once on one cohort.
    const bodies = await sendRequests(stack, 'limited', 8, 3);
    await waitForReports(stack, 'limited', 8);

    // Assess
    expect(limits.stats().outcomes.throttled).toBeGreaterThan(0);
    await expectOracleState(stack, 'limited', bodies, brazeIds);
    const { Attributes } = await stack.clients.sqs.send(
      new GetQueueAttributesCommand({
        QueueUrl: stack.queues.deadLetterQueueUrl,
        AttributeNames: ['ApproximateNumberOfMessages'],
      }),
    );
    expect(Attributes?.ApproximateNumberOfMessages).toBe('0');
  });
});

describe('DLQ redrive', () => {
  let stack: LocalStack;
  let broken = true;

  beforeAll(async () => {
    stack = await startTestStack({
      // Until `broken` is cleared, the sync fails every change to cohort "redrive".
      wrapMemberships: (store) =>
        beforeApply(store, async (cohort) => {
          if (broken && cohort.cohortId === 'redrive') throw new Error('injected: store unavailable for this cohort');
        }),
    });
    await seedUsers(stack);
  });
  afterAll(() => stack?.stop());

  it('re-applies dead-lettered changes, and an old add redriven after a newer removal changes nothing', {
    timeout: TEST_TIMEOUT_MS,
  }, async () => {
    // Prepare: two adds fail five times and land in the DLQ.
    const partner = partnerClient(stack);
    await partner.changeCohort('redrive', [{ user_ids: ['user-1', 'user-2'] }]);
    await eventually(
      async () => {
        const response = await stack.clients.sqs.send(
          new ReceiveMessageCommand({
            QueueUrl: stack.queues.deadLetterQueueUrl,
            VisibilityTimeout: 0,
            WaitTimeSeconds: 0,
          }),
        );
        return response.Messages?.length ? true : undefined;
      },
      30_000,
      'the add in the DLQ',
    );
    // The store recovers; a newer request removes user-1.
    broken = false;
    await partner.changeCohort('redrive', [{ user_ids: ['user-1'], should_remove: true }]);
    await waitForReports(stack, 'redrive', 1);

    // Act
    const result = await redriveDeadLetters(stack.clients.sqs, stack.queues);

    // Assess: user-2's add applies; user-1's older add is superseded by the removal.
    expect(result).toEqual({ moved: 1, failed: 0 });
    const reports = await waitForReports(stack, 'redrive', 2);
    const redriven = reports.find((report) => report.added + report.superseded === 2);
    expect(redriven).toMatchObject({ added: 1, superseded: 1 });
    const exported = await stack.stores.memberships.getCohort({
      workspaceId: stack.workspace.workspaceId,
      partner: 'heap',
      cohortId: 'redrive',
    });
    expect(exported?.memberCount).toBe(1);
  });
});

describe('a batch close to the function timeout', () => {
  let stack: LocalStack;

  /** Cohort "slow" does not apply until the test is over, as a request on a store that hangs would not. */
  let release: () => void = () => undefined;
  const hung = new Promise<void>((resolve) => {
    release = resolve;
  });
  /** What the sync gave each record's apply to cancel it with. */
  let slowSignal: AbortSignal | undefined;
  let fastSignal: AbortSignal | undefined;

  beforeAll(async () => {
    stack = await startTestStack({
      poll: false,
      wrapMemberships: (store) =>
        beforeApply(store, async (cohort, options) => {
          if (cohort.cohortId === 'fast') fastSignal = options?.signal;
          if (cohort.cohortId !== 'slow') return;
          slowSignal = options?.signal;
          await hung;
        }),
    });
    await seedUsers(stack);
  });
  afterAll(async () => {
    release();
    await stack?.stop();
  });

  it('answers in time, keeping the finished records and putting the unfinished one back on the queue', async () => {
    // Prepare
    const partner = partnerClient(stack);
    await partner.changeCohort('fast', [{ user_ids: ['user-1'] }]);
    await partner.changeCohort('slow', [{ user_ids: ['user-2'] }]);
    const [fast, slow] = await drainMessages(stack.clients.sqs, stack.queues.queueUrl);
    const event = sqsEvent([fast!, slow!]);

    // Act: 5 s left before the margin: the fast record's one write is done long before, the slow one never is.
    const response = await stack.handlers.sync(event, lambdaContext('sync', DEADLINE_MARGIN_MS + 5_000));

    // Assess: running out of time is load, not a defect of the record: it comes back as
    // a fresh message (its receive count starts again), so time alone never dead-letters it.
    expect(response.batchItemFailures).toEqual([]);
    const ref = (cohortId: string) => ({ workspaceId: stack.workspace.workspaceId, partner: 'heap', cohortId });
    expect((await stack.stores.memberships.getCohort(ref('fast')))?.memberCount).toBe(1);
    const requeued = await drainMessages(stack.clients.sqs, stack.queues.queueUrl);
    expect(requeued.map((body) => JSON.parse(body) as { cohortId: string; requeues?: number })).toEqual([
      expect.objectContaining({ cohortId: 'slow', requeues: 1 }),
    ]);
    // The work it gave up is cancelled, not left to run beside its copy: on AWS it would
    // resume in the next invocation and load the table twice when it is slowest.
    expect(slowSignal?.aborted).toBe(true);
    expect(slowSignal?.reason).toBeInstanceOf(OutOfTimeError);
    // A finished record's signal is spent too: whatever it started (a sibling chunk of a chunk
    // that failed) stops with it.
    expect(fastSignal?.aborted).toBe(true);
    // The copy, once the store answers again, completes it.
    release();
    const retry = await stack.handlers.sync(sqsEvent([requeued[0]!]), lambdaContext('sync', 30_000));
    expect(retry.batchItemFailures).toEqual([]);
    expect((await stack.stores.memberships.getCohort(ref('slow')))?.memberCount).toBe(1);
  });
});

describe('overlapping invocations of one sync handler (the local stack runs several at once)', () => {
  let stack: LocalStack;

  /** Cohort "slow" waits in its apply until the second invocation has answered: the two overlap, by construction. */
  let reachedSlow: () => void = () => undefined;
  const slowReached = new Promise<void>((resolve) => {
    reachedSlow = resolve;
  });
  let releaseSlow: () => void = () => undefined;
  const slowReleased = new Promise<void>((resolve) => {
    releaseSlow = resolve;
  });

  beforeAll(async () => {
    stack = await startTestStack({
      poll: false,
      wrapMemberships: (store) =>
        beforeApply(store, async (cohort) => {
          if (cohort.cohortId === 'broken') throw new Error('injected: the store refuses this cohort');
          if (cohort.cohortId === 'slow') {
            reachedSlow();
            await slowReleased;
          }
        }),
    });
    await seedUsers(stack);
  });
  afterAll(() => stack?.stop());

  it("keep their own failures: one invocation finishing does not clear the other's", async () => {
    // Prepare
    const partner = partnerClient(stack);
    for (const cohortId of ['broken', 'slow', 'other'])
      await partner.changeCohort(cohortId, [{ user_ids: ['user-1'] }]);
    const bodies = await drainMessages(stack.clients.sqs, stack.queues.queueUrl);
    const byCohort = (cohortId: string) =>
      bodies.find((body) => (JSON.parse(body) as { cohortId: string }).cohortId === cohortId)!;
    const first = sqsEvent([byCohort('broken'), byCohort('slow')]);

    // Act: a second invocation starts and answers while the first is still running.
    const running = stack.handlers.sync(first, lambdaContext('sync', 30_000));
    await slowReached;
    const secondResponse = await stack.handlers.sync(sqsEvent([byCohort('other')]), lambdaContext('sync', 30_000));
    releaseSlow();
    const firstResponse = await running;

    // Assess
    expect(firstResponse.batchItemFailures).toEqual([{ itemIdentifier: first.Records[0]!.messageId }]);
    expect(secondResponse.batchItemFailures).toEqual([]);
  });
});
