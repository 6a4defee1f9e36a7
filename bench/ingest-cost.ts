/**
 * `npm exec -- tsx bench/ingest-cost.ts [-- --samples 500 --identifiers 1000]`
 *
 * Ingest cost as the benchmark measures it (bench/many-cohorts.ts, "ingest cost"): the
 * ingest handler called in-process on the local stack with one request of 1,000
 * identifiers, against the floor, JSON.parse + one SQS SendMessage of the same body.
 * The two alternate, so that the machine's drift hits both alike. Also counts the
 * DynamoDB calls the handler makes per request (the credential read and the rate counter).
 * Aim: mean ingest ≤ 1.5 × mean floor.
 */
import { parseArgs } from 'node:util';
import { SendMessageCommand } from '@aws-sdk/client-sqs';
import { startLocalStack } from '../local/stack.js';
import { lambdaContext } from '../local/lambda-context.js';
import { toSqsBody } from '../lib/sqs/cohort-queue.js';
import { httpEvent } from '../test/support/events.js';

process.env.POWERTOOLS_LOG_LEVEL ??= 'ERROR';
process.env.POWERTOOLS_METRICS_DISABLED ??= 'true';
process.env.POWERTOOLS_TRACE_ENABLED ??= 'false';

const { values } = parseArgs({
  options: {
    samples: { type: 'string', default: '500' },
    identifiers: { type: 'string', default: '1000' },
    warmup: { type: 'string', default: '20' },
  },
});
const SAMPLES = Number(values.samples);
const IDENTIFIERS = Number(values.identifiers);
const WARMUP = Number(values.warmup);

const now = () => performance.now();
const mean = (samples: number[]) => samples.reduce((sum, value) => sum + value, 0) / samples.length;
const percentile = (samples: number[], p: number) => {
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
};

// The limit is the contract's (250,000 an hour): the run stays far below it.
const stack = await startLocalStack({ prefix: 'ingest-cost', poll: false });
try {
  const dynamoDbCalls = new Map<string, number>();
  stack.clients.dynamodb.middlewareStack.add(
    (next, context) => async (args) => {
      dynamoDbCalls.set(String(context.commandName), (dynamoDbCalls.get(String(context.commandName)) ?? 0) + 1);
      return next(args);
    },
    { step: 'initialize', name: 'countIngestCalls' },
  );
  const body = JSON.stringify({
    partner_api_key: stack.partnerApiKey,
    client_secret: stack.workspace.dataImportKey,
    cohort_id: 'ingest-cost',
    cohort_changes: [{ user_ids: Array.from({ length: IDENTIFIERS }, (_, index) => `bench-user-${index}`) }],
  });
  const event = () =>
    httpEvent('POST /partners/{partner}/cohorts/users', body, { pathParameters: { partner: 'heap' } });
  const ingest = async () => {
    const result = await stack.handlers.ingest(event(), lambdaContext('ingest', 10_000));
    if (result.statusCode !== 201) throw new Error(`ingest answered ${result.statusCode}: ${result.body}`);
  };
  const floor = async () => {
    const parsed = JSON.parse(body) as unknown;
    await stack.clients.sqs.send(
      new SendMessageCommand({ QueueUrl: stack.queues.queueUrl, MessageBody: toSqsBody(parsed) }),
    );
  };

  for (let index = 0; index < WARMUP; index += 1) {
    await ingest();
    await floor();
  }
  dynamoDbCalls.clear();
  const ingestMs: number[] = [];
  const floorMs: number[] = [];
  for (let index = 0; index < SAMPLES; index += 1) {
    let started = now();
    await ingest();
    ingestMs.push(now() - started);
    started = now();
    await floor();
    floorMs.push(now() - started);
  }

  const format = (samples: number[]) =>
    `${mean(samples).toFixed(2)} ms mean, ${percentile(samples, 50).toFixed(2)} p50, ${percentile(samples, 95).toFixed(2)} p95`;
  const calls = [...dynamoDbCalls.entries()]
    .map(([command, count]) => `${command} ${(count / SAMPLES).toFixed(3)}`)
    .join(', ');
  console.log(`ingest handler, ${IDENTIFIERS} identifiers, ${SAMPLES} samples: ${format(ingestMs)}`);
  console.log(`floor (JSON.parse + SendMessage):            ${format(floorMs)}`);
  console.log(
    `ratio of means: ${(mean(ingestMs) / mean(floorMs)).toFixed(2)} (aim ≤ 1.5); DynamoDB calls per request: ${calls || 'none'}`,
  );
  console.log(
    JSON.stringify({
      at: new Date().toISOString(),
      samples: SAMPLES,
      identifiers: IDENTIFIERS,
      ingestMs: mean(ingestMs),
      floorMs: mean(floorMs),
      ratio: mean(ingestMs) / mean(floorMs),
      dynamoDbCallsPerRequest: Object.fromEntries(
        [...dynamoDbCalls].map(([command, count]) => [command, count / SAMPLES]),
      ),
    }),
  );
} finally {
  await stack.stop();
}
