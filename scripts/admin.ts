/**
 * Operator CLI. The same code path works against AWS (tables and queues named after the
 * stage, credentials from the usual AWS chain) and against the local stack (`--local`,
 * while `npm start` runs).
 *
 *   npm run admin -- workspace create --name acme --partners heap[,segment]
 *   npm run admin -- workspace show --workspace W
 *   npm run admin -- workspace partners --workspace W --partners heap,segment
 *   npm run admin -- workspace rotate-key --workspace W --kind data_import|rest [--grace-seconds 3600]
 *   npm run admin -- partner register --partner heap [--disabled]
 *   npm run admin -- partner enable|disable --partner segment
 *   npm run admin -- dlq redrive [--max 100]
 *   npm run admin -- dlq count
 *   npm run admin -- events tail            (local stack: prints membership events as they arrive)
 *   npm run admin -- currents create --workspace W --url https://… [--token T] --events users.behaviors.CustomEvent,users.behaviors.Purchase
 *   npm run admin -- currents list --workspace W
 *   npm run admin -- currents pause|resume|delete --workspace W --connector C
 *   npm run admin -- currents dead-letters --workspace W --connector C
 *   npm run admin -- currents replay --workspace W --connector C      (re-queues the dropped events)
 * Options: --local [--stack-file .local/stack.json] | --stage dev --region us-east-1
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import {
  DeleteMessageCommand,
  GetQueueAttributesCommand,
  GetQueueUrlCommand,
  ReceiveMessageCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { DynamoWorkspaceStore } from '../lib/dynamodb/workspace-store.js';
import { redriveDeadLetters } from '../lib/sqs/redrive.js';
import { DynamoConnectorStore } from '../lib/dynamodb/connector-store.js';
import { SqsCurrentsQueue } from '../lib/sqs/currents-queue.js';
import { CURRENTS_EVENT_TYPES } from '../lib/currents/events.js';
import { isKnownPartner, KNOWN_PARTNERS } from '../lib/workspaces/partners.js';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '../lib/local/constants.js';
import type { Tables } from '../lib/config.js';

const SERVICE = 'heap-braze-cohort-import';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    local: { type: 'boolean', default: false },
    // Where `npm start` describes the running local stack (endpoints and names, no keys).
    'stack-file': { type: 'string', default: '.local/stack.json' },
    stage: { type: 'string', default: process.env.STAGE ?? 'dev' },
    region: { type: 'string', default: process.env.AWS_REGION ?? 'us-east-1' },
    name: { type: 'string' },
    workspace: { type: 'string' },
    partners: { type: 'string' },
    partner: { type: 'string' },
    kind: { type: 'string' },
    'grace-seconds': { type: 'string', default: '0' },
    disabled: { type: 'boolean', default: false },
    max: { type: 'string' },
    url: { type: 'string' },
    token: { type: 'string' },
    events: { type: 'string' },
    connector: { type: 'string' },
  },
});

const fail = (message: string): never => {
  console.error(message);
  process.exit(2);
};

interface Target {
  tables: Tables;
  /** Local stack only: the queue subscribed to the membership events topic. */
  watchQueueUrl?: string;
  queueNames: { queue: string; deadLetterQueue: string; currents: string };
  dynamodb: DynamoDBClient;
  sqs: SQSClient;
}

const target = (): Target => {
  if (values.local) {
    let stack: {
      sqsEndpoint: string;
      dynamoDbEndpoint: string;
      tables: Tables;
      queueUrl: string;
      deadLetterQueueUrl: string;
      membershipEventsWatchQueueUrl: string;
      currentsQueueUrl: string;
    };
    try {
      stack = JSON.parse(readFileSync(values['stack-file']!, 'utf8'));
    } catch {
      return fail(`No local stack found (${values['stack-file']}): run \`npm start\` first.`);
    }
    const config = { region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS };
    return {
      tables: stack.tables,
      watchQueueUrl: stack.membershipEventsWatchQueueUrl,
      queueNames: {
        queue: stack.queueUrl.split('/').pop()!,
        deadLetterQueue: stack.deadLetterQueueUrl.split('/').pop()!,
        currents: stack.currentsQueueUrl.split('/').pop()!,
      },
      dynamodb: new DynamoDBClient({ ...config, endpoint: stack.dynamoDbEndpoint }),
      sqs: new SQSClient({ ...config, endpoint: stack.sqsEndpoint }),
    };
  }
  const prefix = `${SERVICE}-${values.stage}`;
  return {
    tables: {
      workspaces: process.env.WORKSPACES_TABLE ?? `${prefix}-workspaces`,
      users: process.env.USERS_TABLE ?? `${prefix}-users`,
      cohorts: process.env.COHORTS_TABLE ?? `${prefix}-cohorts`,
    },
    queueNames: {
      queue: `${prefix}-cohort-changes`,
      deadLetterQueue: `${prefix}-cohort-changes-dlq`,
      currents: `${prefix}-currents`,
    },
    dynamodb: new DynamoDBClient({ region: values.region }),
    sqs: new SQSClient({ region: values.region }),
  };
};

const partnerList = (raw: string | undefined): string[] => {
  const partners = (raw ?? '')
    .split(',')
    .map((name) => name.trim())
    .filter(Boolean);
  const unknown = partners.filter((name) => !isKnownPartner(name));
  if (partners.length === 0 || unknown.length > 0)
    fail(`--partners takes a comma list of: ${KNOWN_PARTNERS.join(', ')}`);
  return partners;
};

const required = (name: keyof typeof values): string => {
  const value = values[name];
  return typeof value === 'string' && value !== '' ? value : fail(`--${name} is required`);
};

const main = async () => {
  const [area, command] = positionals;
  const { tables, queueNames, dynamodb, sqs, watchQueueUrl } = target();
  const documents = DynamoDBDocumentClient.from(dynamodb);
  const workspaces = new DynamoWorkspaceStore(documents, tables.workspaces);
  const connectors = new DynamoConnectorStore(documents, tables.cohorts);
  const queueUrl = async (name: string) => (await sqs.send(new GetQueueUrlCommand({ QueueName: name }))).QueueUrl!;

  switch (`${area} ${command}`) {
    case 'workspace create': {
      const created = await workspaces.createWorkspace({
        name: required('name'),
        partners: partnerList(values.partners),
      });
      console.log(`Workspace ${created.name} (${created.workspaceId}), partners: ${created.partners.join(', ')}`);
      console.log(`Data import key (give it to the partner as client_secret): ${created.dataImportKey}`);
      console.log(`REST API key (Authorization: Bearer …):                  ${created.restApiKey}`);
      console.log('These keys are shown once; only their hashes are stored.');
      return;
    }
    case 'workspace show': {
      const workspace = await workspaces.getWorkspace(required('workspace'));
      if (!workspace) fail('No such workspace');
      console.log(JSON.stringify(workspace, null, 2));
      return;
    }
    case 'workspace partners': {
      const updated = await workspaces.setWorkspacePartners(required('workspace'), partnerList(values.partners));
      console.log(`Workspace ${updated.workspaceId} now accepts: ${updated.partners.join(', ')}`);
      return;
    }
    case 'workspace rotate-key': {
      const kind = required('kind');
      if (kind !== 'data_import' && kind !== 'rest') fail('--kind is data_import or rest');
      const grace = Number(values['grace-seconds']);
      const key = await workspaces.rotateKey(required('workspace'), kind as 'data_import' | 'rest', grace);
      console.log(`New ${kind} key: ${key}`);
      console.log(grace > 0 ? `The old key keeps working for ${grace} s.` : 'The old key no longer works.');
      return;
    }
    case 'partner register': {
      const partner = required('partner');
      if (!isKnownPartner(partner)) fail(`Unknown partner; known: ${KNOWN_PARTNERS.join(', ')}`);
      const key = await workspaces.registerPartner(partner, { enabled: !values.disabled });
      console.log(`Partner API key for ${partner} (give it to the partner as partner_api_key): ${key}`);
      return;
    }
    case 'partner enable':
    case 'partner disable': {
      await workspaces.setPartnerEnabled(required('partner'), command === 'enable');
      console.log(`Partner ${values.partner} ${command}d.`);
      return;
    }
    case 'dlq redrive': {
      const result = await redriveDeadLetters(
        sqs,
        { deadLetterQueueUrl: await queueUrl(queueNames.deadLetterQueue), queueUrl: await queueUrl(queueNames.queue) },
        { max: values.max ? Number(values.max) : undefined },
      );
      console.log(
        `Moved ${result.moved} message(s) from the DLQ back to the cohort queue${result.failed ? `; ${result.failed} could not be sent and stay in the DLQ` : ''}.`,
      );
      return;
    }
    case 'dlq count': {
      const attributes = await sqs.send(
        new GetQueueAttributesCommand({
          QueueUrl: await queueUrl(queueNames.deadLetterQueue),
          AttributeNames: ['ApproximateNumberOfMessages'],
        }),
      );
      console.log(`${attributes.Attributes?.ApproximateNumberOfMessages ?? 0} message(s) in the DLQ.`);
      return;
    }
    case 'currents create': {
      const eventTypes = (values.events ?? '')
        .split(',')
        .map((name) => name.trim())
        .filter(Boolean);
      const unknown = eventTypes.filter((name) => !(CURRENTS_EVENT_TYPES as readonly string[]).includes(name));
      if (eventTypes.length === 0 || unknown.length > 0)
        fail(`--events takes a comma list of: ${CURRENTS_EVENT_TYPES.join(', ')}`);
      const url = required('url');
      if (!/^https?:\/\//.test(url)) fail('--url must be an http(s) URL');
      const workspaceId = required('workspace');
      if (!(await workspaces.getWorkspace(workspaceId))) fail('No such workspace');
      const connector = await connectors.create({ workspaceId, url, token: values.token, eventTypes }, new Date());
      console.log(`Currents connector ${connector.connectorId}: ${eventTypes.join(', ')} → ${url}`);
      return;
    }
    case 'currents list': {
      for (const connector of await connectors.list(required('workspace'))) {
        const { token: _token, ...shown } = connector;
        console.log(JSON.stringify(shown));
      }
      return;
    }
    case 'currents pause':
    case 'currents resume': {
      if (!(await connectors.setPaused(required('workspace'), required('connector'), command === 'pause')))
        fail('No such connector');
      console.log(
        `Connector ${values.connector} ${command === 'pause' ? 'paused: events are held (up to 48 h)' : 'resumed'}.`,
      );
      return;
    }
    case 'currents delete': {
      if (!(await connectors.delete(required('workspace'), required('connector')))) fail('No such connector');
      console.log(`Connector ${values.connector} deleted.`);
      return;
    }
    case 'currents dead-letters': {
      const letters = await connectors.listDeadLetters(required('workspace'), required('connector'));
      for (const letter of letters)
        console.log(
          JSON.stringify({
            dropped_at: letter.droppedAt,
            reason: letter.reason,
            status: letter.status,
            event_id: letter.event.id,
            event_type: letter.event.event_type,
          }),
        );
      console.log(`${letters.length} dropped event(s).`);
      return;
    }
    case 'currents replay': {
      const workspaceId = required('workspace');
      const connectorId = required('connector');
      const letters = await connectors.listDeadLetters(workspaceId, connectorId);
      const queue = new SqsCurrentsQueue(sqs, await queueUrl(queueNames.currents));
      for (const letter of letters) {
        // A fresh window for the replay: the event is queued again now.
        await queue.send([{ v: 1, workspaceId, connectorId, queuedAt: Date.now(), event: letter.event }]);
        await connectors.deleteDeadLetter(workspaceId, connectorId, letter.key);
      }
      console.log(`Re-queued ${letters.length} event(s) for connector ${connectorId}.`);
      return;
    }
    case 'events tail': {
      if (!watchQueueUrl) {
        fail(
          'events tail watches the local stack (--local); in AWS, subscribe a queue or a canvas to the MembershipEventsTopic output.',
        );
      }
      console.log('Waiting for membership events (Ctrl-C to stop)…');
      for (;;) {
        const received = await sqs.send(
          new ReceiveMessageCommand({ QueueUrl: watchQueueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 10 }),
        );
        for (const message of received.Messages ?? []) {
          console.log(message.Body);
          await sqs.send(new DeleteMessageCommand({ QueueUrl: watchQueueUrl, ReceiptHandle: message.ReceiptHandle! }));
        }
      }
    }
    default:
      fail(
        readFileSync(new URL(import.meta.url), 'utf8')
          .split('*/')[0]!
          .replace(/^\/\*\*?|^ \* ?/gm, ''),
      );
  }
};

await main();
