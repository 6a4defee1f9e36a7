/**
 * Segments live in the Cohorts table, beside the cohorts they are built on:
 *   pk <ws>#SEGMENTS, sk <segmentId>   name, filter, createdAt, updatedAt,
 *                                      computedSize? {value, computedAt}, sizeJob? (a size computation queued or running)
 * A size job's every write is conditioned on its id and on the chunks written so far, so
 * a duplicate delivery advances nothing, and a job superseded by an edit of the filter (a
 * new id, or none) can no longer write its result.
 */
import {
  DeleteCommand,
  GetCommand,
  PutCommand,
  UpdateCommand,
  type DynamoDBDocumentClient,
} from '@aws-sdk/lib-dynamodb';
import { batchGetAll, queryPage } from './batch.js';
import { searchMatcher } from '../paging.js';
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { generateId } from '../workspaces/keys.js';
import { ConflictError } from '../errors.js';
import { sameFilter, type Filter } from '../segments/filter.js';
import type { ComputedSize, Segment, SegmentStore, SizeJob, SizeRange } from '../segments/ports.js';

const listKey = (workspaceId: string) => `${workspaceId}#SEGMENTS`;

const toSegment = (item: Record<string, unknown>): Segment => ({
  segmentId: item.sk as string,
  name: item.name as string,
  filter: item.filter as Filter,
  createdAt: item.createdAt as string,
  updatedAt: item.updatedAt as string,
  ...(item.computedSize ? { computedSize: item.computedSize as ComputedSize } : {}),
  ...(item.sizeJob ? { sizeJob: item.sizeJob as SizeJob } : {}),
});

const failedCondition = async (write: Promise<unknown>): Promise<boolean> => {
  try {
    await write;
    return false;
  } catch (error: unknown) {
    if (error instanceof ConditionalCheckFailedException) return true;
    throw error;
  }
};

/** Updates that lose to concurrent ones this many times in a row answer 409. */
const MAX_UPDATE_ATTEMPTS = 5;
const changedSince = (segmentId: string) =>
  new ConflictError(
    `Segment ${segmentId} was changed since the version this update was made from (If-Match): read it again and reapply the change`,
  );

export class DynamoSegmentStore implements SegmentStore {
  constructor(
    private readonly client: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  /** A new segment; with `sizeJob` when its size is to be computed (queued by the caller once this is written). */
  async create(
    workspaceId: string,
    input: { name: string; filter: Filter },
    now: Date,
    sizeJob?: SizeJob,
  ): Promise<Segment> {
    const segment: Segment = {
      segmentId: generateId(),
      ...input,
      createdAt: now.toISOString(),
      updatedAt: now.toISOString(),
      ...(sizeJob ? { sizeJob } : {}),
    };
    const { segmentId, ...fields } = segment;
    await this.client.send(
      new PutCommand({
        TableName: this.tableName,
        Item: { pk: listKey(workspaceId), sk: segmentId, ...fields },
        ConditionExpression: 'attribute_not_exists(sk)',
      }),
    );
    return segment;
  }

  async names(workspaceId: string, segmentIds: readonly string[]): Promise<Map<string, string>> {
    const items = await batchGetAll(
      this.client,
      this.tableName,
      [...new Set(segmentIds)].map((segmentId) => ({ pk: listKey(workspaceId), sk: segmentId })),
      { attributes: ['sk', 'name'] },
    );
    return new Map(items.map((item) => [item.sk as string, item.name as string]));
  }

  async get(workspaceId: string, segmentId: string): Promise<Segment | undefined> {
    const response = await this.client.send(
      new GetCommand({
        TableName: this.tableName,
        Key: { pk: listKey(workspaceId), sk: segmentId },
        ConsistentRead: true,
      }),
    );
    return response.Item && toSegment(response.Item);
  }

  async listPage(
    workspaceId: string,
    page: { limit: number; after?: string; search?: string; order?: 'asc' | 'desc' },
  ): Promise<{ segments: Segment[]; next?: string }> {
    const pk = listKey(workspaceId);
    const matches = searchMatcher(page.search);
    const found = await queryPage(
      this.client,
      {
        TableName: this.tableName,
        KeyConditionExpression: 'pk = :pk',
        ExpressionAttributeValues: { ':pk': pk },
        ScanIndexForward: page.order !== 'desc',
        pk,
      },
      {
        limit: page.limit,
        ...(page.after === undefined ? {} : { after: page.after }),
        ...(matches ? { keep: (item) => matches({ name: item.name, id: item.sk }) } : {}),
      },
    );
    return { segments: found.items.map(toSegment), ...(found.next !== undefined ? { next: found.next } : {}) };
  }

  /**
   * Replaces name and filter; undefined if there is no such segment. A new filter drops
   * the computed size (it was another audience's) and any job computing it, and takes
   * `sizeJob` when given; the same filter keeps both.
   */
  async update(
    workspaceId: string,
    segmentId: string,
    input: { name: string; filter: Filter },
    now: Date,
    sizeJob?: SizeJob,
    expectedUpdatedAt?: string,
  ): Promise<{ segment: Segment; filterChanged: boolean } | undefined> {
    for (let attempt = 1; ; attempt += 1) {
      const existing = await this.get(workspaceId, segmentId);
      if (!existing) return undefined;
      if (expectedUpdatedAt !== undefined && existing.updatedAt !== expectedUpdatedAt) throw changedSince(segmentId);
      // Whether the filter changed decides what the size keeps: decided from this version, written over it only.
      const filterChanged = !sameFilter(existing.filter, input.filter);
      const sets = [
        '#name = :name',
        '#filter = :filter',
        'updatedAt = :now',
        ...(filterChanged && sizeJob ? ['sizeJob = :job'] : []),
      ];
      const removes = filterChanged ? ['computedSize', ...(sizeJob ? [] : ['sizeJob'])] : [];
      try {
        const response = await this.client.send(
          new UpdateCommand({
            TableName: this.tableName,
            Key: { pk: listKey(workspaceId), sk: segmentId },
            UpdateExpression: `SET ${sets.join(', ')}${removes.length > 0 ? ` REMOVE ${removes.join(', ')}` : ''}`,
            ConditionExpression: 'attribute_exists(sk) AND updatedAt = :read',
            // Both are DynamoDB reserved words.
            ExpressionAttributeNames: { '#name': 'name', '#filter': 'filter' },
            ExpressionAttributeValues: {
              ':name': input.name,
              ':filter': input.filter,
              ':now': now.toISOString(),
              ':read': existing.updatedAt,
              ...(filterChanged && sizeJob ? { ':job': sizeJob } : {}),
            },
            ReturnValues: 'ALL_NEW',
          }),
        );
        return { segment: toSegment(response.Attributes!), filterChanged };
      } catch (error: unknown) {
        if (!(error instanceof ConditionalCheckFailedException)) throw error;
        // Deleted (the next read says so), or changed meanwhile: the client's version is gone, or decide again.
        if (expectedUpdatedAt !== undefined || attempt >= MAX_UPDATE_ATTEMPTS) {
          if (!(await this.get(workspaceId, segmentId))) return undefined;
          throw changedSince(segmentId);
        }
      }
    }
  }

  async delete(workspaceId: string, segmentId: string): Promise<boolean> {
    const response = await this.client.send(
      new DeleteCommand({
        TableName: this.tableName,
        Key: { pk: listKey(workspaceId), sk: segmentId },
        ReturnValues: 'ALL_OLD',
      }),
    );
    return response.Attributes !== undefined;
  }

  /**
   * Records a size job unless one is already under way (a job silent since
   * `presumedLostBefore` does not count). True when this caller recorded it, and so
   * queues it: of concurrent requests that find a size stale, one queues the job.
   */
  async requestSizeJob(
    workspaceId: string,
    segmentId: string,
    job: SizeJob,
    presumedLostBefore: Date,
  ): Promise<boolean> {
    return !(await failedCondition(
      this.client.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { pk: listKey(workspaceId), sk: segmentId },
          UpdateExpression: 'SET sizeJob = :job',
          ConditionExpression: 'attribute_exists(sk) AND (attribute_not_exists(sizeJob) OR sizeJob.progressAt < :lost)',
          ExpressionAttributeValues: { ':job': job, ':lost': presumedLostBefore.toISOString() },
        }),
      ),
    ));
  }

  /** Records a chunk of counting; false if the job was superseded or another worker wrote this chunk first. */
  async advanceSizeJob(
    workspaceId: string,
    segmentId: string,
    job: SizeJob,
    progress: { startedAt: string; ranges: SizeRange[] },
    now: Date,
  ): Promise<boolean> {
    return !(await failedCondition(
      this.client.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { pk: listKey(workspaceId), sk: segmentId },
          UpdateExpression:
            'SET sizeJob.ranges = :ranges, sizeJob.startedAt = :startedAt, sizeJob.chunks = :next, sizeJob.progressAt = :now',
          ConditionExpression: 'sizeJob.jobId = :jobId AND sizeJob.chunks = :chunks',
          ExpressionAttributeValues: {
            ':ranges': progress.ranges,
            ':startedAt': progress.startedAt,
            ':next': job.chunks + 1,
            ':now': now.toISOString(),
            ':jobId': job.jobId,
            ':chunks': job.chunks,
          },
        }),
      ),
    ));
  }

  /** Stores the job's result and ends it; false if the job was superseded or already finished. */
  async finishSizeJob(workspaceId: string, segmentId: string, job: SizeJob, size: ComputedSize): Promise<boolean> {
    return !(await failedCondition(
      this.client.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { pk: listKey(workspaceId), sk: segmentId },
          UpdateExpression: 'SET computedSize = :size REMOVE sizeJob',
          ConditionExpression: 'sizeJob.jobId = :jobId AND sizeJob.chunks = :chunks',
          ExpressionAttributeValues: { ':size': size, ':jobId': job.jobId, ':chunks': job.chunks },
        }),
      ),
    ));
  }
}
