/**
 * Packages the real template (`osls package`), checks it against AWS's resource
 * specification, and asserts the reliability settings the service depends on.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { isDeepStrictEqual, promisify } from 'node:util';
import { loadAwsServiceSpecSync } from '@aws-cdk/aws-service-spec';
import { bundleFunction, FUNCTIONS, PLACEHOLDER_FUNCTION_ENV } from '../../scripts/build.js';
import { INGEST_ROUTES } from '../../functions/ingest/app.js';
import { API_ROUTES } from '../../functions/api/app.js';

const run = promisify(execFile);

interface Resource {
  Type: string;
  Properties?: Record<string, unknown>;
}
let resources: Record<string, Resource>;

const ofType = (type: string) => Object.entries(resources).filter(([, resource]) => resource.Type === type);
const resource = (logicalId: string) => {
  const found = resources[logicalId];
  if (!found) throw new Error(`no resource ${logicalId}`);
  return found;
};
const props = (logicalId: string) => resource(logicalId).Properties ?? {};

/** Every `Fn::GetAtt` in a value, as [logicalId, attribute]. */
const getAtts = (value: unknown): [string, string][] => {
  if (Array.isArray(value)) return value.flatMap(getAtts);
  if (value && typeof value === 'object') {
    return Object.entries(value).flatMap(([key, inner]) => {
      if (key === 'Fn::GetAtt') {
        const [id, attribute] = Array.isArray(inner) ? inner : String(inner).split('.');
        return [[String(id), String(attribute)] as [string, string]];
      }
      return getAtts(inner);
    });
  }
  return [];
};

/** A queue's logical id from `Fn::GetAtt: [Queue, Arn]`. */
const queueOf = (arn: unknown): string => {
  const [found] = getAtts(arn);
  if (!found) throw new Error(`not a GetAtt: ${JSON.stringify(arn)}`);
  return found[0];
};

interface AlarmProperties {
  AlarmName: string;
  AlarmDescription?: string;
  Namespace?: string;
  MetricName?: string;
  Dimensions?: { Name: string; Value: unknown }[];
  Statistic?: string;
  Period?: number;
  EvaluationPeriods?: number;
  Threshold?: number;
  ComparisonOperator?: string;
  TreatMissingData?: string;
  AlarmActions?: unknown[];
  OKActions?: unknown[];
}
const alarms = () =>
  ofType('AWS::CloudWatch::Alarm').map(([, alarm]) => alarm.Properties as unknown as AlarmProperties);
/** The alarms on one metric with exactly these dimensions. */
const alarmsOn = (namespace: string, metricName: string, dimensions: Record<string, unknown>) =>
  alarms().filter(
    (alarm) =>
      alarm.Namespace === namespace &&
      alarm.MetricName === metricName &&
      isDeepStrictEqual(
        Object.fromEntries((alarm.Dimensions ?? []).map(({ Name, Value }) => [Name, Value])),
        dimensions,
      ),
  );
/** The queues some queue's redrive policy dead-letters to. */
const deadLetterQueues = () =>
  new Set(
    ofType('AWS::SQS::Queue').flatMap(([, queue]) => {
      const redrive = queue.Properties?.RedrivePolicy as { deadLetterTargetArn: unknown } | undefined;
      return redrive ? [queueOf(redrive.deadLetterTargetArn)] : [];
    }),
  );
/** AWS keeps this much of the account's concurrency unreserved (Lambda: "Configuring reserved concurrency"). */
const UNRESERVED_MINIMUM = 100;
/** The default Lambda concurrency of an account in a region. */
const ACCOUNT_CONCURRENCY = 1_000;

beforeAll(async () => {
  for (const name of FUNCTIONS) await bundleFunction(name);
  await run('npx', ['osls', 'package', '--stage', 'test'], { env: { ...process.env, SLS_TELEMETRY_DISABLED: '1' } });
  const template = JSON.parse(await readFile('.serverless/cloudformation-template-update-stack.json', 'utf8')) as {
    Resources: Record<string, Resource>;
  };
  resources = template.Resources;
}, 180_000);

describe('the packaged CloudFormation template', () => {
  it('uses only known resource types and properties, with every required property set', () => {
    // Prepare
    const db = loadAwsServiceSpecSync();
    const problems: string[] = [];

    // Act
    for (const [logicalId, { Type, Properties = {} }] of Object.entries(resources)) {
      const [spec] = db.lookup('resource', 'cloudFormationType', 'equals', Type);
      if (!spec) {
        problems.push(`${logicalId}: unknown type ${Type}`);
        continue;
      }
      for (const name of Object.keys(Properties)) {
        if (!(name in spec.properties)) problems.push(`${logicalId} (${Type}): unknown property ${name}`);
      }
      for (const [name, property] of Object.entries(spec.properties)) {
        if (property.required && !(name in Properties))
          problems.push(`${logicalId} (${Type}): missing required ${name}`);
      }
    }
    for (const [logicalId, attribute] of getAtts(resources)) {
      const target = resources[logicalId];
      if (!target) {
        problems.push(`GetAtt of missing resource ${logicalId}`);
        continue;
      }
      const [spec] = db.lookup('resource', 'cloudFormationType', 'equals', target.Type);
      if (spec && !(attribute in spec.attributes))
        problems.push(`GetAtt ${logicalId}.${attribute}: ${target.Type} has no such attribute`);
    }

    // Assess
    expect(problems).toEqual([]);
  });

  it('gives failed records time and retries before every DLQ, and keeps DLQ messages longer', () => {
    // Prepare: every queue a function reads, with its function
    const mappings = ofType('AWS::Lambda::EventSourceMapping')
      .map(([, mapping]) => mapping.Properties ?? {})
      .filter((mapping) => getAtts(mapping.EventSourceArn).some(([id]) => resource(id).Type === 'AWS::SQS::Queue'));

    // Assess
    expect(mappings.map((mapping) => queueOf(mapping.EventSourceArn)).sort()).toEqual([
      'CampaignEventsQueue',
      'CampaignWorkQueue',
      'CohortQueue',
      'CurrentsQueue',
      'ExportQueue',
      'WebhookSendQueue',
    ]);
    for (const mapping of mappings) {
      const queueId = queueOf(mapping.EventSourceArn);
      const functionId = queueOf(mapping.FunctionName);
      const queue = props(queueId);
      const redrive = queue.RedrivePolicy as { maxReceiveCount: number; deadLetterTargetArn: unknown };
      expect(Number(queue.VisibilityTimeout), queueId).toBeGreaterThanOrEqual(6 * Number(props(functionId).Timeout));
      expect(redrive.maxReceiveCount, queueId).toBeGreaterThanOrEqual(5);
      expect(Number(props(queueOf(redrive.deadLetterTargetArn)).MessageRetentionPeriod), queueId).toBeGreaterThan(
        Number(queue.MessageRetentionPeriod),
      );
      expect(mapping.FunctionResponseTypes, queueId).toEqual(['ReportBatchItemFailures']);
    }
  });

  it("reports partial batch failures from the cohort queue, with the sync's concurrency bounded", () => {
    const mapping = ofType('AWS::Lambda::EventSourceMapping').find(
      ([, resource]) =>
        JSON.stringify(resource.Properties?.EventSourceArn) ===
        JSON.stringify({ 'Fn::GetAtt': ['CohortQueue', 'Arn'] }),
    )?.[1];
    expect(mapping?.Properties).toMatchObject({
      FunctionResponseTypes: ['ReportBatchItemFailures'],
      ScalingConfig: { MaximumConcurrency: 10 },
    });
  });

  it('pre-warms the cohorts table to the default table quota, so a first sync on a new deployment is not held to 4,000 WRU/s', () => {
    expect(props('CohortsTable').WarmThroughput).toEqual({ WriteUnitsPerSecond: 40_000, ReadUnitsPerSecond: 30_000 });
  });

  it('publishes membership events from the cohorts table stream, retrying failed batches in order', () => {
    expect(props('CohortsTable').StreamSpecification).toEqual({ StreamViewType: 'NEW_AND_OLD_IMAGES' });
    // Every mapping reads a queue (checked above) or this stream: none goes unchecked.
    const streamMappings = ofType('AWS::Lambda::EventSourceMapping').filter(
      ([, mapping]) => resource(queueOf(mapping.Properties?.EventSourceArn)).Type !== 'AWS::SQS::Queue',
    );
    expect(streamMappings).toHaveLength(1);
    const [mapping] = streamMappings.map(([, found]) => found);
    expect(mapping?.Properties?.EventSourceArn).toEqual({ 'Fn::GetAtt': ['CohortsTable', 'StreamArn'] });
    expect(mapping?.Properties).toMatchObject({
      FunctionName: { 'Fn::GetAtt': ['EventsLambdaFunction', 'Arn'] },
      StartingPosition: 'TRIM_HORIZON',
      MaximumRetryAttempts: -1,
      BisectBatchOnFunctionError: true,
      FilterCriteria: {
        Filters: [{ Pattern: JSON.stringify({ dynamodb: { Keys: { sk: { S: [{ prefix: 'M#' }] } } } }) }],
      },
    });
    const alarms = ofType('AWS::CloudWatch::Alarm').map(([, alarm]) => alarm.Properties ?? {});
    expect(alarms).toEqual(
      expect.arrayContaining([expect.objectContaining({ MetricName: 'IteratorAge', Namespace: 'AWS/Lambda' })]),
    );
  });

  it('feeds campaigns from the membership events topic and ticks them every minute', () => {
    // Assess: raw delivery (the body is the event), SNS allowed to send to that queue only
    expect(props('CampaignEventsSubscription')).toMatchObject({
      TopicArn: { Ref: 'MembershipEventsTopic' },
      Protocol: 'sqs',
      Endpoint: { 'Fn::GetAtt': ['CampaignEventsQueue', 'Arn'] },
      RawMessageDelivery: true,
    });
    const policy = props('CampaignEventsQueuePolicy').PolicyDocument as { Statement: Record<string, unknown>[] };
    expect(policy.Statement).toEqual([
      expect.objectContaining({
        Principal: { Service: 'sns.amazonaws.com' },
        Action: 'sqs:SendMessage',
        Condition: { ArnEquals: { 'aws:SourceArn': { Ref: 'MembershipEventsTopic' } } },
      }),
    ]);
    expect(props('CampaignTickSchedule')).toMatchObject({
      ScheduleExpression: 'rate(1 minute)',
      Target: { Arn: { 'Fn::GetAtt': ['CampaignWorkQueue', 'Arn'] }, Input: '{"v":1,"type":"campaign.tick"}' },
    });
  });

  it('alarms on the age of the oldest message of every queue, before it expires', () => {
    // Prepare
    const queues = ofType('AWS::SQS::Queue');
    const missing: string[] = [];

    // Act
    for (const [queueId, queue] of queues) {
      const [alarm] = alarmsOn('AWS/SQS', 'ApproximateAgeOfOldestMessage', {
        QueueName: { 'Fn::GetAtt': [queueId, 'QueueName'] },
      });
      if (!alarm) missing.push(queueId);
      else expect(alarm.Threshold, queueId).toBeLessThan(Number(queue.Properties?.MessageRetentionPeriod));
    }

    // Assess
    expect(queues.length).toBeGreaterThanOrEqual(6);
    expect(missing).toEqual([]);
  });

  it('pages at the first message in every DLQ, and in time to redrive before it expires', () => {
    // Prepare: a message expires after the DLQ's retention counted from when it was first
    // queued, and the DLQ's age counts from the move, up to the source's retention later.
    const sourceRetention = new Map<string, number>();
    for (const [, queue] of ofType('AWS::SQS::Queue')) {
      const redrive = queue.Properties?.RedrivePolicy as { deadLetterTargetArn: unknown } | undefined;
      if (redrive)
        sourceRetention.set(queueOf(redrive.deadLetterTargetArn), Number(queue.Properties?.MessageRetentionPeriod));
    }
    const missing: string[] = [];

    // Act
    for (const queueId of deadLetterQueues()) {
      const dimensions = { QueueName: { 'Fn::GetAtt': [queueId, 'QueueName'] } };
      const [depth] = alarmsOn('AWS/SQS', 'ApproximateNumberOfMessagesVisible', dimensions);
      const [age] = alarmsOn('AWS/SQS', 'ApproximateAgeOfOldestMessage', dimensions);
      if (!depth) missing.push(`${queueId} depth`);
      else
        expect(depth, queueId).toMatchObject({
          Statistic: 'Maximum',
          EvaluationPeriods: 1,
          Threshold: 0,
          ComparisonOperator: 'GreaterThanThreshold',
          // SQS stops publishing for a queue left alone: a DLQ still holding messages stays in alarm.
          TreatMissingData: 'ignore',
        });
      if (age)
        expect((age.Threshold ?? 0) + (sourceRetention.get(queueId) ?? 0), queueId).toBeLessThan(
          Number(props(queueId).MessageRetentionPeriod),
        );
    }

    // Assess
    expect([...deadLetterQueues()].sort()).toEqual([
      'CampaignEventsDeadLetterQueue',
      'CampaignWorkDeadLetterQueue',
      'CohortDeadLetterQueue',
      'CurrentsDeadLetterQueue',
      'ExportDeadLetterQueue',
      'WebhookSendDeadLetterQueue',
    ]);
    expect(missing).toEqual([]);
  });

  it('alarms on the errors and throttles of every function', () => {
    // Prepare
    const functions = ofType('AWS::Lambda::Function');
    const missing: string[] = [];

    // Act
    for (const [functionId] of functions)
      for (const metricName of ['Errors', 'Throttles'])
        if (alarmsOn('AWS/Lambda', metricName, { FunctionName: { Ref: functionId } }).length === 0)
          missing.push(`${functionId} ${metricName}`);

    // Assess
    expect(functions).toHaveLength(FUNCTIONS.length);
    expect(missing).toEqual([]);
  });

  it('alarms on the 5XX answers of every HTTP API (a 500 the error handler answers is no Lambda error)', () => {
    // Prepare
    const apis = ofType('AWS::ApiGatewayV2::Api');

    // Act
    const missing = apis
      .filter(([apiId]) => alarmsOn('AWS/ApiGateway', '5xx', { ApiId: { Ref: apiId } }).length === 0)
      .map(([apiId]) => apiId);

    // Assess
    expect(apis.length).toBeGreaterThan(0);
    expect(missing).toEqual([]);
  });

  it('alarms on throttled reads and writes of every table and every index', () => {
    // Prepare: the TableName dimension alone counts the table only; an index needs its own
    // (DynamoDB: "Metrics and dimensions", ReadThrottleEvents / WriteThrottleEvents).
    const targets = ofType('AWS::DynamoDB::Table').flatMap(([tableId, table]) => [
      { TableName: { Ref: tableId } },
      ...((table.Properties?.GlobalSecondaryIndexes ?? []) as { IndexName: string }[]).map(({ IndexName }) => ({
        TableName: { Ref: tableId },
        GlobalSecondaryIndexName: IndexName,
      })),
    ]);
    const missing: string[] = [];

    // Act
    for (const dimensions of targets)
      for (const metricName of ['ReadThrottleEvents', 'WriteThrottleEvents'])
        if (alarmsOn('AWS/DynamoDB', metricName, dimensions).length === 0)
          missing.push(`${JSON.stringify(dimensions)} ${metricName}`);

    // Assess
    expect(targets).toHaveLength(5);
    expect(missing).toEqual([]);
  });

  it('sends every alarm and its all-clear to the alerts topic, with missing data treated on purpose', () => {
    for (const alarm of alarms()) {
      expect(alarm.AlarmActions, alarm.AlarmName).toEqual([{ Ref: 'AlertsTopic' }]);
      expect(alarm.OKActions, alarm.AlarmName).toEqual([{ Ref: 'AlertsTopic' }]);
      expect(['notBreaching', 'ignore'], alarm.AlarmName).toContain(alarm.TreatMissingData);
    }
    expect(props('AlertsTopic').TopicName).toBe('heap-braze-cohort-import-test-alerts');
  });

  it('has a runbook entry in docs/operations.md for every alarm, named in its description', async () => {
    // Prepare
    const runbook = await readFile('docs/operations.md', 'utf8');
    const prefix = 'heap-braze-cohort-import-test-';

    // Act
    const entries = alarms().map((alarm) => {
      expect(alarm.AlarmName.startsWith(prefix), alarm.AlarmName).toBe(true);
      return { alarm, entry: alarm.AlarmName.slice(prefix.length) };
    });

    // Assess
    expect(new Set(entries.map(({ entry }) => entry)).size).toBe(entries.length);
    expect(entries.filter(({ entry }) => !runbook.includes(`| \`${entry}\` |`)).map(({ entry }) => entry)).toEqual([]);
    for (const { alarm, entry } of entries)
      expect(alarm.AlarmDescription, entry).toContain(`Runbook: docs/operations.md, ${entry}.`);
  });

  it("names every function in the README's resource table and architecture diagram, as the template deploys them", async () => {
    // Prepare
    const readme = await readFile('README.md', 'utf8');
    const deployed = ofType('AWS::Lambda::Function').length;

    // Act: the resource table's "HTTP API + N functions (`a`, `b`, …)" and the diagram's "name λ" nodes.
    const row = /HTTP API \+ (\d+) functions \(([^)]*)\)/.exec(readme);
    const listed = [...(row?.[2] ?? '').matchAll(/`([a-z]+)`/g)].map((match) => match[1]);
    const diagram = readme.slice(readme.indexOf('```mermaid'), readme.indexOf('```', readme.indexOf('```mermaid') + 3));
    const drawn = [...diagram.matchAll(/\[([a-z]+) λ/g)].map((match) => match[1]);

    // Assess
    expect(Number(row?.[1])).toBe(FUNCTIONS.length);
    expect(deployed).toBe(FUNCTIONS.length);
    expect([...listed].sort()).toEqual([...FUNCTIONS].sort());
    expect([...new Set(drawn)].sort()).toEqual([...FUNCTIONS].sort());
  });

  it('reserves concurrency for ingest and the API and bounds every other function', () => {
    // Prepare
    const reserved = (functionId: string) => props(functionId).ReservedConcurrentExecutions as number | undefined;
    const mappings = ofType('AWS::Lambda::EventSourceMapping').map(([, mapping]) => mapping.Properties ?? {});
    /** The caps of a function's SQS event sources (undefined: uncapped, or not an SQS source). */
    const capsOf = (functionId: string) =>
      mappings
        .filter((mapping) => queueOf(mapping.FunctionName) === functionId)
        .map((mapping) => (mapping.ScalingConfig as { MaximumConcurrency?: number } | undefined)?.MaximumConcurrency);
    /** The most a function runs at once: its reservation, else the sum of its sources' caps. */
    const boundOf = (functionId: string): number => {
      const caps = capsOf(functionId);
      return (
        reserved(functionId) ??
        (caps.length === 0 ? Infinity : caps.reduce<number>((sum, cap) => sum + (cap ?? Infinity), 0))
      );
    };
    const functionIds = ofType('AWS::Lambda::Function').map(([functionId]) => functionId);

    // Act
    const bounds = Object.fromEntries(functionIds.map((functionId) => [functionId, boundOf(functionId)]));
    const totalReserved = functionIds.reduce((sum, functionId) => sum + (reserved(functionId) ?? 0), 0);
    const unreservedUse = functionIds
      .filter((functionId) => reserved(functionId) === undefined)
      .reduce((sum, functionId) => sum + boundOf(functionId), 0);

    // Assess: ingest and the API reserved (nothing else can take their capacity), the rest bounded
    expect(bounds).toEqual({
      IngestLambdaFunction: 150,
      ApiLambdaFunction: 250,
      EventsLambdaFunction: 50,
      SyncLambdaFunction: 10,
      CurrentsLambdaFunction: 10,
      ExportLambdaFunction: 5,
      CampaignsLambdaFunction: 30,
      SenderLambdaFunction: 50,
    });
    expect(reserved('IngestLambdaFunction')).toBe(150);
    expect(reserved('ApiLambdaFunction')).toBe(250);
    expect(reserved('EventsLambdaFunction')).toBe(50);
    // A source's cap above its function's reservation would only turn into throttles.
    for (const functionId of functionIds)
      for (const cap of capsOf(functionId))
        if (cap !== undefined && reserved(functionId) !== undefined)
          expect(cap, functionId).toBeLessThanOrEqual(reserved(functionId) ?? 0);
    // Everything at its bound at once fits an account's default concurrency, with the
    // unreserved minimum AWS keeps for functions without a reservation.
    expect(totalReserved + Math.max(UNRESERVED_MINIMUM, unreservedUse)).toBeLessThanOrEqual(ACCOUNT_CONCURRENCY);
  });

  it('runs every function on Node 22 with a role of its own and no wildcard actions', () => {
    const functions = ofType('AWS::Lambda::Function');
    expect(functions).toHaveLength(FUNCTIONS.length);
    const roles = new Set<string>();
    for (const [, fn] of functions) {
      expect(fn.Properties?.Runtime).toBe('nodejs22.x');
      roles.add(JSON.stringify(fn.Properties?.Role));
    }
    expect(roles.size).toBe(FUNCTIONS.length);
    for (const [logicalId, role] of ofType('AWS::IAM::Role')) {
      const statements = (
        (role.Properties?.Policies ?? []) as {
          PolicyDocument: { Statement: { Action: string[]; Resource: unknown }[] };
        }[]
      ).flatMap((policy) => policy.PolicyDocument.Statement);
      for (const statement of statements) {
        expect(
          statement.Action.every((action) => !action.includes('*')),
          `${logicalId}: ${statement.Action.join(',')}`,
        ).toBe(true);
        if (statement.Resource === '*')
          expect(statement.Action.every((action) => action.startsWith('xray:'))).toBe(true);
      }
    }
  });

  it('throttles the HTTP API at the edge and gives ingest its hourly limit', () => {
    const settings = props('HttpApiStage').DefaultRouteSettings as Record<string, unknown>;
    expect(Number(settings.ThrottlingRateLimit)).toBeGreaterThan(0);
    expect(Number(settings.ThrottlingBurstLimit)).toBeGreaterThanOrEqual(Number(settings.ThrottlingRateLimit));
    const environment = (props('IngestLambdaFunction').Environment as { Variables: Record<string, unknown> }).Variables;
    expect(environment.RATE_LIMIT_PER_HOUR).toBe('250000');
  });

  it('routes exactly the endpoints the functions implement', () => {
    const routeKeys = ofType('AWS::ApiGatewayV2::Route').map(([, route]) => route.Properties?.RouteKey);
    expect(routeKeys.sort()).toEqual([...INGEST_ROUTES, ...API_ROUTES].sort());
  });

  /** [role, resource, actions] of every statement of every role that allows one of `actions`. */
  const grantsOf = (...actions: string[]) =>
    ofType('AWS::IAM::Role')
      .flatMap(([logicalId, role]) =>
        (
          (role.Properties?.Policies ?? []) as {
            PolicyDocument: { Statement: { Action: string[]; Resource: unknown }[] };
          }[]
        )
          .flatMap((policy) => policy.PolicyDocument.Statement)
          .filter((statement) => statement.Action.some((action) => actions.includes(action)))
          .map((statement) => [logicalId, statement.Resource, [...statement.Action].sort()] as const),
      )
      .sort(([left], [right]) => left.localeCompare(right));
  const environmentOf = (logicalId: string) =>
    (props(logicalId).Environment as { Variables: Record<string, unknown> } | undefined)?.Variables ?? {};

  it('keeps the key pepper and the connector token key in Secrets Manager, readable by exactly the functions that use them', () => {
    // Assess: generated (≥ 256 bits: 43 letters and digits carry 256), kept when the stack goes.
    for (const logicalId of ['KeyPepperSecret', 'ConnectorTokenSecret']) {
      const secret = resource(logicalId) as Resource & { DeletionPolicy?: string; UpdateReplacePolicy?: string };
      expect(secret.Type).toBe('AWS::SecretsManager::Secret');
      expect(secret.DeletionPolicy).toBe('Retain');
      expect(secret.UpdateReplacePolicy).toBe('Retain');
      const generated = secret.Properties?.GenerateSecretString as {
        PasswordLength: number;
        ExcludePunctuation: boolean;
      };
      expect(generated.PasswordLength * Math.log2(62)).toBeGreaterThanOrEqual(256);
      expect(generated.ExcludePunctuation).toBe(true);
    }
    expect(grantsOf('secretsmanager:GetSecretValue')).toEqual([
      ['ApiRole', { Ref: 'KeyPepperSecret' }, ['secretsmanager:GetSecretValue']],
      ['CurrentsRole', { Ref: 'ConnectorTokenSecret' }, ['secretsmanager:GetSecretValue']],
      ['IngestRole', { Ref: 'KeyPepperSecret' }, ['secretsmanager:GetSecretValue']],
    ]);
    const withSecret = (name: string) =>
      ofType('AWS::Lambda::Function')
        .filter(([logicalId]) => name in environmentOf(logicalId))
        .map(([logicalId]) => [logicalId, environmentOf(logicalId)[name]]);
    expect(withSecret('KEY_PEPPER_SECRET_ARN').sort()).toEqual([
      ['ApiLambdaFunction', { Ref: 'KeyPepperSecret' }],
      ['IngestLambdaFunction', { Ref: 'KeyPepperSecret' }],
    ]);
    expect(withSecret('CONNECTOR_TOKEN_SECRET_ARN')).toEqual([
      ['CurrentsLambdaFunction', { Ref: 'ConnectorTokenSecret' }],
    ]);
  });

  it('encrypts the membership events topic (user identifiers) with a key only the events function may use', () => {
    expect(props('MembershipEventsTopic').KmsMasterKeyId).toEqual({ 'Fn::GetAtt': ['MembershipEventsKey', 'Arn'] });
    expect(props('MembershipEventsKey').EnableKeyRotation).toBe(true);
    expect(
      grantsOf('kms:GenerateDataKey', 'kms:Decrypt', 'kms:Encrypt', 'kms:ReEncryptFrom', 'kms:CreateGrant'),
    ).toEqual([
      ['EventsRole', { 'Fn::GetAtt': ['MembershipEventsKey', 'Arn'] }, ['kms:Decrypt', 'kms:GenerateDataKey']],
    ]);
  });
});

describe('the bundles', () => {
  it.each(FUNCTIONS)('%s loads in a fresh Node process and exports a handler', async (name) => {
    const script = `const m = await import('./dist/${name}/index.mjs'); if (typeof m.handler !== 'function') process.exit(3);`;
    const env = { ...process.env, ...PLACEHOLDER_FUNCTION_ENV };
    await expect(run(process.execPath, ['--input-type=module', '-e', script], { env })).resolves.toBeDefined();
  });

  it('fails the cold start naming a missing variable', async () => {
    const script = `await import('./dist/ingest/index.mjs');`;
    const env = { ...process.env, AWS_REGION: 'us-east-1', WORKSPACES_TABLE: '', USERS_TABLE: 'u', COHORTS_TABLE: 'c' };
    await expect(run(process.execPath, ['--input-type=module', '-e', script], { env })).rejects.toThrow(
      /WORKSPACES_TABLE/,
    );
  });
});
