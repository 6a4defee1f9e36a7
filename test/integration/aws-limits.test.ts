/**
 * The AWS limits model (local/aws-limits.ts) on a real DynamoDBClient against DynamoDB
 * Local: partition and table throttles with the SDK's exceptions and retries, transaction
 * conflicts, index write accounting through lib-dynamodb, and the trace.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import {
  BatchGetItemCommand,
  CreateTableCommand,
  DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  QueryCommand,
  type CreateTableCommandInput,
  type DynamoDBClientConfig,
} from '@aws-sdk/client-dynamodb';
import {
  BatchWriteCommand,
  DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  TransactWriteCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '../../local/constants.js';
import {
  applyAwsLimits,
  NEW_TABLE_UNITS_PER_SECOND,
  tableShape,
  type AwsLimitsOptions,
  type TableShape,
} from '../../local/aws-limits.js';

const KB = 1024;
const run = randomUUID().slice(0, 8);
const config = (overrides: DynamoDBClientConfig = {}): DynamoDBClientConfig => ({
  endpoint: inject('dynamoDbEndpoint'),
  region: LOCAL_REGION,
  credentials: LOCAL_CREDENTIALS,
  ...overrides,
});

/** A table keyed pk + sk, no index. */
const plainTable: CreateTableCommandInput = {
  TableName: `limits-plain-${run}`,
  BillingMode: 'PAY_PER_REQUEST',
  AttributeDefinitions: [
    { AttributeName: 'pk', AttributeType: 'S' },
    { AttributeName: 'sk', AttributeType: 'S' },
  ],
  KeySchema: [
    { AttributeName: 'pk', KeyType: 'HASH' },
    { AttributeName: 'sk', KeyType: 'RANGE' },
  ],
};

/** A table keyed pk with a sparse KEYS_ONLY GSI on gpk + gsk. */
const indexedTable: CreateTableCommandInput = {
  TableName: `limits-gsi-${run}`,
  BillingMode: 'PAY_PER_REQUEST',
  AttributeDefinitions: [
    { AttributeName: 'pk', AttributeType: 'S' },
    { AttributeName: 'gpk', AttributeType: 'S' },
    { AttributeName: 'gsk', AttributeType: 'S' },
  ],
  KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
  GlobalSecondaryIndexes: [
    {
      IndexName: 'byGroup',
      KeySchema: [
        { AttributeName: 'gpk', KeyType: 'HASH' },
        { AttributeName: 'gsk', KeyType: 'RANGE' },
      ],
      Projection: { ProjectionType: 'KEYS_ONLY' },
    },
  ],
};

const shapes: TableShape[] = [
  tableShape(plainTable.TableName!, plainTable),
  tableShape(indexedTable.TableName!, indexedTable),
];
const PLAIN = plainTable.TableName!;
const INDEXED = indexedTable.TableName!;

/** A client with the model; the clock stands still unless a test moves it, so bucket levels are exact. */
const limitedClient = (options: Partial<AwsLimitsOptions> & { clientConfig?: DynamoDBClientConfig } = {}) => {
  const clock = { now: 1_000_000 };
  const client = new DynamoDBClient(config(options.clientConfig ?? { maxAttempts: 1 }));
  const model = applyAwsLimits(client, { tables: shapes, now: () => clock.now, keepRequests: true, ...options });
  return { client, doc: DynamoDBDocumentClient.from(client), model, clock };
};

const settledNames = (results: PromiseSettledResult<unknown>[]) =>
  results.map((result) => (result.status === 'fulfilled' ? 'ok' : (result.reason as Error).name));
const count = (names: string[], name: string) => names.filter((candidate) => candidate === name).length;
/** What DynamoDB Local holds in one partition, read past the model. */
const storedIn = (pk: string) =>
  raw.send(
    new QueryCommand({
      TableName: PLAIN,
      KeyConditionExpression: 'pk = :pk',
      ExpressionAttributeValues: { ':pk': { S: pk } },
    }),
  );

let raw: DynamoDBClient;

beforeAll(async () => {
  raw = new DynamoDBClient(config());
  await raw.send(new CreateTableCommand(plainTable));
  await raw.send(new CreateTableCommand(indexedTable));
});
afterAll(() => raw?.destroy());

describe('partition throughput', () => {
  it('throttles a burst above one partition key with ProvisionedThroughputExceededException; two keys get twice as much', async () => {
    // Prepare: scale 100 → 10 WCU/s a partition; 1-WCU writes; the SDK does not retry
    const { doc, model, clock } = limitedClient({ scale: 100 });
    const put = (pk: string, index: number) =>
      doc.send(new PutCommand({ TableName: PLAIN, Item: { pk, sk: `s${index}` } }));

    // Act
    const onePartition = await Promise.allSettled(Array.from({ length: 15 }, (_, index) => put(`hot-${run}`, index)));
    const twoPartitions = await Promise.allSettled(
      Array.from({ length: 30 }, (_, index) => put(`${index % 2 ? 'a' : 'b'}-${run}`, index)),
    );
    clock.now += 500;
    const halfSecondLater = await Promise.allSettled(
      Array.from({ length: 10 }, (_, index) => put(`hot-${run}`, 100 + index)),
    );

    // Assess
    const one = settledNames(onePartition);
    expect(count(one, 'ok')).toBe(10);
    expect(count(one, 'ProvisionedThroughputExceededException')).toBe(5);
    expect(count(settledNames(twoPartitions), 'ok')).toBe(20);
    expect(count(settledNames(halfSecondLater), 'ok')).toBe(5);
    const refusal = onePartition.find((result) => result.status === 'rejected') as PromiseRejectedResult;
    expect(refusal.reason.ThrottlingReasons).toEqual([
      { reason: 'TableWriteKeyRangeThroughputExceeded', resource: expect.stringContaining(`table/${PLAIN}`) },
    ]);
    // Nothing refused reached DynamoDB Local.
    const stored = await storedIn(`hot-${run}`);
    expect(stored.Count).toBe(15);
    expect(model.stats().throttles).toEqual({ TableWriteKeyRangeThroughputExceeded: 5 + 10 + 5 });
  });

  it('makes key values on one physical partition share its rate, and a new table serve 4,000 WRU/s', async () => {
    // Prepare: scale 100 → 10 WCU/s a partition; every key on one physical partition; a new
    // table's 4,000 WRU/s → 40 WCU/s.
    const { doc } = limitedClient({ scale: 100, physicalPartitions: 1 });
    const fresh = limitedClient({ scale: 100, tableUnits: NEW_TABLE_UNITS_PER_SECOND });
    const put = (target: typeof doc, pk: string) =>
      target.send(new PutCommand({ TableName: PLAIN, Item: { pk, sk: 's' } }));

    // Act: 20 writes to two keys (alone, each key would take 10); 50 writes to 50 keys.
    const shared = await Promise.allSettled(
      Array.from({ length: 20 }, (_, index) => put(doc, `shared-${index % 2}-${run}`)),
    );
    const spread = await Promise.allSettled(
      Array.from({ length: 50 }, (_, index) => put(fresh.doc, `fresh-${index}-${run}`)),
    );

    // Assess
    expect(count(settledNames(shared), 'ok')).toBe(10);
    expect(count(settledNames(shared), 'ProvisionedThroughputExceededException')).toBe(10);
    expect(count(settledNames(spread), 'ok')).toBe(40);
    expect(count(settledNames(spread), 'ThrottlingException')).toBe(10);
  });

  it('lets the SDK retry the throttles with its default strategy until the writes succeed', async () => {
    // Prepare: a real clock, scale 200 → 5 WCU/s; the SDK's standard retry strategy, with
    // room for more attempts than its default 3 so that the test does not hang on chance
    const { doc, model } = limitedClient({ scale: 200, now: Date.now, clientConfig: { maxAttempts: 10 } });

    // Act
    const outputs = await Promise.all(
      Array.from({ length: 12 }, (_, index) =>
        doc.send(new PutCommand({ TableName: PLAIN, Item: { pk: `retried-${run}`, sk: `s${index}` } })),
      ),
    );

    // Assess
    const retries = outputs.reduce((total, output) => total + (output.$metadata.attempts ?? 1) - 1, 0);
    expect(retries).toBeGreaterThan(0);
    expect(model.stats().throttles.TableWriteKeyRangeThroughputExceeded).toBe(retries);
    expect(model.stats().outcomes).toMatchObject({ ok: 12, throttled: retries });
  });

  it('throttles a table above its quota with ThrottlingException', async () => {
    // Prepare: scale 1,000 → 1 WCU/s a partition, 40 WCU/s the table; 50 partitions, 1 WCU each
    const { doc, model } = limitedClient({ scale: 1_000 });

    // Act
    const results = await Promise.allSettled(
      Array.from({ length: 50 }, (_, index) =>
        doc.send(new PutCommand({ TableName: PLAIN, Item: { pk: `spread-${index}-${run}`, sk: 's' } })),
      ),
    );

    // Assess
    const names = settledNames(results);
    expect(count(names, 'ok')).toBe(40);
    expect(count(names, 'ThrottlingException')).toBe(10);
    const refusal = results.find((result) => result.status === 'rejected') as PromiseRejectedResult;
    expect(refusal.reason.throttlingReasons[0].reason).toBe('TableWriteAccountLimitExceeded');
    expect(model.stats().byTable[PLAIN]).toEqual({ readUnits: 0, writeUnits: 40 });
  });

  it('returns the entries of a BatchWriteItem that a partition cannot take as UnprocessedItems', async () => {
    // Prepare: scale 100 → 10 WCU/s; 25 puts in one partition
    const { doc, model } = limitedClient({ scale: 100 });
    const items = Array.from({ length: 25 }, (_, index) => ({
      pk: `batch-${run}`,
      sk: `s${String(index).padStart(2, '0')}`,
    }));

    // Act
    const output = await doc.send(
      new BatchWriteCommand({ RequestItems: { [PLAIN]: items.map((Item) => ({ PutRequest: { Item } })) } }),
    );

    // Assess: the unprocessed ones come back as lib-dynamodb would hand them, and were not written
    expect(output.UnprocessedItems?.[PLAIN]).toEqual(items.slice(10).map((Item) => ({ PutRequest: { Item } })));
    const stored = await storedIn(`batch-${run}`);
    expect(stored.Items?.map((item) => item.sk?.S)).toEqual(items.slice(0, 10).map((item) => item.sk));
    expect(model.requests.at(-1)).toMatchObject({
      command: 'BatchWriteItem',
      outcome: 'ok',
      writeUnits: 10,
      unprocessed: 15,
    });
  });
});

describe('transactions', () => {
  /** Holds the first TransactWriteItems between its admission and DynamoDB Local until released. */
  const holdFirstTransaction = (client: DynamoDBClient) => {
    const gate = { held: false, release: () => {} };
    const released = new Promise<void>((resolve) => (gate.release = resolve));
    client.middlewareStack.add(
      (next, context) => async (args) => {
        if (context.commandName === 'TransactWriteItemsCommand' && !gate.held) {
          gate.held = true;
          await released;
        }
        return next(args);
      },
      // Below the deserializer, i.e. after the model admitted it: the request is in flight.
      { step: 'deserialize', priority: 'low', name: 'holdFirstTransaction' },
    );
    return gate;
  };
  const until = async (condition: () => boolean) => {
    for (let waited = 0; !condition(); waited += 5) {
      if (waited > 5_000) throw new Error('timed out');
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  };

  it('cancels a transaction on an item held by another with TransactionConflict, and a PutItem with TransactionConflictException; neither writes', async () => {
    // Prepare: one transaction in flight on items a and b
    const { client, doc, model } = limitedClient({ now: Date.now });
    const gate = holdFirstTransaction(client);
    const key = (sk: string) => ({ pk: `tx-${run}`, sk });
    const first = doc.send(
      new TransactWriteCommand({
        TransactItems: [
          { Put: { TableName: PLAIN, Item: { ...key('a'), by: 'first' } } },
          { Put: { TableName: PLAIN, Item: { ...key('b'), by: 'first' } } },
        ],
      }),
    );
    await until(() => gate.held);

    // Act
    const second = doc
      .send(
        new TransactWriteCommand({
          TransactItems: [
            { Put: { TableName: PLAIN, Item: { ...key('c'), by: 'second' } } },
            {
              Update: {
                TableName: PLAIN,
                Key: key('a'),
                UpdateExpression: 'SET #by = :by',
                ExpressionAttributeNames: { '#by': 'by' },
                ExpressionAttributeValues: { ':by': 'second' },
              },
            },
          ],
        }),
      )
      .catch((error: unknown) => error);
    const put = doc
      .send(new PutCommand({ TableName: PLAIN, Item: { ...key('b'), by: 'put' } }))
      .catch((error: unknown) => error);
    const [secondError, putError] = await Promise.all([second, put]);
    gate.release();
    await first;

    // Assess
    expect(secondError).toMatchObject({
      name: 'TransactionCanceledException',
      CancellationReasons: [{ Code: 'None' }, { Code: 'TransactionConflict' }],
    });
    expect(putError).toMatchObject({ name: 'TransactionConflictException' });
    const read = async (sk: string) =>
      (await doc.send(new GetCommand({ TableName: PLAIN, Key: key(sk), ConsistentRead: true }))).Item?.by;
    expect([await read('a'), await read('b'), await read('c')]).toEqual(['first', 'first', undefined]);
    expect(model.stats().conflicts).toEqual({ TransactionCanceledException: 1, TransactionConflictException: 1 });
    // The first transaction: two 2-WCU transactional writes in one partition.
    expect(
      model.requests.find((entry) => entry.command === 'TransactWriteItems' && entry.outcome === 'ok'),
    ).toMatchObject({
      writeUnits: 4,
      partitions: [{ table: PLAIN, partitionKey: `tx-${run}`, readUnits: 0, writeUnits: 4 }],
    });
  });

  it('cancels a throttled transaction with ThrottlingError at the throttled items only', async () => {
    // Prepare: scale 500 → 2 WCU/s a partition; a transactional 1 KB write costs 2
    const { doc } = limitedClient({ scale: 500 });
    await doc.send(
      new TransactWriteCommand({
        TransactItems: [
          { Put: { TableName: PLAIN, Item: { pk: `txa-${run}`, sk: '1' } } },
          { Put: { TableName: PLAIN, Item: { pk: `txb-${run}`, sk: '1' } } },
        ],
      }),
    );

    // Act
    const error = await doc
      .send(
        new TransactWriteCommand({
          TransactItems: [
            { Put: { TableName: PLAIN, Item: { pk: `txa-${run}`, sk: '2' } } },
            { Put: { TableName: PLAIN, Item: { pk: `txc-${run}`, sk: '1' } } },
          ],
        }),
      )
      .catch((caught: unknown) => caught);

    // Assess
    expect(error).toMatchObject({
      name: 'TransactionCanceledException',
      CancellationReasons: [{ Code: 'ThrottlingError' }, { Code: 'None' }],
    });
    const stored = await raw.send(
      new GetItemCommand({ TableName: PLAIN, Key: { pk: { S: `txc-${run}` }, sk: { S: '1' } }, ConsistentRead: true }),
    );
    expect(stored.Item).toBeUndefined();
  });
});

describe('index writes', () => {
  it('counts an index add as 1 write, a key change as 2 and a removal as 1, through lib-dynamodb', async () => {
    // Prepare: with the raw client the model reads the item before and after each write
    const { doc, model } = limitedClient({ raw });
    const Key = { pk: `member-${run}` };
    const indexPartitions = () =>
      model.requests.at(-1)!.partitions.filter((partition) => partition.index === 'byGroup');

    // Act / Assess: not in the index yet
    await doc.send(new PutCommand({ TableName: INDEXED, Item: { ...Key, note: 'x' } }));
    expect(indexPartitions()).toEqual([]);

    // Act / Assess: added to the index
    const update = (UpdateExpression: string, ExpressionAttributeValues?: Record<string, unknown>) =>
      doc.send(new UpdateCommand({ TableName: INDEXED, Key, UpdateExpression, ExpressionAttributeValues }));
    await update('SET gpk = :g, gsk = :s', { ':g': `g1-${run}`, ':s': 's' });
    expect(indexPartitions()).toEqual([
      { table: INDEXED, index: 'byGroup', partitionKey: `g1-${run}`, readUnits: 0, writeUnits: 1 },
    ]);

    // Act / Assess: its index key changes: a delete in the old index partition, a put in the new
    await update('SET gpk = :g', { ':g': `g2-${run}` });
    expect(indexPartitions()).toEqual([
      { table: INDEXED, index: 'byGroup', partitionKey: `g1-${run}`, readUnits: 0, writeUnits: 1 },
      { table: INDEXED, index: 'byGroup', partitionKey: `g2-${run}`, readUnits: 0, writeUnits: 1 },
    ]);

    // Act / Assess: removed from the index
    await update('REMOVE gpk');
    expect(indexPartitions()).toEqual([
      { table: INDEXED, index: 'byGroup', partitionKey: `g2-${run}`, readUnits: 0, writeUnits: 1 },
    ]);
    expect(model.stats().byTable[`${INDEXED}/byGroup`]).toEqual({ readUnits: 0, writeUnits: 4 });
    expect(model.stats().byTable[INDEXED]).toEqual({ readUnits: 0, writeUnits: 4 });
  });

  it('throttles writes to different table partitions when their index partition is full', async () => {
    // Prepare: scale 100 → 10 WCU/s an index partition; 15 items, each in its own table partition, one group
    const { doc, model } = limitedClient({ raw, scale: 100 });

    // Act
    const results = await Promise.allSettled(
      Array.from({ length: 15 }, (_, index) =>
        doc.send(
          new PutCommand({
            TableName: INDEXED,
            Item: { pk: `grouped-${index}-${run}`, gpk: `crowded-${run}`, gsk: `s${index}` },
          }),
        ),
      ),
    );

    // Assess: the index's back pressure refuses the table writes
    const names = settledNames(results);
    expect(count(names, 'ok')).toBe(10);
    expect(count(names, 'ProvisionedThroughputExceededException')).toBe(5);
    const refusal = results.find((result) => result.status === 'rejected') as PromiseRejectedResult;
    expect(refusal.reason.ThrottlingReasons[0]).toEqual({
      reason: 'IndexWriteKeyRangeThroughputExceeded',
      resource: expect.stringMatching(/index\/byGroup$/),
    });
    expect(model.stats().partitions.get(`${INDEXED}/byGroup`)?.get(`crowded-${run}`)).toEqual({
      readUnits: 0,
      writeUnits: 10,
    });
  });

  it('reads items around a write only for tables with GSIs', async () => {
    // Prepare: count what the model asks of the raw client
    const counted = new DynamoDBClient(config());
    let reads = 0;
    counted.middlewareStack.add(
      (next) => async (args) => {
        reads += 1;
        return next(args);
      },
      { step: 'initialize', name: 'countReads' },
    );
    const { doc } = limitedClient({ raw: counted });

    // Act
    await doc.send(new PutCommand({ TableName: PLAIN, Item: { pk: `noindex-${run}`, sk: 's' } }));
    const plainReads = reads;
    await doc.send(
      new UpdateCommand({
        TableName: INDEXED,
        Key: { pk: `counted-${run}` },
        UpdateExpression: 'SET note = :n',
        ExpressionAttributeValues: { ':n': 'x' },
      }),
    );

    // Assess: none for the plain table; before and after for the update on the indexed one
    expect(plainReads).toBe(0);
    expect(reads).toBe(2);
    counted.destroy();
  });
});

describe('the trace', () => {
  it('records each read with its partition keys and units, the same through lib-dynamodb as through the client', async () => {
    // Prepare: a 5 KB item and three 1.5 KB items in one partition, written without limits
    const { client, doc, model } = limitedClient();
    model.enabled = false;
    const big = { pk: { S: `reads-${run}` }, sk: { S: 'big' }, body: { S: 'x'.repeat(5 * KB) } };
    await client.send(new PutItemCommand({ TableName: PLAIN, Item: big }));
    for (const sk of ['q1', 'q2', 'q3']) {
      await client.send(
        new PutItemCommand({
          TableName: PLAIN,
          Item: { pk: { S: `query-${run}` }, sk: { S: sk }, body: { S: 'x'.repeat(1.5 * KB) } },
        }),
      );
    }
    model.enabled = true;
    model.reset();

    // Act
    await client.send(new GetItemCommand({ TableName: PLAIN, Key: { pk: big.pk, sk: big.sk }, ConsistentRead: true }));
    await doc.send(new GetCommand({ TableName: PLAIN, Key: { pk: `reads-${run}`, sk: 'big' }, ConsistentRead: true }));
    await doc.send(new GetCommand({ TableName: PLAIN, Key: { pk: `reads-${run}`, sk: 'big' } }));
    await client.send(
      new QueryCommand({
        TableName: PLAIN,
        KeyConditionExpression: '#pk = :pk',
        ExpressionAttributeNames: { '#pk': 'pk' },
        ExpressionAttributeValues: { ':pk': { S: `query-${run}` } },
      }),
    );
    await client.send(
      new BatchGetItemCommand({
        RequestItems: {
          [PLAIN]: {
            Keys: [
              { pk: big.pk, sk: big.sk },
              { pk: { S: `missing-${run}` }, sk: { S: 'none' } },
            ],
            ConsistentRead: true,
          },
        },
      }),
    );

    // Assess: 5 KB → 2 RCU strong, 1 eventual; the query's 4.5 KB total → 2 × ½; the batch per item: 2 + 1 (missing)
    expect(model.requests.map(({ command, readUnits, outcome }) => [command, readUnits, outcome])).toEqual([
      ['GetItem', 2, 'ok'],
      ['GetItem', 2, 'ok'],
      ['GetItem', 1, 'ok'],
      ['Query', 1, 'ok'],
      ['BatchGetItem', 3, 'ok'],
    ]);
    expect(model.requests.at(-1)!.partitions).toEqual([
      { table: PLAIN, partitionKey: `reads-${run}`, readUnits: 2, writeUnits: 0 },
      { table: PLAIN, partitionKey: `missing-${run}`, readUnits: 1, writeUnits: 0 },
    ]);
    expect(model.stats().partitions.get(PLAIN)?.get(`reads-${run}`)).toEqual({
      readUnits: 2 + 2 + 1 + 2,
      writeUnits: 0,
    });
    expect(model.stats().byCommand.GetItem).toMatchObject({ requests: 3, readUnits: 5, ok: 3 });
    expect(model.requests.every((entry) => entry.at === 1_000_000)).toBe(true);
  });
});
