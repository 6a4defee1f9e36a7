/**
 * The whole service on this machine: emulators, the queue/DLQ and tables from infra/,
 * the partner registry, a demo workspace, the HTTP API and the sync poller. Used by
 * `npm start`, the integration tests and the benchmark.
 */
import { DeleteTableCommand, DescribeTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { SQSClient } from '@aws-sdk/client-sqs';
import { CreateTopicCommand, SNSClient, SubscribeCommand } from '@aws-sdk/client-sns';
import { randomBytes } from 'node:crypto';
import { wireApi } from '../functions/api/wire.js';
import { wireCurrents } from '../functions/currents/wire.js';
import { wireEvents } from '../functions/events/wire.js';
import { wireExport } from '../functions/export/wire.js';
import { wireIngest } from '../functions/ingest/wire.js';
import { wireSync } from '../functions/sync/wire.js';
import { DynamoDBStreamsClient } from '@aws-sdk/client-dynamodb-streams';
import { startStreamPoller, type StreamHandler } from './stream-poller.js';
import type { AdaptiveLimitOptions } from '../lib/concurrency.js';
import { settled } from './settle.js';
import { loadDemoState, saveDemoState } from './demo-state.js';
import { FileBlobStore } from './blob-store.js';
import { DynamoConnectorStore } from '../lib/dynamodb/connector-store.js';
import { CURRENTS_EVENT_TYPES } from '../lib/currents/events.js';
import { SafeHttpClient } from '../lib/webhooks/safe-http.js';
import { startCurrentsReceiver, type CurrentsReceiver } from './currents-receiver.js';
import { join, resolve } from 'node:path';
import type { Tables } from '../lib/config.js';
import { DynamoMembershipStore, TRANSACTION_LOAD } from '../lib/dynamodb/membership-store.js';
import type { DeliveryClock } from '../lib/currents/delivery.js';
import { DynamoUserStore } from '../lib/dynamodb/user-store.js';
import { DynamoWorkspaceStore, type CreatedWorkspace } from '../lib/dynamodb/workspace-store.js';
import type { SizePolicy } from '../lib/segments/size.js';
import { createObservability } from '../lib/observability.js';
import type { CohortQueue } from '../lib/cohorts/ingest.js';
import type { MembershipStore } from '../lib/dynamodb/membership-store.js';
import type { UserDirectory } from '../lib/cohorts/matching.js';
import type { MembershipEventPublisher } from '../lib/cohorts/events.js';
import { assertStrongKey, createKeyHasher, generateKey, keyStrengthProblem } from '../lib/workspaces/keys.js';
import { createTokenCipher } from '../lib/secrets/token-cipher.js';
import { loadOrCreateLocalSecrets } from './secrets.js';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { KNOWN_PARTNERS } from '../lib/workspaces/partners.js';
import {
  LOCAL_CREDENTIALS,
  LOCAL_REGION,
  startDynamoDbEmulator,
  startSqsEmulator,
  type Emulator,
} from './emulators.js';
import { functionTimeoutMs, startGateway } from './gateway.js';
import { folderSite } from '../lib/http/static-site.js';
import { createQueues, createTables, createWatchQueue, type LocalQueues } from './resources.js';
import { avoidZeroVisibilityChanges } from './fauxqs-workarounds.js';
import { startPoller, type Poller, type PollerOptions, type SqsHandler } from './sqs-poller.js';
import { startLocalCampaigns, type LocalCampaignOptions, type LocalCampaigns } from './campaigns.js';

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
  /** How long ingest reuses a credential lookup (default: as in AWS, 30 s); 0 turns its cache off. */
  credentialCacheTtlMs?: number;
  /** Ingest's time (tests move it: key grace periods, the credential cache, the hourly rate-limit window). */
  ingestClock?: () => Date;
  /** When computed segment sizes are stale (tests shorten the windows). */
  segmentSizePolicy?: SizePolicy;
  /** Where segment exports are written (default: .local/exports). */
  exportsFolder?: string;
  /** Print what the local Heap receiver gets (npm start). */
  printCurrents?: boolean;
  /** Time and randomness of Currents deliveries (tests make retries immediate and windows controllable). */
  currentsClock?: DeliveryClock;
  /** Subscribe a watch queue to the membership events topic (the benchmark does without). */
  watchEvents?: boolean;
  /** Start the sync poller (tests may drive the sync handler themselves). */
  poll?: boolean;
  /** Test seams: wrap the ports the handlers use (fault injection). */
  wrapQueue?: (queue: CohortQueue) => CohortQueue;
  wrapMemberships?: (store: MembershipStore) => MembershipStore;
  wrapDirectory?: (directory: UserDirectory) => UserDirectory;
  wrapEventPublisher?: (publisher: MembershipEventPublisher) => MembershipEventPublisher;
  /** First delay of a request the sync puts back under load (default 10 s; tests: 0). */
  requeueDelayBaseSeconds?: number;
  /**
   * Keep everything (tables, queues and their messages, topics, the demo workspace and its
   * keys) under this folder, so that a restart finds it again; absent: in memory only.
   */
  dataDir?: string;
  /**
   * Delete this stack's tables when it stops (not with `dataDir`). For a shared emulator (the
   * test suite's): DynamoDB Local runs every statement on one SQLite thread, and the tables
   * of every earlier test file made it slower for the later ones (stop 23, the cohort soak).
   */
  dropTablesOnStop?: boolean;
  /** Run the events function on the table's stream (default: whenever `poll` is on). */
  pollEvents?: boolean;
  /** Wait before the events function retries a stream batch that failed (default 1 s). */
  eventsRetryDelayMs?: number;
  /** Gives the sync a DynamoDB client of its own, configured here (e.g. fault-injecting middleware). */
  configureSyncDynamoDb?: (client: DynamoDBClient) => void;
  /** The sync's limit on transactions in flight (default TRANSACTION_LOAD; with `configureSyncDynamoDb` only). */
  syncTransactionLoad?: AdaptiveLimitOptions;
  /** Wraps the sync handler as the poller invokes it (e.g. a function that dies mid-batch). */
  wrapSyncHandler?: (handler: SqsHandler) => SqsHandler;
  /** Wraps the events function as the stream poller invokes it (the benchmark times it). */
  wrapEventsHandler?: (handler: StreamHandler) => StreamHandler;
  onBatch?: PollerOptions['onBatch'];
  /** How long the HTTP API waits for a client's headers and for its whole request (defaults: local/gateway.ts). */
  gatewayTimeouts?: { headersMs?: number; requestMs?: number };
  /** Campaigns and Canvases: their clock, retries, ticker, webhook receiver (local/campaigns.ts). */
  campaigns?: LocalCampaignOptions;
  /** The console's built files, served at / (default: dist/console, which `npm start` and `npm run build` write). */
  consoleFolder?: string;
}

export interface LocalStack {
  url: string;
  /** Membership events: the SNS topic, and a queue subscribed to it to watch them arrive. */
  events: { topicArn: string; watchQueueUrl: string };
  /** Segment exports: their queue, and the folder they are written to. */
  exports: { queues: LocalQueues; folder: string };
  /** Currents: the delivery queue, and the receiver standing in for Heap (with the demo connector pointing at it). */
  currents: {
    queues: LocalQueues;
    receiver: CurrentsReceiver;
    connectors: DynamoConnectorStore;
    demoConnectorId: string;
  };
  sqsEndpoint: string;
  dynamoDbEndpoint: string;
  tables: Tables;
  queues: LocalQueues;
  partnerApiKey: string;
  workspace: CreatedWorkspace;
  /** The service secrets (what Secrets Manager holds on AWS): <dataDir>/secrets.json, or a temporary file. */
  secretsFile: string;
  clients: { dynamodb: DynamoDBClient; documents: DynamoDBDocumentClient; sqs: SQSClient; sns: SNSClient };
  stores: { workspaces: DynamoWorkspaceStore; users: DynamoUserStore; memberships: DynamoMembershipStore };
  /** The sync function's membership store (on its own client when `configureSyncDynamoDb` is set): its adaptive transaction limit. */
  syncMemberships: DynamoMembershipStore;
  handlers: {
    ingest: ReturnType<typeof wireIngest>['handler'];
    sync: ReturnType<typeof wireSync>['handler'];
    api: ReturnType<typeof wireApi>['handler'];
    export: ReturnType<typeof wireExport>['handler'];
    currents: ReturnType<typeof wireCurrents>['handler'];
    events: ReturnType<typeof wireEvents>['handler'];
  };
  poller?: Poller;
  eventsPoller?: Poller;
  exportPoller?: Poller;
  currentsPoller?: Poller;
  /** Campaigns and Canvases: store, service, journeys, sender, their queues, the webhook receiver, tick(). */
  campaigns: LocalCampaigns & { service: ReturnType<typeof wireApi>['campaigns'] };
  /**
   * Waits until nothing more will happen: every poller idle, every queue empty, no batch
   * handed out meanwhile (local/settle.ts). Tests call it before asserting an absence.
   */
  settled(timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

/** What `npm run admin -- --local` needs to find a running stack: endpoints and names, never keys. */
export const describeStack = (
  stack: Pick<
    LocalStack,
    'sqsEndpoint' | 'dynamoDbEndpoint' | 'tables' | 'queues' | 'events' | 'currents' | 'secretsFile'
  >,
) => ({
  // Where the pepper and token key are (the CLI hashes keys and seals tokens as the stack does), not them.
  secretsFile: stack.secretsFile,
  sqsEndpoint: stack.sqsEndpoint,
  currentsQueueUrl: stack.currents.queues.queueUrl,
  membershipEventsWatchQueueUrl: stack.events.watchQueueUrl,
  dynamoDbEndpoint: stack.dynamoDbEndpoint,
  tables: stack.tables,
  queueUrl: stack.queues.queueUrl,
  deadLetterQueueUrl: stack.queues.deadLetterQueueUrl,
});

export const startLocalStack = async (options: LocalStackOptions = {}): Promise<LocalStack> => {
  const started: Emulator[] = [];
  let temporaryDir: string | undefined;
  const stopAll = async () => {
    for (const emulator of started.reverse()) await emulator.stop().catch(() => undefined);
    if (temporaryDir) await rm(temporaryDir, { recursive: true, force: true });
  };
  try {
    // Keys a caller chose are refused below 256 bits before anything starts.
    if (options.partnerApiKey !== undefined) assertStrongKey(options.partnerApiKey, 'partner API key');
    if (options.dataImportKey !== undefined) assertStrongKey(options.dataImportKey, 'data import key');
    if (options.restApiKey !== undefined) assertStrongKey(options.restApiKey, 'REST API key');
    const dataDir = options.dataDir && resolve(options.dataDir);
    // Kept with the data (a restart must hash keys with the same pepper); a stack without data gets a throwaway file.
    const secretsFile = dataDir
      ? join(dataDir, 'secrets.json')
      : join((temporaryDir = await mkdtemp(join(tmpdir(), 'local-secrets-'))), 'secrets.json');
    const secrets = await loadOrCreateLocalSecrets(secretsFile);
    const sqsEndpoint =
      options.sqsEndpoint ??
      (started.push(await startSqsEmulator(0, { dataDir: dataDir && `${dataDir}/sqs` })), started.at(-1)!.endpoint);
    const dynamoDbEndpoint =
      options.dynamoDbEndpoint ??
      (started.push(await startDynamoDbEmulator(undefined, { dataDir: dataDir && `${dataDir}/dynamodb` })),
      started.at(-1)!.endpoint);
    const saved = dataDir ? await loadDemoState(dataDir) : undefined;
    const clientConfig = { region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS };
    const dynamodb = new DynamoDBClient({ ...clientConfig, endpoint: dynamoDbEndpoint });
    const documents = DynamoDBDocumentClient.from(dynamodb, { marshallOptions: { removeUndefinedValues: true } });
    const sqs = new SQSClient({ ...clientConfig, endpoint: sqsEndpoint });
    // The SQS emulator this stack started keeps its messages on disk: see local/fauxqs-workarounds.ts.
    if (dataDir && !options.sqsEndpoint) avoidZeroVisibilityChanges(sqs);
    const streams = new DynamoDBStreamsClient({ ...clientConfig, endpoint: dynamoDbEndpoint });
    // fauxqs answers SNS on the same endpoint as SQS.
    const sns = new SNSClient({ ...clientConfig, endpoint: sqsEndpoint });

    const prefix = options.prefix ?? 'local';
    const tables: Tables = {
      workspaces: `${prefix}-workspaces`,
      users: `${prefix}-users`,
      cohorts: `${prefix}-cohorts`,
    };
    await createTables(dynamodb, tables, { existing: dataDir ? 'keep' : 'fail' });
    const queues = await createQueues(
      sqs,
      { queue: `${prefix}-cohort-changes`, deadLetterQueue: `${prefix}-cohort-changes-dlq` },
      { visibilityTimeoutSeconds: options.visibilityTimeoutSeconds ?? 30 },
    );

    const topic = await sns.send(new CreateTopicCommand({ Name: `${prefix}-membership-events` }));
    const watch = await createWatchQueue(sqs, `${prefix}-membership-events-watch`);
    if (options.watchEvents !== false) {
      await sns.send(
        new SubscribeCommand({
          TopicArn: topic.TopicArn,
          Protocol: 'sqs',
          Endpoint: watch.queueArn,
          Attributes: { RawMessageDelivery: 'true' },
        }),
      );
    }
    const events = { topicArn: topic.TopicArn!, watchQueueUrl: watch.queueUrl };
    const exportQueues = await createQueues(
      sqs,
      { queue: `${prefix}-segment-exports`, deadLetterQueue: `${prefix}-segment-exports-dlq` },
      {
        visibilityTimeoutSeconds: options.visibilityTimeoutSeconds ?? 30,
        logicalIds: { queue: 'ExportQueue', deadLetterQueue: 'ExportDeadLetterQueue' },
      },
    );
    const currentsQueues = await createQueues(
      sqs,
      { queue: `${prefix}-currents`, deadLetterQueue: `${prefix}-currents-dlq` },
      {
        visibilityTimeoutSeconds: options.visibilityTimeoutSeconds ?? 30,
        logicalIds: { queue: 'CurrentsQueue', deadLetterQueue: 'CurrentsDeadLetterQueue' },
      },
    );
    // The same port as last time (the demo connector's URL names it), if it is still free.
    const receiver = await startCurrentsReceiver({ print: options.printCurrents, port: saved?.receiverPort }).catch(
      () => startCurrentsReceiver({ print: options.printCurrents }),
    );
    const exportsFolder = resolve(options.exportsFolder ?? '.local/exports');
    const blobs = new FileBlobStore(exportsFolder);

    const keyHasher = createKeyHasher(secrets.keyPepper);
    const tokenCipher = createTokenCipher(secrets.connectorTokenKey);
    // The stack's own stores: it seeds the demo workspace with them, and hands them to its tests.
    const workspaces = new DynamoWorkspaceStore(documents, tables.workspaces, keyHasher);
    const users = new DynamoUserStore(documents, tables.users);
    const memberships = new DynamoMembershipStore(documents, tables.cohorts);

    // A saved partner key from before 256-bit keys (a UUID) is replaced: the store refuses to register it again.
    const savedPartnerApiKey =
      saved?.partnerApiKey && !keyStrengthProblem(saved.partnerApiKey) ? saved.partnerApiKey : undefined;
    const partnerApiKey = options.partnerApiKey ?? savedPartnerApiKey ?? generateKey();
    const partners = options.partners ?? ['heap'];
    for (const partner of KNOWN_PARTNERS) {
      await workspaces.registerPartner(partner, { partnerApiKey, enabled: partners.includes(partner) });
    }
    // A persistent stack finds its demo workspace again (its keys are in the demo state).
    const existing = saved && (await workspaces.getWorkspace(saved.workspaceId));
    const workspace: CreatedWorkspace =
      saved && existing
        ? { ...existing, dataImportKey: saved.dataImportKey, restApiKey: saved.restApiKey }
        : await workspaces.createWorkspace({
            name: 'demo',
            partners,
            workspaceId: `demo-${randomBytes(4).toString('hex')}`,
            dataImportKey: options.dataImportKey,
            restApiKey: options.restApiKey,
          });

    // The sync's client: its own, configured by the caller (e.g. fault-injecting middleware), or the stack's.
    let syncDocuments = documents;
    if (options.configureSyncDynamoDb) {
      const syncClient = new DynamoDBClient({ ...clientConfig, endpoint: dynamoDbEndpoint });
      options.configureSyncDynamoDb(syncClient);
      syncDocuments = DynamoDBDocumentClient.from(syncClient, { marshallOptions: { removeUndefinedValues: true } });
    }

    const connectors = new DynamoConnectorStore(documents, tables.cohorts, tokenCipher);
    const demoConnector =
      (saved && existing && (await connectors.get(workspace.workspaceId, saved.connectorId))) ||
      (await connectors.create(
        {
          workspaceId: workspace.workspaceId,
          url: receiver.url,
          token: generateKey(),
          eventTypes: [...CURRENTS_EVENT_TYPES],
        },
        new Date(),
      ));
    if (dataDir) {
      await saveDemoState(dataDir, {
        workspaceId: workspace.workspaceId,
        partnerApiKey,
        dataImportKey: workspace.dataImportKey,
        restApiKey: workspace.restApiKey,
        connectorId: demoConnector.connectorId,
        receiverPort: Number(new URL(receiver.url).port),
      });
    }
    const localCampaigns = await startLocalCampaigns({
      dynamodb,
      documents,
      newDynamoDbClient: () => new DynamoDBClient({ ...clientConfig, endpoint: dynamoDbEndpoint }),
      sqs,
      sns,
      prefix,
      topicArn: events.topicArn,
      tables,
      visibilityTimeoutSeconds: options.visibilityTimeoutSeconds,
      keepTables: dataDir !== undefined,
      poll: options.poll !== false,
      options: options.campaigns ?? {},
    });
    // Each function wired as on AWS (functions/*/wire.ts), on the emulators' clients and the local secrets.
    const ingest = wireIngest({
      documents,
      sqs,
      tables,
      queueUrl: queues.queueUrl,
      keyHasher,
      requestsPerHour: options.requestsPerHour,
      credentialCacheTtlMs: options.credentialCacheTtlMs,
      clock: options.ingestClock,
      wrapQueue: options.wrapQueue,
      observability: await createObservability('ingest'),
    });
    const sync = wireSync({
      documents: syncDocuments,
      sqs,
      tables,
      queueUrl: queues.queueUrl,
      ...(options.configureSyncDynamoDb ? { transactionLoad: options.syncTransactionLoad ?? TRANSACTION_LOAD } : {}),
      wrapDirectory: options.wrapDirectory,
      wrapMemberships: options.wrapMemberships,
      requeueDelayBaseSeconds: options.requeueDelayBaseSeconds,
      observability: await createObservability('sync'),
    });
    const api = wireApi({
      documents,
      sqs,
      tables,
      keyHasher,
      currentsQueueUrl: currentsQueues.queueUrl,
      exports: { blobs, queueUrl: exportQueues.queueUrl },
      campaigns: {
        table: localCampaigns.table,
        sendQueueUrl: localCampaigns.queues.sends.queueUrl,
        workQueueUrl: localCampaigns.queues.work.queueUrl,
        cacheTtlMs: options.campaigns?.cacheTtlMs ?? 1_000,
        ...(options.campaigns?.horizonMs !== undefined ? { horizonMs: options.campaigns.horizonMs } : {}),
        webhooks: localCampaigns.egress,
        clock: localCampaigns.clock,
        // http webhook URLs too: the local receiver listens on http.
        allowHttp: true,
      },
      credentialCacheTtlMs: options.credentialCacheTtlMs,
      segmentSizePolicy: options.segmentSizePolicy,
      console: folderSite(resolve(options.consoleFolder ?? 'dist/console')),
      observability: await createObservability('api'),
    });
    const campaigns: LocalStack['campaigns'] = { ...localCampaigns, service: api.campaigns };
    const currents = wireCurrents({
      documents,
      sqs,
      tables,
      queueUrl: currentsQueues.queueUrl,
      tokenCipher,
      // The deployed function's egress policy; locally http, and the Heap stand-in on loopback, are allowed too.
      egress: new SafeHttpClient({
        allowHttp: true,
        allowList: [`127.0.0.1:${new URL(receiver.url).port}`, ...(options.campaigns?.allowList ?? [])],
      }),
      clock: options.currentsClock,
      observability: await createObservability('currents'),
    });
    // Reads through the sync's client, so that a limits model or a meter on it sees them too.
    const membershipEvents = wireEvents({
      documents: syncDocuments,
      sns,
      tables,
      topicArn: events.topicArn,
      wrapPublisher: options.wrapEventPublisher,
      observability: await createObservability('events'),
    });
    const segmentExport = wireExport({
      documents,
      sqs,
      tables,
      queueUrl: exportQueues.queueUrl,
      blobs,
      sizePolicy: options.segmentSizePolicy,
      observability: await createObservability('export'),
    });
    const handlers = {
      ingest: ingest.handler,
      sync: sync.handler,
      api: api.handler,
      currents: currents.handler,
      events: membershipEvents.handler,
      export: segmentExport.handler,
    };
    const exportPoller =
      options.poll === false
        ? undefined
        : startPoller({
            client: sqs,
            queueUrl: exportQueues.queueUrl,
            queueArn: exportQueues.queueArn,
            handler: handlers.export,
            functionName: 'export',
            timeoutMs: functionTimeoutMs('export'),
            batchSize: 1,
            concurrency: 1,
          });
    const currentsPoller =
      options.poll === false
        ? undefined
        : startPoller({
            client: sqs,
            queueUrl: currentsQueues.queueUrl,
            queueArn: currentsQueues.queueArn,
            handler: handlers.currents,
            functionName: 'currents',
            timeoutMs: functionTimeoutMs('currents'),
            batchSize: 100,
            concurrency: 1,
          });
    const gateway = await startGateway(
      { ingest: handlers.ingest as never, api: handlers.api as never },
      {
        port: options.port ?? 0,
        host: options.host,
        headersTimeoutMs: options.gatewayTimeouts?.headersMs,
        requestTimeoutMs: options.gatewayTimeouts?.requestMs,
      },
    );
    // The events function reads the cohorts table's stream, as Lambda's event source mapping would.
    const { Table } = await dynamodb.send(new DescribeTableCommand({ TableName: tables.cohorts }));
    const eventsPoller =
      options.poll === false || options.pollEvents === false
        ? undefined
        : startStreamPoller({
            client: streams,
            streamArn: Table!.LatestStreamArn!,
            handler: options.wrapEventsHandler ? options.wrapEventsHandler(handlers.events) : handlers.events,
            functionName: 'events',
            timeoutMs: functionTimeoutMs('events'),
            retryDelayMs: options.eventsRetryDelayMs,
          });
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
      events,
      exports: { queues: exportQueues, folder: exportsFolder },
      currents: { queues: currentsQueues, receiver, connectors, demoConnectorId: demoConnector.connectorId },
      sqsEndpoint,
      dynamoDbEndpoint,
      tables,
      queues,
      partnerApiKey,
      workspace,
      secretsFile,
      clients: { dynamodb, documents, sqs, sns },
      stores: { workspaces, users, memberships },
      syncMemberships: sync.memberships,
      handlers,
      poller,
      exportPoller,
      currentsPoller,
      eventsPoller,
      campaigns,
      settled: (timeoutMs?: number) =>
        settled(
          {
            sqs,
            pollers: [poller, eventsPoller, exportPoller, currentsPoller, ...campaigns.pollers].filter(
              (candidate): candidate is Poller => candidate !== undefined,
            ),
            queues: {
              'cohort-changes': queues.queueUrl,
              'segment-exports': exportQueues.queueUrl,
              currents: currentsQueues.queueUrl,
              'campaign-events': campaigns.queues.events.queueUrl,
              'campaign-work': campaigns.queues.work.queueUrl,
              'campaign-sends': campaigns.queues.sends.queueUrl,
            },
          },
          timeoutMs,
        ),
      stop: async () => {
        await campaigns.stop();
        await poller?.stop();
        await eventsPoller?.stop();
        await exportPoller?.stop();
        await currentsPoller?.stop();
        await receiver.stop();
        await gateway.stop();
        if (options.dropTablesOnStop && !dataDir) {
          for (const table of [...Object.values(tables), `${prefix}-campaigns`])
            await dynamodb.send(new DeleteTableCommand({ TableName: table })).catch(() => undefined);
        }
        sqs.destroy();
        sns.destroy();
        streams.destroy();
        dynamodb.destroy();
        await stopAll();
      },
    };
  } catch (error: unknown) {
    await stopAll();
    throw error;
  }
};
