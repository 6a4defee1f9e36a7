/**
 * Export jobs live in the Cohorts table: pk <ws>#EXPORTS, sk <exportId>. Each chunk of an
 * export advances the job with a conditional update on the number of parts written, so
 * two workers running the same chunk (a redelivery) cannot both advance it.
 */
import { GetCommand, PutCommand, UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import type { ExportJob, ExportStore } from '../segments/ports.js';

const listKey = (workspaceId: string) => `${workspaceId}#EXPORTS`;
const EXPORT_TTL_SECONDS = 30 * 24 * 3600;

export class DynamoExportStore implements ExportStore {
  constructor(
    private readonly client: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  async create(job: ExportJob): Promise<void> {
    await this.client.send(
      new PutCommand({
        TableName: this.tableName,
        Item: {
          pk: listKey(job.workspaceId),
          sk: job.exportId,
          ...job,
          ttl: Math.floor(Date.parse(job.startedAt) / 1000) + EXPORT_TTL_SECONDS,
        },
        ConditionExpression: 'attribute_not_exists(sk)',
      }),
    );
  }

  async get(workspaceId: string, exportId: string): Promise<ExportJob | undefined> {
    const response = await this.client.send(
      new GetCommand({
        TableName: this.tableName,
        Key: { pk: listKey(workspaceId), sk: exportId },
        ConsistentRead: true,
      }),
    );
    if (!response.Item) return undefined;
    const { pk: _pk, sk: _sk, ttl: _ttl, ...job } = response.Item;
    return job as ExportJob;
  }

  /** Records one more part; false if another worker advanced the job first. */
  async advance(
    job: ExportJob,
    update: { part: string; cursor?: string; users: number; done: boolean; manifest?: string },
    now: Date,
  ): Promise<boolean> {
    try {
      await this.client.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { pk: listKey(job.workspaceId), sk: job.exportId },
          UpdateExpression: `SET parts = list_append(parts, :part), usersWritten = usersWritten + :users, updatedAt = :now, #status = :status${
            update.cursor !== undefined ? ', #cursor = :cursor' : ''
          }${update.done ? ', finishedAt = :now' : ''}${update.manifest !== undefined ? ', manifest = :manifest' : ''}`,
          ConditionExpression: 'size(parts) = :written AND #status = :running',
          ExpressionAttributeNames: {
            '#status': 'status',
            ...(update.cursor !== undefined ? { '#cursor': 'cursor' } : {}),
          },
          ExpressionAttributeValues: {
            ':part': [update.part],
            ':users': update.users,
            ':now': now.toISOString(),
            ':status': update.done ? 'done' : 'running',
            ':written': job.parts.length,
            ':running': 'running',
            ...(update.cursor !== undefined ? { ':cursor': update.cursor } : {}),
            ...(update.manifest !== undefined ? { ':manifest': update.manifest } : {}),
          },
        }),
      );
      return true;
    } catch (error: unknown) {
      if (error instanceof ConditionalCheckFailedException) return false;
      throw error;
    }
  }
}
