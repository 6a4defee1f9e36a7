/**
 * A stand-in for Lambda's DynamoDB Streams event source mapping, over DynamoDB Local's
 * streams (same API as AWS's): every shard read from its start, records handed to the
 * function in batches, in shard order. A batch whose invocation fails is retried, the
 * same records again, until it succeeds (Lambda's default for streams: retry until the
 * records expire), so nothing behind it in the shard overtakes it.
 */
import {
  DescribeStreamCommand,
  GetRecordsCommand,
  GetShardIteratorCommand,
  type DynamoDBStreamsClient,
  type _Record as StreamRecord,
} from '@aws-sdk/client-dynamodb-streams';
import type { Context, DynamoDBStreamEvent } from 'aws-lambda';
import { setTimeout as sleep } from 'node:timers/promises';
import { lambdaContext } from './lambda-context.js';
import type { Poller } from './sqs-poller.js';

/** A function on a DynamoDB stream, as Lambda's event source mapping invokes it. */
export type StreamHandler = (event: DynamoDBStreamEvent, context: Context) => Promise<unknown>;

export interface StreamPollerOptions {
  client: DynamoDBStreamsClient;
  streamArn: string;
  handler: StreamHandler;
  functionName: string;
  timeoutMs: number;
  /** Lambda's BatchSize for streams (default 100). */
  batchSize?: number;
  /** Wait after a failed invocation before trying the same batch again. */
  retryDelayMs?: number;
  /** Called after each invocation: how many records, and the error if it failed. */
  onBatch?: (outcome: { records: number; error?: unknown }) => void;
}

const IDLE_MS = 100;
const DESCRIBE_EVERY_MS = 2_000;

const toEventRecord = (record: StreamRecord, streamArn: string): DynamoDBStreamEvent['Records'][number] => ({
  eventID: record.eventID,
  eventName: record.eventName as 'INSERT' | 'MODIFY' | 'REMOVE',
  eventVersion: record.eventVersion,
  eventSource: 'aws:dynamodb',
  awsRegion: record.awsRegion ?? 'us-east-1',
  eventSourceARN: streamArn,
  // The SDK's and Lambda's AttributeValue types are the same JSON under different names.
  dynamodb: record.dynamodb as DynamoDBStreamEvent['Records'][number]['dynamodb'],
});

export const startStreamPoller = (options: StreamPollerOptions): Poller => {
  const { client, streamArn, handler } = options;
  let running = true;
  let batches = 0;
  let passes = 0;
  /** Waiters for a pass over every shard (shards described anew) that begins after they asked and delivers nothing. */
  let waiters: { after: number; resolve: () => void }[] = [];
  /** Open shards and where reading them has got to; a closed shard is dropped once read to its end. */
  const iterators = new Map<string, string>();
  const finished = new Set<string>();

  const discoverShards = async () => {
    let exclusiveStartShardId: string | undefined;
    do {
      const { StreamDescription } = await client.send(
        new DescribeStreamCommand({ StreamArn: streamArn, ExclusiveStartShardId: exclusiveStartShardId }),
      );
      for (const shard of StreamDescription?.Shards ?? []) {
        const shardId = shard.ShardId!;
        if (iterators.has(shardId) || finished.has(shardId)) continue;
        // A child shard waits until its parent is read to its end, as Lambda does: per-item order.
        if (shard.ParentShardId && !finished.has(shard.ParentShardId) && iterators.has(shard.ParentShardId)) continue;
        const { ShardIterator } = await client.send(
          new GetShardIteratorCommand({ StreamArn: streamArn, ShardId: shardId, ShardIteratorType: 'TRIM_HORIZON' }),
        );
        if (ShardIterator) iterators.set(shardId, ShardIterator);
      }
      exclusiveStartShardId = StreamDescription?.LastEvaluatedShardId;
    } while (exclusiveStartShardId);
  };

  /** Invokes the function with the batch until it succeeds (or the poller stops). */
  const deliver = async (records: StreamRecord[]) => {
    const event: DynamoDBStreamEvent = { Records: records.map((record) => toEventRecord(record, streamArn)) };
    while (running) {
      try {
        await handler(event, lambdaContext(options.functionName, options.timeoutMs));
        options.onBatch?.({ records: records.length });
        return;
      } catch (error: unknown) {
        options.onBatch?.({ records: records.length, error });
        await sleep(options.retryDelayMs ?? 1_000);
      }
    }
  };

  const loop = (async () => {
    let describedAt = 0;
    while (running) {
      const pass = (passes += 1);
      // A pass someone waits on must see shards created since the last description too.
      const awaited = waiters.length > 0;
      try {
        if (awaited || Date.now() - describedAt > DESCRIBE_EVERY_MS) {
          await discoverShards();
          describedAt = Date.now();
        }
        let delivered = 0;
        for (const [shardId, iterator] of [...iterators]) {
          if (!running) break;
          const { Records, NextShardIterator } = await client.send(
            new GetRecordsCommand({ ShardIterator: iterator, Limit: options.batchSize ?? 100 }),
          );
          if (Records && Records.length > 0) {
            batches += 1;
            await deliver(Records);
            delivered += Records.length;
          }
          if (NextShardIterator) iterators.set(shardId, NextShardIterator);
          else {
            iterators.delete(shardId);
            finished.add(shardId);
          }
        }
        if (delivered === 0) {
          if (awaited) {
            const ready = waiters.filter((waiter) => waiter.after < pass);
            waiters = waiters.filter((waiter) => waiter.after >= pass);
            for (const waiter of ready) waiter.resolve();
          }
          await sleep(IDLE_MS);
        }
      } catch (error: unknown) {
        if (!running) break;
        console.error(
          `[${options.functionName}] stream poll failed, retrying: ${error instanceof Error ? error.message : String(error)}`,
        );
        await sleep(1_000);
      }
    }
  })();

  return {
    stop: async () => {
      running = false;
      await loop;
      for (const waiter of waiters) waiter.resolve();
      waiters = [];
    },
    idle: () =>
      running
        ? new Promise<void>((resolve) => {
            waiters.push({ after: passes, resolve });
          })
        : Promise.resolve(),
    get batches() {
      return batches;
    },
    name: `${options.functionName} (stream)`,
    source: 'stream',
  };
};
