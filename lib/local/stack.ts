/**
 * The whole service on this machine: emulators, the queue/DLQ and tables from infra/,
 * the partner registry, a demo workspace, the HTTP API and the sync poller. Used by
 * `npm start`, the integration tests and the benchmark.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { SQSClient } from '@aws-sdk/client-sqs';
import { randomBytes } from 'node:crypto';
import { createApiHandler } from '../../functions/api/app.js';
import { createIngestHandler } from '../../functions/ingest/app.js';
import { createSyncHandler } from '../../functions/sync/app.js';
import type { Tables } from '../config.js';
import { DynamoMembershipStore } from '../dynamodb/membership-store.js';
import { DynamoUserStore } from '../dynamodb/user-store.js';
import { DynamoWorkspaceStore, type CreatedWorkspace } from '../dynamodb/workspace-store.js';
import { createObservability } from '../observability.js';
import { SqsCohortQueue } from '../sqs/cohort-queue.js';
import type { CohortQueue } from '../cohorts/ingest.js';
import type { MembershipStore } from '../dynamodb/membership-store.js';
import type { UserDirectory } from '../cohorts/matching.js';
import { generateKey } from '../workspaces/keys.js';
import { KNOWN_PARTNERS } from '../workspaces/partners.js';
import { LOCAL_CREDENTIALS, LOCAL_REGION, startDynamoDbEmulator, startSqsEmulator, type Emulator } from './emulators.js';
import { functionTimeoutMs, startGateway } from './gateway.js';
import { createQueues, createTables, type LocalQueues } from './resources.js';
import { startPoller, type Poller, type PollerOptions, type SqsHandler } from './sqs-poller.js';

export interface LocalStackOptions {
  /** HTTP port of the API (0: any free port). */
  port?: number;
  host?: string;
  /** Reuse running emulators instead of starting new ones. */
  sqsEndpoint?: string;
  dynamoDbEndpoint?: string;
  /** Prefix of table and queue names; distinct prefixes keep test suites apart. */
  prefix?: string;
  partnerApiKey?: string;
  dataImportKey?: string;
  restApiKey?: string;
  /** Partners enabled for the demo workspace (all registered with `partnerApiKey`). */
  partners?: string[];
  visibilityTimeoutSeconds?: number;
  pollerConcurrency?: number;
  /** Partner requests per hour per partner and workspace (default: the contract's 250,000). */
  requestsPerHour?: number;
  /** Start the sync poller (tests may drive the sync handler themselves). */
  poll?: boolean;
  /** Test seams: wrap the ports the handlers use (fault injection). */
  wrapQueue?: (queue: CohortQueue) => CohortQueue;
  wrapMemberships?: (store: MembershipStore) => MembershipStore;
  wrapDirectory?: (directory: UserDirectory) => UserDirectory;
  /** Gives the sync a DynamoDB client of its own, configured here (e.g. fault-injecting middleware). */
  configureSyncDynamoDb?: (client: DynamoDBClient) => void;
  /** Wraps the sync handler as the poller invokes it (e.g. a function that dies mid-batch). */
  wrapSyncHandler?: (handler: SqsHandler) => SqsHandler;
  onBatch?: PollerOptions['onBatch'];
}

export interface LocalStack {
  url: string;
  sqsEndpoint: string;
  dynamoDbEndpoint: string;
  tables: Tables;
  queues: LocalQueues;
  partnerApiKey: string;
  workspace: CreatedWorkspace;
  clients: { dynamodb: DynamoDBClient; documents: DynamoDBDocumentClient; sqs: SQSClient };
  stores: { workspaces: DynamoWorkspaceStore; users: DynamoUserStore; memberships: DynamoMembershipStore };
  handlers: {
    ingest: ReturnType<typeof createIngestHandler>;
    sync: ReturnType<typeof createSyncHandler>;
    api: ReturnType<typeof createApiHandler>;
  };
  poller?: Poller;
  stop(): Promise<void>;
}

/** What `npm run admin -- --local` needs to find a running stack: endpoints and names, never keys. */
export const describeStack = (stack: Pick<LocalStack, 'sqsEndpoint' | 'dynamoDbEndpoint' | 'tables' | 'queues'>) => ({
  sqsEndpoint: stack.sqsEndpoint,
  dynamoDbEndpoint: stack.dynamoDbEndpoint,
  tables: stack.tables,
  queueUrl: stack.queues.queueUrl,
  deadLetterQueueUrl: stack.queues.deadLetterQueueUrl,
});

export const startLocalStack = async (options: LocalStackOptions = {}): Promise<LocalStack> => {
  const started: Emulator[] = [];
  const stopAll = async () => {
    for (const emulator of started.reverse()) await emulator.stop().catch(() => undefined);
  };
  try {
    const sqsEndpoint = options.sqsEndpoint ?? (started.push(await startSqsEmulator()), started.at(-1)!.endpoint);
    const dynamoDbEndpoint = options.dynamoDbEndpoint ?? (started.push(await startDynamoDbEmulator()), started.at(-1)!.endpoint);
    const clientConfig = { region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS };
    const dynamodb = new DynamoDBClient({ ...clientConfig, endpoint: dynamoDbEndpoint });
    const documents = DynamoDBDocumentClient.from(dynamodb, { marshallOptions: { removeUndefinedValues: true } });
    const sqs = new SQSClient({ ...clientConfig, endpoint: sqsEndpoint });

    const prefix = options.prefix ?? 'local';
    const tables: Tables = { workspaces: `${prefix}-workspaces`, users: `${prefix}-users`, cohorts: `${prefix}-cohorts` };
    await createTables(dynamodb, tables);
    const queues = await createQueues(
      sqs,
      { queue: `${prefix}-cohort-changes`, deadLetterQueue: `${prefix}-cohort-changes-dlq` },
      { visibilityTimeoutSeconds: options.visibilityTimeoutSeconds ?? 30 },
    );

    const workspaces = new DynamoWorkspaceStore(documents, tables.workspaces);
    const users = new DynamoUserStore(documents, tables.users);
    const memberships = new DynamoMembershipStore(documents, tables.cohorts);

    const partnerApiKey = options.partnerApiKey ?? generateKey();
    const partners = options.partners ?? ['heap'];
    for (const partner of KNOWN_PARTNERS) {
      await workspaces.registerPartner(partner, { partnerApiKey, enabled: partners.includes(partner) });
    }
    const workspace = await workspaces.createWorkspace({
      name: 'demo',
      partners,
      workspaceId: `demo-${randomBytes(4).toString('hex')}`,
      dataImportKey: options.dataImportKey,
      restApiKey: options.restApiKey,
    });

    let syncUsers = users;
    let syncMemberships = memberships;
    if (options.configureSyncDynamoDb) {
      const syncClient = new DynamoDBClient({ ...clientConfig, endpoint: dynamoDbEndpoint });
      options.configureSyncDynamoDb(syncClient);
      const syncDocuments = DynamoDBDocumentClient.from(syncClient, { marshallOptions: { removeUndefinedValues: true } });
      syncUsers = new DynamoUserStore(syncDocuments, tables.users);
      syncMemberships = new DynamoMembershipStore(syncDocuments, tables.cohorts);
    }

    const handlers = {
      ingest: createIngestHandler({
        credentials: workspaces,
        requestCounter: workspaces,
        requestsPerHour: options.requestsPerHour,
        queue: (options.wrapQueue ?? ((queue) => queue))(new SqsCohortQueue(sqs, queues.queueUrl)),
        observability: createObservability('ingest'),
      }),
      sync: createSyncHandler({
        directory: (options.wrapDirectory ?? ((directory) => directory))(syncUsers),
        memberships: (options.wrapMemberships ?? ((store) => store))(syncMemberships),
        observability: createObservability('sync'),
      }),
      api: createApiHandler({ credentials: workspaces, users, memberships, cohorts: memberships, observability: createObservability('api') }),
    };
    const gateway = await startGateway(
      { ingest: handlers.ingest as never, api: handlers.api as never },
      { port: options.port ?? 0, host: options.host },
    );
    const poller =
      options.poll === false
        ? undefined
        : startPoller({
            client: sqs,
            queueUrl: queues.queueUrl,
            queueArn: queues.queueArn,
            handler: options.wrapSyncHandler ? options.wrapSyncHandler(handlers.sync) : handlers.sync,
            timeoutMs: functionTimeoutMs('sync'),
            concurrency: options.pollerConcurrency ?? 2,
            onBatch: options.onBatch,
          });

    return {
      url: gateway.url,
      sqsEndpoint,
      dynamoDbEndpoint,
      tables,
      queues,
      partnerApiKey,
      workspace,
      clients: { dynamodb, documents, sqs },
      stores: { workspaces, users, memberships },
      handlers,
      poller,
      stop: async () => {
        await poller?.stop();
        await gateway.stop();
        sqs.destroy();
        dynamodb.destroy();
        await stopAll();
      },
    };
  } catch (error: unknown) {
    await stopAll();
    throw error;
  }
};
