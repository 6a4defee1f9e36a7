/**
 * Creates the local queues and tables from the same definitions that CloudFormation
 * deploys (infra/*.yml), so local and AWS cannot drift apart.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import {
  CreateTableCommand,
  ResourceInUseException,
  type DynamoDBClient,
  type CreateTableCommandInput,
  type StreamViewType,
} from '@aws-sdk/client-dynamodb';
import { CreateQueueCommand, GetQueueAttributesCommand, type SQSClient } from '@aws-sdk/client-sqs';
import type { Tables } from '../lib/config.js';

const infraFile = (name: string) => fileURLToPath(new URL(`../infra/${name}`, import.meta.url));

type CfnResources = Record<string, { Type: string; Properties: Record<string, unknown> }>;
const readResources = (name: string): CfnResources =>
  (parse(readFileSync(infraFile(name), 'utf8')) as { Resources: CfnResources }).Resources;

/** CloudFormation logical ids of the tables, by their role. */
export const TABLE_RESOURCES: Record<keyof Tables, string> = {
  workspaces: 'WorkspacesTable',
  users: 'UsersTable',
  cohorts: 'CohortsTable',
};

/** `existing: 'keep'`: a table that already exists (a persistent local stack restarting) is kept as it is. */
export const createTables = async (
  client: DynamoDBClient,
  tables: Tables,
  options: { existing?: 'keep' | 'fail' } = {},
): Promise<void> => {
  const resources = readResources('tables.yml');
  for (const [role, logicalId] of Object.entries(TABLE_RESOURCES) as [keyof Tables, string][]) {
    const properties = resources[logicalId]?.Properties;
    if (!properties) throw new Error(`infra/tables.yml has no ${logicalId}`);
    const input: CreateTableCommandInput = {
      TableName: tables[role],
      BillingMode: properties.BillingMode as CreateTableCommandInput['BillingMode'],
      AttributeDefinitions: properties.AttributeDefinitions as CreateTableCommandInput['AttributeDefinitions'],
      KeySchema: properties.KeySchema as CreateTableCommandInput['KeySchema'],
      GlobalSecondaryIndexes: properties.GlobalSecondaryIndexes as CreateTableCommandInput['GlobalSecondaryIndexes'],
      ...(properties.StreamSpecification
        ? {
            StreamSpecification: {
              StreamEnabled: true,
              ...(properties.StreamSpecification as { StreamViewType: StreamViewType }),
            },
          }
        : {}),
    };
    try {
      await client.send(new CreateTableCommand(input));
    } catch (error: unknown) {
      if (!(options.existing === 'keep' && error instanceof ResourceInUseException)) throw error;
    }
  }
};

export interface LocalQueues {
  queueUrl: string;
  queueArn: string;
  deadLetterQueueUrl: string;
  deadLetterQueueArn: string;
  /** The redrive policy's maxReceiveCount, from infra/queues.yml. */
  maxReceiveCount: number;
  visibilityTimeoutSeconds: number;
}

/**
 * A queue and its DLQ with infra/queues.yml's settings (by their logical ids). Only the
 * visibility timeout may be shortened (AWS's 180 s would make a local retry wait three minutes).
 */
export const createQueues = async (
  client: SQSClient,
  names: { queue: string; deadLetterQueue: string },
  options: { visibilityTimeoutSeconds?: number; logicalIds?: { queue: string; deadLetterQueue: string } } = {},
): Promise<LocalQueues> => {
  const resources = readResources('queues.yml');
  const logicalIds = options.logicalIds ?? { queue: 'CohortQueue', deadLetterQueue: 'CohortDeadLetterQueue' };
  const queue = resources[logicalIds.queue]?.Properties;
  const deadLetter = resources[logicalIds.deadLetterQueue]?.Properties;
  if (!queue || !deadLetter)
    throw new Error(`infra/queues.yml has no ${logicalIds.queue} or ${logicalIds.deadLetterQueue}`);
  const redrive = queue.RedrivePolicy as { maxReceiveCount: number };

  const dlq = await client.send(
    new CreateQueueCommand({
      QueueName: names.deadLetterQueue,
      Attributes: { MessageRetentionPeriod: String(deadLetter.MessageRetentionPeriod) },
    }),
  );
  const dlqArn = await queueArn(client, dlq.QueueUrl!);
  const visibilityTimeoutSeconds = options.visibilityTimeoutSeconds ?? Number(queue.VisibilityTimeout);
  const main = await client.send(
    new CreateQueueCommand({
      QueueName: names.queue,
      Attributes: {
        VisibilityTimeout: String(visibilityTimeoutSeconds),
        MessageRetentionPeriod: String(queue.MessageRetentionPeriod),
        RedrivePolicy: JSON.stringify({ deadLetterTargetArn: dlqArn, maxReceiveCount: redrive.maxReceiveCount }),
      },
    }),
  );
  return {
    queueUrl: main.QueueUrl!,
    queueArn: await queueArn(client, main.QueueUrl!),
    deadLetterQueueUrl: dlq.QueueUrl!,
    deadLetterQueueArn: dlqArn,
    maxReceiveCount: redrive.maxReceiveCount,
    visibilityTimeoutSeconds,
  };
};

const queueArn = async (client: SQSClient, queueUrl: string): Promise<string> => {
  const attributes = await client.send(
    new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['QueueArn'] }),
  );
  return attributes.Attributes!.QueueArn!;
};

/** A plain queue (no DLQ) to watch what a topic publishes, on the local stack. */
export const createWatchQueue = async (
  client: SQSClient,
  name: string,
): Promise<{ queueUrl: string; queueArn: string }> => {
  const created = await client.send(new CreateQueueCommand({ QueueName: name }));
  return { queueUrl: created.QueueUrl!, queueArn: await queueArn(client, created.QueueUrl!) };
};
