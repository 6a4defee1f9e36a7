/**
 * The operator CLI's commands: workspaces and their keys, partners, the dead-letter queues,
 * membership events and Currents connectors. Each says what it does in `--help`; those that
 * would cut someone off or lose data refuse without --force and say what would happen.
 * Output names fields as the API does (snake_case).
 */
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import {
  DeleteMessageCommand,
  GetQueueAttributesCommand,
  PurgeQueueCommand,
  ReceiveMessageCommand,
} from '@aws-sdk/client-sqs';
import { CURRENTS_EVENT_TYPES } from '../../lib/currents/events.js';
import { replayDeadLetters } from '../../lib/currents/replay.js';
import { connectorView, deadLetterView } from '../../lib/currents/views.js';
import { type Connector, DynamoConnectorStore } from '../../lib/dynamodb/connector-store.js';
import { DynamoWorkspaceStore } from '../../lib/dynamodb/workspace-store.js';
import { SqsCurrentsQueue } from '../../lib/sqs/currents-queue.js';
import { moveDeadLetters, redriveDeadLetters } from '../../lib/sqs/redrive.js';
import { createTokenCipher } from '../../lib/secrets/token-cipher.js';
import { DEFAULT_CREDENTIAL_CACHE_TTL_MS } from '../../lib/workspaces/credential-cache.js';
import { createKeyHasher, effectiveGraceSeconds, oldKeyWorksUntil } from '../../lib/workspaces/keys.js';
import { ConflictError } from '../../lib/errors.js';
import { isKnownPartner, KNOWN_PARTNERS } from '../../lib/workspaces/partners.js';
import { workspaceView } from '../../lib/workspaces/settings.js';
import type { KeyKind, Workspace } from '../../lib/workspaces/types.js';
import { type Args, CliError, type Command, type OptionSpec, type Output, UsageError } from './cli.js';
import { INVOCATION, QUEUES, type QueueName, queueUrl, suggest, type Target } from './target.js';

/**
 * The longest grace a rotated-out key gets: a week is ample to re-configure a partner or a
 * client, and a key that leaked is what gets rotated, so it should not live on for long.
 */
export const MAX_GRACE_SECONDS = 7 * 24 * 3600;
/** Ingest instances keep a key lookup this long: what a cut-off key or partner may still be accepted for. */
const KEY_CACHE_SECONDS = DEFAULT_CREDENTIAL_CACHE_TTL_MS / 1000;

const stores = (target: Target) => ({
  workspaces: new DynamoWorkspaceStore(
    target.documents,
    target.tables.workspaces,
    createKeyHasher(target.secrets.keyPepper),
  ),
  connectors: new DynamoConnectorStore(
    target.documents,
    target.tables.cohorts,
    createTokenCipher(target.secrets.connectorTokenKey),
  ),
});

const workspaceOption: OptionSpec = {
  type: 'string',
  placeholder: 'id',
  description: 'the workspace id, as `workspace create` printed it',
  required: true,
};
const connectorOption: OptionSpec = {
  type: 'string',
  placeholder: 'id',
  description: 'the connector id, as `currents create` or `currents list` printed it',
  required: true,
};
const partnersOption: OptionSpec = {
  type: 'string',
  placeholder: 'list',
  description: `the partners the workspace accepts cohorts from, a comma list of: ${KNOWN_PARTNERS.join(', ')}`,
  required: true,
};
const partnerOption: OptionSpec = {
  type: 'string',
  placeholder: 'name',
  description: `the partner: ${KNOWN_PARTNERS.join(', ')}`,
  required: true,
  choices: KNOWN_PARTNERS,
};
const forceOption = (what: string): OptionSpec => ({ type: 'boolean', description: what });
const queueOption: OptionSpec = {
  type: 'string',
  placeholder: 'queue',
  description: `whose DLQ: ${Object.keys(QUEUES).join(', ')} (default: cohort-changes)`,
  choices: Object.keys(QUEUES),
};

/** Lines of `field: value`, field names as the API spells them. */
const fields = (record: Record<string, unknown>): string =>
  Object.entries(record)
    .map(([name, value]) => {
      const shown = Array.isArray(value)
        ? value.join(', ')
        : value !== null && typeof value === 'object'
          ? JSON.stringify(value)
          : String(value);
      return `${name}: ${shown}`;
    })
    .join('\n');

const partnerList = (raw: string): string[] => {
  const partners = [
    ...new Set(
      raw
        .split(',')
        .map((name) => name.trim())
        .filter(Boolean),
    ),
  ];
  const unknown = partners.filter((name) => !isKnownPartner(name));
  if (partners.length === 0 || unknown.length > 0)
    throw new UsageError(
      `--partners takes a comma list of: ${KNOWN_PARTNERS.join(', ')}${unknown.length ? `; unknown: ${unknown.join(', ')}` : ''}`,
    );
  return partners;
};

const requireWorkspace = async (target: Target, args: Args): Promise<Workspace> => {
  const workspaceId = args.required('workspace');
  const workspace = await stores(target).workspaces.getWorkspace(workspaceId);
  if (!workspace)
    throw new CliError(
      `no workspace ${workspaceId} in ${target.where}: check the id (\`workspace create\` printed it; --stage and --region, or --local, say where to look)`,
    );
  return workspace;
};

const requireConnector = async (target: Target, args: Args): Promise<Connector> => {
  const workspace = await requireWorkspace(target, args);
  const connectorId = args.required('connector');
  const connector = await stores(target).connectors.get(workspace.workspaceId, connectorId);
  if (!connector)
    throw new CliError(
      `no Currents connector ${connectorId} in workspace ${workspace.workspaceId}: ${suggest(args, `currents list --workspace ${workspace.workspaceId}`)} lists them`,
    );
  return connector;
};

const queueOf = (args: Args): QueueName => (args.string('queue') as QueueName | undefined) ?? 'cohort-changes';

const deadLetterCount = async (target: Target, queue: QueueName) => {
  const name = `${target.queuePrefix}-${queue}-dlq`;
  const attributes = await target.sqs.send(
    new GetQueueAttributesCommand({
      QueueUrl: await queueUrl(target, name),
      AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible', 'QueueArn'],
    }),
  );
  return {
    queue,
    name,
    messages: Number(attributes.Attributes?.ApproximateNumberOfMessages ?? 0),
    // Received but not yet deleted: a redrive in progress (or one that died, back after its 60 s).
    in_flight: Number(attributes.Attributes?.ApproximateNumberOfMessagesNotVisible ?? 0),
    arn: attributes.Attributes?.QueueArn ?? '',
  };
};

const workspaceCommands: Command<Target>[] = [
  {
    name: 'workspace create',
    summary: 'Create a workspace and print its data import key and REST API key (shown once).',
    details:
      'Only hashes of the keys are stored: note them now. The data import key is what partners send as client_secret; the REST API key goes in `Authorization: Bearer`.',
    options: {
      name: { type: 'string', placeholder: 'name', description: 'what to call the workspace', required: true },
      partners: partnersOption,
    },
    examples: [`${INVOCATION} workspace create --name acme --partners heap`],
    async run(args, context) {
      const created = await stores(context()).workspaces.createWorkspace({
        name: args.required('name'),
        partners: partnerList(args.required('partners')),
      });
      return {
        json: {
          workspace: workspaceView(created),
          data_import_key: created.dataImportKey,
          rest_api_key: created.restApiKey,
        },
        text: [
          `Workspace ${created.name} (${created.workspaceId}), partners: ${created.partners.join(', ')}`,
          `Data import key (give it to the partner as client_secret): ${created.dataImportKey}`,
          `REST API key (Authorization: Bearer …):                  ${created.restApiKey}`,
          'These keys are shown once; only their hashes are stored.',
        ].join('\n'),
      };
    },
  },
  {
    name: 'workspace show',
    summary: 'Show a workspace: its name, the partners it accepts, when it was created (never its keys).',
    options: { workspace: workspaceOption },
    async run(args, context) {
      const view = workspaceView(await requireWorkspace(context(), args));
      return { json: { workspace: view }, text: fields(view) };
    },
  },
  {
    name: 'workspace partners',
    summary: 'Set the partners a workspace accepts cohorts from (the whole list).',
    details: `Removing a partner refuses its requests for this workspace with a 401 at once (ingest instances may accept them for up to ${KEY_CACHE_SECONDS} s more): without --force, a list that leaves out a partner the workspace accepts now is refused.`,
    options: {
      workspace: workspaceOption,
      partners: partnersOption,
      force: forceOption('remove partners the workspace accepts now'),
    },
    examples: [`${INVOCATION} workspace partners --workspace <id> --partners heap,segment`],
    async run(args, context) {
      const partners = partnerList(args.required('partners'));
      const target = context();
      const workspace = await requireWorkspace(target, args);
      const removed = workspace.partners.filter((partner) => !partners.includes(partner));
      if (removed.length > 0 && !args.flag('force'))
        throw new UsageError(
          `this would stop workspace ${workspace.workspaceId} accepting ${removed.join(', ')}: their requests would get 401 at once; list them too, or pass --force`,
        );
      // The whole list, checked above against what was read: if it changed meanwhile, that check no longer holds.
      const updated = await stores(target).workspaces.changeWorkspacePartners(workspace.workspaceId, (current) => {
        if (
          current.length !== workspace.partners.length ||
          current.some((partner) => !workspace.partners.includes(partner))
        )
          throw new ConflictError(
            `the partners of workspace ${workspace.workspaceId} changed meanwhile (now: ${current.join(', ') || 'none'}): run the command again`,
          );
        return partners;
      });
      return {
        json: { workspace: workspaceView(updated) },
        text: `Workspace ${updated.workspaceId} now accepts: ${updated.partners.join(', ')}`,
      };
    },
  },
  {
    name: 'workspace rotate-key',
    summary: 'Issue a new data import key or REST API key for a workspace and print it (shown once).',
    details: `With --grace-seconds the old key keeps working that long, so whoever uses it can switch without a gap (its end is checked at every request). A grace is at least ${KEY_CACHE_SECONDS} s (the ingest cache's), and the time printed is when the old key stops. With no grace the old key, and every key of that kind still in its grace, stops at once: their users get 401 until they have the new key (within ${KEY_CACHE_SECONDS} s on every ingest instance, which cache keys); that needs --force.`,
    options: {
      workspace: workspaceOption,
      kind: {
        type: 'string',
        placeholder: 'data_import|rest',
        description: 'data_import (what partners send as client_secret) or rest (`Authorization: Bearer`)',
        required: true,
        choices: ['data_import', 'rest'],
      },
      'grace-seconds': {
        type: 'string',
        placeholder: 'seconds',
        description: `how long the old key keeps working, 0 to ${MAX_GRACE_SECONDS} (7 days)`,
        integer: { min: 0, max: MAX_GRACE_SECONDS, unit: 'seconds, 7 days at most' },
      },
      force: forceOption('with no grace: cut the old key off now'),
    },
    examples: [
      `${INVOCATION} workspace rotate-key --workspace <id> --kind data_import --grace-seconds 3600`,
      `${INVOCATION} workspace rotate-key --workspace <id> --kind rest --force     # the key leaked: stop it now`,
    ],
    async run(args, context) {
      const kind = args.required('kind') as KeyKind;
      const asked = args.integer('grace-seconds') ?? 0;
      // At least the ingest cache's TTL, so that the time printed is when the old key really stops (keys.ts).
      const grace = effectiveGraceSeconds(asked, KEY_CACHE_SECONDS);
      if (asked === 0 && !args.flag('force'))
        throw new UsageError(
          `with no grace the old ${kind} key stops working at once and its users get 401 until they have the new one: pass --grace-seconds <seconds> (e.g. 3600) to keep it working meanwhile, or --force to cut it off now`,
        );
      const target = context();
      const workspace = await requireWorkspace(target, args);
      const now = new Date();
      const key = await stores(target).workspaces.rotateKey(workspace.workspaceId, kind, grace, now);
      const until = oldKeyWorksUntil(now, grace);
      return {
        json: { workspace_id: workspace.workspaceId, kind, key, old_key_works_until: until },
        text: [
          `New ${kind} key: ${key}`,
          until
            ? `The old key keeps working until ${until} (${grace} s).`
            : `The old key no longer works (ingest instances may accept it for up to ${KEY_CACHE_SECONDS} s more).`,
        ].join('\n'),
      };
    },
  },
];

const partnerCommands: Command<Target>[] = [
  {
    name: 'partner register',
    summary: 'Register a partner and print its partner API key (shown once); a registered partner is left as it is.',
    details: `Safe to repeat (a deploy step): if the partner is registered already, its key is kept and nothing changes. --force issues a new key instead, and the key the partner uses now stops working at once (401 on its every request, within ${KEY_CACHE_SECONDS} s on every ingest instance) until it has the new one.`,
    options: {
      partner: partnerOption,
      disabled: { type: 'boolean', description: 'register it disabled (`partner enable` later)' },
      force: forceOption('replace the key of a registered partner, cutting it off until it has the new key'),
    },
    examples: [`${INVOCATION} partner register --partner heap --stage prod --region eu-west-1`],
    async run(args, context) {
      const partner = args.required('partner');
      const enabled = !args.flag('disabled');
      const { workspaces } = stores(context());
      const keyText = (key: string) =>
        `Partner API key for ${partner} (give it to the partner as partner_api_key): ${key}`;
      if (args.flag('force')) {
        const existed = (await workspaces.getPartner(partner)) !== undefined;
        const key = await workspaces.registerPartner(partner, { enabled });
        return {
          json: { partner, status: existed ? 'replaced' : 'created', enabled, partner_api_key: key },
          text: existed ? `${keyText(key)}\nThe previous key of ${partner} no longer works.` : keyText(key),
        };
      }
      const result = await workspaces.registerPartnerIfAbsent(partner, { enabled });
      if ('partnerApiKey' in result)
        return {
          json: { partner, status: 'created', enabled, partner_api_key: result.partnerApiKey },
          text: keyText(result.partnerApiKey),
        };
      const state = result.existing.enabled ? 'enabled' : 'disabled';
      return {
        json: { partner, status: 'exists', enabled: result.existing.enabled },
        text: `Partner ${partner} is registered already (${state}); its key is unchanged. --force would issue a new key and cut off the one ${partner} uses now.`,
      };
    },
  },
  {
    name: 'partner list',
    summary: 'List the known partners: registered or not, enabled or not.',
    async run(_args, context) {
      const { workspaces } = stores(context());
      const partners = [];
      for (const partner of KNOWN_PARTNERS) {
        const registration = await workspaces.getPartner(partner);
        partners.push({ partner, registered: registration !== undefined, enabled: registration?.enabled ?? false });
      }
      const width = Math.max(...KNOWN_PARTNERS.map((name) => name.length)) + 2;
      return {
        json: { partners },
        text: partners
          .map(
            ({ partner, registered, enabled }) =>
              `${partner.padEnd(width)}${registered ? (enabled ? 'enabled' : 'disabled') : 'not registered'}`,
          )
          .join('\n'),
      };
    },
  },
  ...(['enable', 'disable'] as const).map(
    (verb): Command<Target> => ({
      name: `partner ${verb}`,
      summary:
        verb === 'enable'
          ? 'Enable a registered partner: its requests are accepted again (for workspaces that list it).'
          : `Disable a partner: every request it sends gets 401 (within ${KEY_CACHE_SECONDS} s on every ingest instance); its key is kept.`,
      options: { partner: partnerOption },
      async run(args, context) {
        const partner = args.required('partner');
        const target = context();
        const notRegistered = new CliError(
          `partner ${partner} is not registered in ${target.where}: ${suggest(args, `partner register --partner ${partner}`)} registers it and prints its key`,
        );
        try {
          await stores(target).workspaces.setPartnerEnabled(partner, verb === 'enable');
        } catch (error: unknown) {
          if (error instanceof ConditionalCheckFailedException) throw notRegistered;
          throw error;
        }
        return { json: { partner, enabled: verb === 'enable' }, text: `Partner ${partner} ${verb}d.` };
      },
    }),
  ),
];

const dlqCommands: Command<Target>[] = [
  {
    name: 'dlq count',
    summary: 'Count the messages in the dead-letter queues.',
    details: Object.entries(QUEUES)
      .map(([queue, what]) => `${queue}: ${what}.`)
      .join('\n'),
    options: { queue: { ...queueOption, description: `only this queue's DLQ: ${Object.keys(QUEUES).join(', ')}` } },
    async run(args, context) {
      const target = context();
      const queues = args.string('queue') ? [queueOf(args)] : (Object.keys(QUEUES) as QueueName[]);
      const counts = [];
      for (const queue of queues) {
        const { arn: _arn, ...count } = await deadLetterCount(target, queue);
        counts.push(count);
      }
      return {
        json: { dead_letter_queues: counts },
        text: counts
          .map(
            (count) =>
              `${count.queue} DLQ: ${count.messages} message(s)${count.in_flight ? `, ${count.in_flight} in flight` : ''}`,
          )
          .join('\n'),
      };
    },
  },
  {
    name: 'dlq redrive',
    summary: 'Move dead-lettered messages back to their queue, to be processed again. Safe to repeat.',
    details:
      'Cohort changes carry their place in the acceptance order, so a late redrive never undoes a newer change. On AWS, SQS moves them (a message move task; the command waits until it ends); locally, and with --max, they are received, sent and deleted in batches (a crash in between duplicates a message, never loses one).',
    options: {
      queue: queueOption,
      max: {
        type: 'string',
        placeholder: 'count',
        description: 'move at most this many messages (default: all)',
        integer: { min: 1, max: 1_000_000 },
      },
    },
    async run(args, context, io) {
      const target = context();
      const queue = queueOf(args);
      const deadLetters = await deadLetterCount(target, queue);
      const max = args.integer('max');
      let moved: number;
      let failed = 0;
      if (!target.local && max === undefined) {
        ({ moved } = await moveDeadLetters(target.sqs, deadLetters.arn, {
          onProgress: ({ moved: sofar, toMove }) =>
            io.note(`moving: ${sofar}${toMove === undefined ? '' : ` of ${toMove}`} message(s)…`),
        }));
      } else {
        ({ moved, failed } = await redriveDeadLetters(
          target.sqs,
          {
            deadLetterQueueUrl: await queueUrl(target, deadLetters.name),
            queueUrl: await queueUrl(target, `${target.queuePrefix}-${queue}`),
          },
          { max },
        ));
      }
      return {
        json: { queue, moved, failed },
        text: `Moved ${moved} message(s) from the ${queue} DLQ back to ${queue}${failed ? `; ${failed} could not be sent and stay in the DLQ (run it again)` : ''}.`,
      };
    },
  },
  {
    name: 'dlq purge',
    summary: 'Delete every message in a dead-letter queue, for good (needs --force).',
    details:
      'What a DLQ holds was accepted and never applied (cohort changes answered 201, exports, Currents events): purging loses it. Redrive instead once the cause is fixed; purge only what must never be applied. SQS allows one purge per queue every 60 s and may take that long to finish.',
    options: { queue: queueOption, force: forceOption('delete them') },
    async run(args, context) {
      const target = context();
      const queue = queueOf(args);
      const deadLetters = await deadLetterCount(target, queue);
      const count = deadLetters.messages + deadLetters.in_flight;
      if (count === 0) return { json: { queue, purged: 0 }, text: `The ${queue} DLQ is empty: nothing to purge.` };
      if (!args.flag('force'))
        throw new UsageError(
          `this would delete the ${count} message(s) in the ${queue} DLQ for good (${QUEUES[queue]}): ${suggest(args, `dlq redrive --queue ${queue}`)} applies them instead; pass --force to delete them`,
        );
      await target.sqs.send(new PurgeQueueCommand({ QueueUrl: await queueUrl(target, deadLetters.name) }));
      return {
        json: { queue, purged: count },
        text: `Purged the ${queue} DLQ: ${count} message(s) deleted (SQS may take up to 60 s to finish).`,
      };
    },
  },
];

const eventCommands: Command<Target>[] = [
  {
    name: 'events tail',
    summary: 'Print membership events as they are published (local stack only; Ctrl-C stops).',
    details:
      'Each event is one line of JSON, as SNS delivers it. On AWS, subscribe a queue (or a canvas) to the MembershipEventsTopic output instead.',
    async run(_args, context, io) {
      const target = context();
      if (!target.watchQueueUrl)
        throw new UsageError(
          'events tail watches the local stack (--local); on AWS, subscribe a queue or a canvas to the MembershipEventsTopic output',
        );
      io.note('Waiting for membership events (Ctrl-C to stop)…');
      for (;;) {
        const received = await target.sqs.send(
          new ReceiveMessageCommand({ QueueUrl: target.watchQueueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 10 }),
        );
        for (const message of received.Messages ?? []) {
          io.write(message.Body ?? '');
          await target.sqs.send(
            new DeleteMessageCommand({ QueueUrl: target.watchQueueUrl, ReceiptHandle: message.ReceiptHandle! }),
          );
        }
      }
    },
  },
];

const connectorOutput = (connector: Connector, text: string): Output => ({
  json: { connector: connectorView(connector) },
  text,
});

const currentsCommands: Command<Target>[] = [
  {
    name: 'currents create',
    summary: 'Create a Currents connector: tracked events of the given types are posted to the URL.',
    options: {
      workspace: workspaceOption,
      url: {
        type: 'string',
        placeholder: 'url',
        description: 'where to post the events (http or https)',
        required: true,
      },
      token: {
        type: 'string',
        placeholder: 'token',
        description: 'sent as `Authorization: Bearer <token>` (never shown again)',
      },
      events: {
        type: 'string',
        placeholder: 'types',
        description: `a comma list of: ${CURRENTS_EVENT_TYPES.join(', ')}`,
        required: true,
      },
    },
    examples: [
      `${INVOCATION} currents create --workspace <id> --url https://heap.example/braze-currents --token T --events users.behaviors.CustomEvent,users.behaviors.Purchase`,
    ],
    async run(args, context) {
      const eventTypes = args
        .required('events')
        .split(',')
        .map((name) => name.trim())
        .filter(Boolean);
      const unknown = eventTypes.filter((name) => !(CURRENTS_EVENT_TYPES as readonly string[]).includes(name));
      if (eventTypes.length === 0 || unknown.length > 0)
        throw new UsageError(
          `--events takes a comma list of: ${CURRENTS_EVENT_TYPES.join(', ')}${unknown.length ? `; unknown: ${unknown.join(', ')}` : ''}`,
        );
      const url = args.required('url');
      if (!URL.canParse(url) || !/^https?:$/.test(new URL(url).protocol))
        throw new UsageError(`--url must be an http or https URL; got '${url}'`);
      const target = context();
      // The Currents sender refuses http on AWS: a connector made with it would only dead-letter.
      if (new URL(url).protocol === 'http:' && !target.local)
        throw new UsageError(
          `--url must be https on ${target.where} (the Currents sender refuses http outside the local stack); got '${url}'`,
        );
      const workspace = await requireWorkspace(target, args);
      const connector = await stores(target).connectors.create(
        { workspaceId: workspace.workspaceId, url, token: args.string('token'), eventTypes },
        new Date(),
      );
      return connectorOutput(
        connector,
        `Currents connector ${connector.connectorId}: ${eventTypes.join(', ')} → ${url}`,
      );
    },
  },
  {
    name: 'currents list',
    summary: 'List the Currents connectors of a workspace and their delivery state (never their tokens).',
    options: { workspace: workspaceOption },
    async run(args, context) {
      const target = context();
      const workspace = await requireWorkspace(target, args);
      const connectors = (await stores(target).connectors.list(workspace.workspaceId)).map(connectorView);
      return {
        json: { connectors },
        text:
          connectors.length === 0
            ? `No Currents connectors in workspace ${workspace.workspaceId}.`
            : connectors.map(fields).join('\n\n'),
      };
    },
  },
  ...(['pause', 'resume'] as const).map(
    (verb): Command<Target> => ({
      name: `currents ${verb}`,
      summary:
        verb === 'pause'
          ? 'Pause a connector: its events are held (up to 48 h, then dropped to its dead letters).'
          : 'Resume a paused connector: held events are delivered.',
      options: { workspace: workspaceOption, connector: connectorOption },
      async run(args, context) {
        const target = context();
        const connector = await requireConnector(target, args);
        const { connectors } = stores(target);
        await connectors.setPaused(connector.workspaceId, connector.connectorId, verb === 'pause');
        return connectorOutput(
          { ...connector, paused: verb === 'pause' },
          `Connector ${connector.connectorId} ${verb === 'pause' ? 'paused: events are held (up to 48 h)' : 'resumed'}.`,
        );
      },
    }),
  ),
  {
    name: 'currents delete',
    summary: 'Delete a connector, for good (needs --force).',
    details:
      'Its settings and counters are lost, and events still queued for it are discarded. `currents pause` holds them instead.',
    options: {
      workspace: workspaceOption,
      connector: connectorOption,
      force: forceOption('delete it'),
    },
    async run(args, context) {
      const target = context();
      const connector = await requireConnector(target, args);
      if (!args.flag('force'))
        throw new UsageError(
          `this would delete connector ${connector.connectorId} for good: events queued for it are discarded; ${suggest(args, `currents pause --workspace ${connector.workspaceId} --connector ${connector.connectorId}`)} holds them instead; pass --force to delete it`,
        );
      await stores(target).connectors.delete(connector.workspaceId, connector.connectorId);
      return connectorOutput(connector, `Connector ${connector.connectorId} deleted.`);
    },
  },
  {
    name: 'currents dead-letters',
    summary: 'List the events a connector dropped in the last 14 days (no personal data: id, type, why).',
    options: { workspace: workspaceOption, connector: connectorOption },
    async run(args, context) {
      const target = context();
      const connector = await requireConnector(target, args);
      const letters = await stores(target).connectors.listDeadLetters(connector.workspaceId, connector.connectorId);
      const views = letters.map(deadLetterView);
      return {
        json: { dead_letters: views },
        text: [...views.map((view) => JSON.stringify(view)), `${views.length} dropped event(s).`].join('\n'),
      };
    },
  },
  {
    name: 'currents replay',
    summary: 'Queue a connector’s dropped events again, for a fresh delivery window.',
    options: { workspace: workspaceOption, connector: connectorOption },
    async run(args, context) {
      const target = context();
      const connector = await requireConnector(target, args);
      const { workspaceId, connectorId } = connector;
      const queue = new SqsCurrentsQueue(target.sqs, await queueUrl(target, `${target.queuePrefix}-currents`));
      // The console's replay, the same code: each letter claimed, queued, then deleted, in a fresh delivery window.
      // All of them: a page at a time, until none remain.
      let requeued = 0;
      for (let remaining = true; remaining; ) {
        const replayed = await replayDeadLetters(stores(target).connectors, queue, workspaceId, connectorId);
        requeued += replayed.requeued;
        remaining = replayed.remaining && replayed.requeued > 0;
      }
      return {
        json: { connector_id: connectorId, requeued },
        text: `Re-queued ${requeued} event(s) for connector ${connectorId}.`,
      };
    },
  },
];

export const COMMANDS: Command<Target>[] = [
  ...workspaceCommands,
  ...partnerCommands,
  ...dlqCommands,
  ...eventCommands,
  ...currentsCommands,
];
