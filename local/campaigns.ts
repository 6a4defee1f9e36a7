/**
 * Campaigns on the local stack: the campaigns table and queues from infra/campaigns.yml,
 * the membership events topic's subscription, pollers standing in for the two functions'
 * event source mappings, a webhook receiver that prints what it gets, and a ticker that
 * puts the minute tick on the work queue (as EventBridge Scheduler does in AWS). Tests
 * leave the ticker off and call `tick()` with the stack's clock moved instead.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import {
  CreateTableCommand,
  ResourceInUseException,
  type CreateTableCommandInput,
  type DynamoDBClient,
} from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { CreateQueueCommand, GetQueueAttributesCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { SubscribeCommand, type SNSClient } from '@aws-sdk/client-sns';
import { wireCampaigns } from '../functions/campaigns/wire.js';
import { wireSender } from '../functions/sender/wire.js';
import type { SenderPorts } from '../lib/campaigns/sender.js';
import type { Tables } from '../lib/config.js';
import { DynamoCampaignStore } from '../lib/dynamodb/campaign-store.js';
import { createObservability } from '../lib/observability.js';
import { SqsWorkQueue } from '../lib/sqs/campaign-queues.js';
import { SafeHttpClient, type WebhookClient } from '../lib/webhooks/safe-http.js';
import { functionTimeoutMs } from './gateway.js';
import { startPoller, type Poller, type SqsHandler } from './sqs-poller.js';
import { startWebhookReceiver } from './webhook-receiver.js';

export interface LocalCampaignOptions {
  /** The campaigns' clock (entries, timers, runs, the sender): tests move it instead of waiting. */
  clock?: () => Date;
  /**
   * What the sender's claim leases are measured on (default: `clock`). A soak that holds the
   * campaigns' clock still while its senders die passes the wall clock, so their claims lapse.
   */
  leaseClock?: () => Date;
  /** Webhook destinations allowed besides the local receiver (which always is). */
  allowList?: string[];
  /** The sender's retry delays and attempts (tests: no delay). */
  retry?: SenderPorts['retry'];
  /** The sender's destination breaker (default: lib/webhooks/breaker.ts's; false: none). */
  breaker?: SenderPorts['breaker'];
  /** Webhooks in flight per sender batch (default 10, as on AWS). */
  webhooksInFlight?: number;
  /** Steps due within this go to the sends queue with a delay (default 5 min; tests 0: every delay is a timer). */
  horizonMs?: number;
  /**
   * How long a sender's claim holds a message (default 2 min, as on AWS). A copy of a
   * message another delivery holds comes back when the lease ends: tests that wait for
   * everything to settle shorten it.
   */
  leaseMs?: number;
  /** How long definitions are reused (default 1 s locally; tests 0). */
  cacheTtlMs?: number;
  /** Put a tick on the work queue this often (default 60 s, as EventBridge Scheduler does in AWS; 0: no ticker). */
  tickEveryMs?: number;
  /** Print what the webhook receiver gets (npm start). */
  print?: boolean;
  receiverPort?: number;
  /** How long a webhook may take to connect and answer (default 10 s, as in AWS; soaks shorten it to time out slow receivers quickly). */
  webhookTimeoutMs?: number;
  /** Replace the HTTP client (fault injection). */
  wrapWebhooks?: (
    client: WebhookClient & SafeHttpClient,
  ) => WebhookClient & Partial<Pick<SafeHttpClient, 'destination'>>;
  /**
   * Gives the campaigns and sender functions a DynamoDB client of their own for the campaigns
   * table and membership reads, configured here (e.g. throttling from the AWS-limits model);
   * the API keeps the stack's.
   */
  configureDynamoDb?: (client: DynamoDBClient) => void;
  /** Wrap the sender handler as the poller invokes it (e.g. deliver records twice). */
  wrapSenderHandler?: (handler: SqsHandler) => SqsHandler;
  /** Wrap the campaigns handler as the pollers invoke it. */
  wrapCampaignsHandler?: (handler: SqsHandler) => SqsHandler;
  /** Sender invocations at once (default 4). */
  senderConcurrency?: number;
  /** Records per sender invocation (default 100, as serverless.yml's batchSize). */
  senderBatchSize?: number;
}

export interface LocalCampaignQueues {
  events: LocalQueue;
  work: LocalQueue;
  sends: LocalQueue;
}
interface LocalQueue {
  queueUrl: string;
  queueArn: string;
  deadLetterQueueUrl: string;
}

type CfnResources = Record<string, { Type: string; Properties: Record<string, unknown> }>;
const resources = (): CfnResources =>
  (
    parse(readFileSync(fileURLToPath(new URL('../infra/campaigns.yml', import.meta.url)), 'utf8')) as {
      Resources: CfnResources;
    }
  ).Resources;

const queueArnOf = async (client: SQSClient, queueUrl: string) =>
  (await client.send(new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['QueueArn'] }))).Attributes!
    .QueueArn!;

const createQueue = async (
  client: SQSClient,
  definitions: CfnResources,
  logicalId: string,
  name: string,
  visibilityTimeoutSeconds: number | undefined,
): Promise<LocalQueue> => {
  const queue = definitions[logicalId]!.Properties;
  const redrive = queue.RedrivePolicy as { maxReceiveCount: number };
  const dlqId = `${logicalId.replace(/Queue$/, '')}DeadLetterQueue`;
  const dlq = await client.send(
    new CreateQueueCommand({
      QueueName: `${name}-dlq`,
      Attributes: { MessageRetentionPeriod: String(definitions[dlqId]!.Properties.MessageRetentionPeriod) },
    }),
  );
  const main = await client.send(
    new CreateQueueCommand({
      QueueName: name,
      Attributes: {
        VisibilityTimeout: String(visibilityTimeoutSeconds ?? queue.VisibilityTimeout),
        MessageRetentionPeriod: String(queue.MessageRetentionPeriod),
        RedrivePolicy: JSON.stringify({
          deadLetterTargetArn: await queueArnOf(client, dlq.QueueUrl!),
          maxReceiveCount: redrive.maxReceiveCount,
        }),
      },
    }),
  );
  return {
    queueUrl: main.QueueUrl!,
    queueArn: await queueArnOf(client, main.QueueUrl!),
    deadLetterQueueUrl: dlq.QueueUrl!,
  };
};

export const startLocalCampaigns = async (context: {
  dynamodb: DynamoDBClient;
  documents: DynamoDBDocumentClient;
  /** A new client to the same DynamoDB endpoint (for `configureDynamoDb`). */
  newDynamoDbClient: () => DynamoDBClient;
  sqs: SQSClient;
  sns: SNSClient;
  prefix: string;
  topicArn: string;
  tables: Pick<Tables, 'users' | 'cohorts'>;
  visibilityTimeoutSeconds?: number;
  keepTables: boolean;
  poll: boolean;
  options: LocalCampaignOptions;
}) => {
  const { sqs, documents, options } = context;
  const definitions = resources();
  const table = `${context.prefix}-campaigns`;
  const tableProperties = definitions.CampaignsTable!.Properties;
  try {
    await context.dynamodb.send(
      new CreateTableCommand({
        TableName: table,
        BillingMode: tableProperties.BillingMode as CreateTableCommandInput['BillingMode'],
        AttributeDefinitions: tableProperties.AttributeDefinitions as CreateTableCommandInput['AttributeDefinitions'],
        KeySchema: tableProperties.KeySchema as CreateTableCommandInput['KeySchema'],
      }),
    );
  } catch (error: unknown) {
    if (!(context.keepTables && error instanceof ResourceInUseException)) throw error;
  }
  const queues: LocalCampaignQueues = {
    events: await createQueue(
      sqs,
      definitions,
      'CampaignEventsQueue',
      `${context.prefix}-campaign-events`,
      context.visibilityTimeoutSeconds,
    ),
    work: await createQueue(
      sqs,
      definitions,
      'CampaignWorkQueue',
      `${context.prefix}-campaign-work`,
      context.visibilityTimeoutSeconds,
    ),
    sends: await createQueue(
      sqs,
      definitions,
      'WebhookSendQueue',
      `${context.prefix}-webhook-sends`,
      context.visibilityTimeoutSeconds,
    ),
  };
  await context.sns.send(
    new SubscribeCommand({
      TopicArn: context.topicArn,
      Protocol: 'sqs',
      Endpoint: queues.events.queueArn,
      Attributes: { RawMessageDelivery: 'true' },
    }),
  );

  const receiver = await startWebhookReceiver({ print: options.print, port: options.receiverPort }).catch(() =>
    startWebhookReceiver({ print: options.print }),
  );
  const clock = options.clock ?? (() => new Date());
  // The stack's own view of the campaigns table, for its tests.
  const store = new DynamoCampaignStore(documents, table);
  let campaignDocuments = documents;
  if (options.configureDynamoDb) {
    const client = context.newDynamoDbClient();
    options.configureDynamoDb(client);
    campaignDocuments = DynamoDBDocumentClient.from(client, { marshallOptions: { removeUndefinedValues: true } });
  }
  const safe = new SafeHttpClient({
    allowHttp: true,
    allowList: [`127.0.0.1:${receiver.port}`, ...(options.allowList ?? [])],
    ...(options.webhookTimeoutMs !== undefined ? { timeoutMs: options.webhookTimeoutMs } : {}),
  });
  const webhooks = options.wrapWebhooks ? options.wrapWebhooks(safe) : safe;
  const config = { table, sendQueueUrl: queues.sends.queueUrl, workQueueUrl: queues.work.queueUrl };
  // Both functions wired as on AWS (functions/*/wire.ts), on the emulators' clients, with the tests' tuning.
  const campaigns = wireCampaigns({
    documents,
    campaignDocuments,
    sqs,
    tables: context.tables,
    config,
    clock,
    tuning: { horizonMs: options.horizonMs, cacheTtlMs: options.cacheTtlMs ?? 1_000 },
    observability: await createObservability('campaigns'),
  });
  const sending = wireSender({
    documents,
    campaignDocuments,
    sqs,
    tables: context.tables,
    config,
    webhooks,
    clock,
    tuning: {
      ...(options.leaseClock ? { leaseClock: options.leaseClock } : {}),
      retry: options.retry,
      leaseMs: options.leaseMs,
      cacheTtlMs: options.cacheTtlMs ?? 1_000,
      ...(options.breaker !== undefined ? { breaker: options.breaker } : {}),
      ...(options.webhooksInFlight !== undefined ? { concurrency: options.webhooksInFlight } : {}),
    },
    observability: await createObservability('sender'),
  });
  const { journeys } = campaigns;
  const { sender } = sending;
  // The ticker's own handle on the work queue, as EventBridge Scheduler's target is on AWS.
  const work = new SqsWorkQueue(sqs, queues.work.queueUrl);
  const handlers = { campaigns: campaigns.handler, sender: sending.handler };
  const campaignsHandler = (options.wrapCampaignsHandler ?? ((handler) => handler))(handlers.campaigns as SqsHandler);
  const pollers: Poller[] = context.poll
    ? [
        startPoller({
          client: sqs,
          queueUrl: queues.events.queueUrl,
          queueArn: queues.events.queueArn,
          handler: campaignsHandler,
          functionName: 'campaigns',
          timeoutMs: functionTimeoutMs('campaigns'),
          batchSize: 10,
          concurrency: 2,
        }),
        startPoller({
          client: sqs,
          queueUrl: queues.work.queueUrl,
          queueArn: queues.work.queueArn,
          handler: campaignsHandler,
          functionName: 'campaigns',
          timeoutMs: functionTimeoutMs('campaigns'),
          batchSize: 1,
          concurrency: 2,
        }),
        startPoller({
          client: sqs,
          queueUrl: queues.sends.queueUrl,
          queueArn: queues.sends.queueArn,
          handler: (options.wrapSenderHandler ?? ((handler) => handler))(handlers.sender as SqsHandler),
          functionName: 'sender',
          timeoutMs: functionTimeoutMs('sender'),
          batchSize: options.senderBatchSize ?? 100,
          concurrency: options.senderConcurrency ?? 4,
        }),
      ]
    : [];
  const tickEveryMs = options.tickEveryMs ?? 60_000;
  const ticker =
    context.poll && tickEveryMs > 0
      ? setInterval(() => {
          work.send([{ v: 1, type: 'campaign.tick' }]).catch((error: unknown) => {
            console.error('[campaigns] tick not queued:', error);
          });
        }, tickEveryMs)
      : undefined;
  return {
    table,
    queues,
    store,
    journeys,
    sender,
    handlers,
    receiver,
    webhooks: safe,
    /** What the functions send webhooks through (`webhooks`, or what `wrapWebhooks` made of it): the API's test sends too. */
    egress: webhooks,
    /** The campaigns' clock (the API's campaign service is on it too). */
    clock,
    /** The pollers standing in for the campaigns and sender functions' event source mappings (none without polling). */
    pollers,
    /** Runs the minute tick now (as the scheduler's message would), with the campaigns' clock. */
    tick: () => journeys.tick(),
    stop: async () => {
      if (ticker) clearInterval(ticker);
      await Promise.all(pollers.map((poller) => poller.stop()));
      safe.close();
      await receiver.stop();
    },
  };
};

export type LocalCampaigns = Awaited<ReturnType<typeof startLocalCampaigns>>;
