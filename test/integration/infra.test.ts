/**
 * Packages the real template (`osls package`), checks it against AWS's resource
 * specification, and asserts the reliability settings the service depends on.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { promisify } from 'node:util';
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

  it('gives failed records time and retries before the DLQ, and keeps DLQ messages longer', () => {
    const syncTimeout = Number(props('SyncLambdaFunction').Timeout);
    const queue = props('CohortQueue');
    const redrive = queue.RedrivePolicy as { maxReceiveCount: number; deadLetterTargetArn: unknown };
    expect(Number(queue.VisibilityTimeout)).toBeGreaterThanOrEqual(6 * syncTimeout);
    expect(redrive.maxReceiveCount).toBeGreaterThanOrEqual(5);
    expect(redrive.deadLetterTargetArn).toEqual({ 'Fn::GetAtt': ['CohortDeadLetterQueue', 'Arn'] });
    expect(Number(props('CohortDeadLetterQueue').MessageRetentionPeriod)).toBeGreaterThan(
      Number(queue.MessageRetentionPeriod),
    );
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

  it('publishes membership events from the cohorts table stream, retrying failed batches in order', () => {
    expect(props('CohortsTable').StreamSpecification).toEqual({ StreamViewType: 'NEW_AND_OLD_IMAGES' });
    const mapping = ofType('AWS::Lambda::EventSourceMapping').find(
      ([, resource]) =>
        JSON.stringify(resource.Properties?.EventSourceArn) ===
        JSON.stringify({ 'Fn::GetAtt': ['CohortsTable', 'StreamArn'] }),
    )?.[1];
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

  it('alarms on DLQ depth and on the age of the oldest message', () => {
    const alarms = ofType('AWS::CloudWatch::Alarm').map(([, alarm]) => alarm.Properties ?? {});
    expect(alarms).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ MetricName: 'ApproximateNumberOfMessagesVisible', Threshold: 0 }),
        expect.objectContaining({ MetricName: 'ApproximateAgeOfOldestMessage' }),
      ]),
    );
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
