/**
 * The store's own record of what it applied: every membership flip on the cohorts table's
 * stream, read from its start on every shard, independently of the events function.
 * Part of the chaos soak (test/support/soak.ts).
 */
import { DescribeTableCommand, type AttributeValue } from '@aws-sdk/client-dynamodb';
import {
  DescribeStreamCommand,
  DynamoDBStreamsClient,
  GetRecordsCommand,
  GetShardIteratorCommand,
} from '@aws-sdk/client-dynamodb-streams';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import type { CohortRef } from '../../../lib/cohorts/messages.js';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '../../../local/constants.js';
import type { LocalStack } from '../../../local/stack.js';

export interface StreamFlip {
  ref: CohortRef;
  brazeId: string;
  effect: 'added' | 'removed';
  orderKey: string;
  endedBy?: 'merge' | 'orphan';
}

const REGISTER_PK = /^([^#]+)#M\d{2}#([^#]+)#(.+)$/s;

/**
 * Every register flip the cohorts table's stream holds, read from its start on every
 * shard: the store's own record of what it applied, to hold the events to. Read here on
 * its own (not through the events function), with the stream's images compared directly.
 */
export const readStreamFlips = async (stack: LocalStack): Promise<StreamFlip[]> => {
  const streams = new DynamoDBStreamsClient({
    region: LOCAL_REGION,
    credentials: LOCAL_CREDENTIALS,
    endpoint: stack.dynamoDbEndpoint,
  });
  try {
    const { Table } = await stack.clients.dynamodb.send(new DescribeTableCommand({ TableName: stack.tables.cohorts }));
    const streamArn = Table!.LatestStreamArn!;
    const shardIds: string[] = [];
    let exclusiveStartShardId: string | undefined;
    do {
      const { StreamDescription } = await streams.send(
        new DescribeStreamCommand({ StreamArn: streamArn, ExclusiveStartShardId: exclusiveStartShardId }),
      );
      shardIds.push(...(StreamDescription?.Shards ?? []).map((shard) => shard.ShardId!));
      exclusiveStartShardId = StreamDescription?.LastEvaluatedShardId;
    } while (exclusiveStartShardId);
    const flips: StreamFlip[] = [];
    for (const shardId of shardIds) {
      let { ShardIterator: iterator } = await streams.send(
        new GetShardIteratorCommand({ StreamArn: streamArn, ShardId: shardId, ShardIteratorType: 'TRIM_HORIZON' }),
      );
      while (iterator) {
        const { Records = [], NextShardIterator } = await streams.send(
          new GetRecordsCommand({ ShardIterator: iterator, Limit: 1_000 }),
        );
        for (const record of Records) {
          const keys = unmarshall((record.dynamodb?.Keys ?? {}) as Record<string, AttributeValue>);
          const key = REGISTER_PK.exec(String(keys.pk ?? ''));
          if (
            !key ||
            !String(keys.sk ?? '').startsWith('M#') ||
            record.eventName === 'REMOVE' ||
            !record.dynamodb?.NewImage
          )
            continue;
          const next = unmarshall(record.dynamodb.NewImage as Record<string, AttributeValue>);
          const previous = record.dynamodb.OldImage
            ? unmarshall(record.dynamodb.OldImage as Record<string, AttributeValue>)
            : undefined;
          if ((previous?.member === true) === (next.member === true)) continue;
          flips.push({
            ref: { workspaceId: key[1]!, partner: key[2]!, cohortId: key[3]! },
            brazeId: String(next.brazeId),
            effect: next.member === true ? 'added' : 'removed',
            orderKey: String(next.orderKey),
            // Who ended a membership without a partner's change (lib/dynamodb/membership-store.ts):
            // a merge (its event has an id of its own), or the events function, for a profile
            // that no longer exists (no event; never a pool user's, which are never merged away).
            endedBy: next.endedBy === 'merge' || next.endedBy === 'orphan' ? next.endedBy : undefined,
          });
        }
        // DynamoDB Local answers an open shard's end with no records (AWS may do so mid-shard; this reads Local only).
        if (Records.length === 0) break;
        iterator = NextShardIterator;
      }
    }
    return flips;
  } finally {
    streams.destroy();
  }
};
