import { randomUUID } from 'node:crypto';
import type { SQSEvent, SQSRecord } from 'aws-lambda';
import { ReceiveMessageCommand, DeleteMessageBatchCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { lambdaContext } from '../../local/lambda-context.js';
import type { DeadLetter } from '../../lib/currents/ports.js';
import type { SqsHandler } from '../../local/sqs-poller.js';

export const sqsRecord = (body: string, overrides: Partial<SQSRecord> = {}): SQSRecord => ({
  messageId: randomUUID(),
  receiptHandle: randomUUID(),
  body,
  attributes: {
    ApproximateReceiveCount: '1',
    SentTimestamp: String(Date.now()),
    SenderId: 'test',
    ApproximateFirstReceiveTimestamp: String(Date.now()),
  },
  messageAttributes: {},
  md5OfBody: '',
  eventSource: 'aws:sqs',
  eventSourceARN: 'arn:aws:sqs:us-east-1:000000000000:test',
  awsRegion: 'us-east-1',
  ...overrides,
});

export const sqsEvent = (bodies: readonly string[]): SQSEvent => ({ Records: bodies.map((body) => sqsRecord(body)) });

export const context = (name = 'sync') => lambdaContext(name, 30_000);

/** Takes every message off a queue (receives until empty, deleting what it got). */
export const drainMessages = async (client: SQSClient, queueUrl: string): Promise<string[]> => {
  const bodies: string[] = [];
  for (;;) {
    const response = await client.send(
      new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 0 }),
    );
    const messages = response.Messages ?? [];
    if (messages.length === 0) return bodies;
    bodies.push(...messages.map((message) => message.Body!));
    await client.send(
      new DeleteMessageBatchCommand({
        QueueUrl: queueUrl,
        Entries: messages.map((message, index) => ({ Id: String(index), ReceiptHandle: message.ReceiptHandle! })),
      }),
    );
  }
};

/** A seeded shuffle, so a failing order can be replayed. */
export const shuffle = <T>(items: readonly T[], seed: number): T[] => {
  const result = [...items];
  let state = seed >>> 0 || 1;
  const random = () => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) / 2 ** 32;
  };
  for (let index = result.length - 1; index > 0; index -= 1) {
    const other = Math.floor(random() * (index + 1));
    [result[index], result[other]] = [result[other]!, result[index]!];
  }
  return result;
};

/** An API Gateway HTTP API (payload 2.0) event, as the gateway would build it. */
export const httpEvent = (
  routeKey: string,
  body: string | undefined,
  options: { pathParameters?: Record<string, string>; headers?: Record<string, string> } = {},
): import('aws-lambda').APIGatewayProxyEventV2 => {
  const [method, path] = routeKey.split(' ') as [string, string];
  const requestId = randomUUID();
  return {
    version: '2.0',
    routeKey,
    rawPath: path,
    rawQueryString: '',
    headers: { 'content-type': 'application/json', ...options.headers },
    pathParameters: options.pathParameters,
    body,
    isBase64Encoded: false,
    requestContext: {
      accountId: '000000000000',
      apiId: 'test',
      domainName: 'localhost',
      domainPrefix: 'test',
      http: { method, path, protocol: 'HTTP/1.1', sourceIp: '127.0.0.1', userAgent: 'test' },
      requestId,
      routeKey,
      stage: '$default',
      time: new Date().toUTCString(),
      timeEpoch: Date.now(),
    },
  };
};

/** A Currents event a receiver refused with 400, as the sender records it in the connector's dead letters (its id fixed, for a test to find). */
export const rejectedDeadLetter = (): DeadLetter => ({
  droppedAt: new Date().toISOString(),
  reason: 'rejected by the endpoint (400)',
  status: 400,
  event: {
    id: 'a3bb189e-8bf9-4888-9912-ace4e6543002',
    event_type: 'users.behaviors.CustomEvent',
    time: 1_700_000_000,
    user: { user_id: 'u1', external_user_id: 'user-1' },
    properties: { name: 'added_to_cart', custom_properties: {} },
  },
});

/**
 * Wraps an SQS handler as SQS's at-least-once delivery would: while `when()` holds, each
 * batch is handled twice in a row (a redelivery). `seen` sees every batch first; `twice`
 * is told of each doubled one.
 */
export const deliveredTwice =
  (
    handler: SqsHandler,
    when: () => boolean,
    options: { seen?: (event: SQSEvent) => void; twice?: () => void } = {},
  ): SqsHandler =>
  async (event, context) => {
    options.seen?.(event);
    if (!when()) return handler(event, context);
    await handler(event, context);
    options.twice?.();
    return handler(event, context);
  };
