/**
 * The local SQS emulator with persistence on (as `npm start` runs it): a message whose
 * visibility is changed to 0 comes back (local/fauxqs-workarounds.ts), where fauxqs
 * alone loses it. The control documents the emulator's bug: when it is fixed upstream, the
 * control fails and the workaround can go.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ChangeMessageVisibilityCommand,
  CreateQueueCommand,
  ReceiveMessageCommand,
  SendMessageCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '../../local/constants.js';
import { type Emulator, startSqsEmulator } from '../../local/emulators.js';
import { avoidZeroVisibilityChanges } from '../../local/fauxqs-workarounds.js';

let folder: string;
let emulator: Emulator;
beforeAll(async () => {
  folder = await mkdtemp(join(tmpdir(), 'fauxqs-'));
  emulator = await startSqsEmulator(0, { dataDir: folder });
});
afterAll(async () => {
  await emulator?.stop();
  await rm(folder, { recursive: true, force: true });
});

const inFlightMessage = async (client: SQSClient, name: string) => {
  const { QueueUrl } = await client.send(new CreateQueueCommand({ QueueName: name }));
  await client.send(new SendMessageCommand({ QueueUrl, MessageBody: name }));
  const { Messages } = await client.send(
    new ReceiveMessageCommand({ QueueUrl, VisibilityTimeout: 60, WaitTimeSeconds: 1 }),
  );
  expect(Messages).toHaveLength(1);
  return { queueUrl: QueueUrl!, receiptHandle: Messages![0]!.ReceiptHandle! };
};

const newClient = () =>
  new SQSClient({ endpoint: emulator.endpoint, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS });

describe('the persistent SQS emulator', () => {
  it('gives a message back that was handed back with a 0-second visibility (through the workaround)', async () => {
    // Prepare
    const client = newClient();
    avoidZeroVisibilityChanges(client);
    const { queueUrl, receiptHandle } = await inFlightMessage(client, 'zero-visibility');

    // Act
    await client.send(
      new ChangeMessageVisibilityCommand({ QueueUrl: queueUrl, ReceiptHandle: receiptHandle, VisibilityTimeout: 0 }),
    );
    const again = await client.send(
      new ReceiveMessageCommand({ QueueUrl: queueUrl, VisibilityTimeout: 60, WaitTimeSeconds: 5 }),
    );

    // Assess
    expect(again.Messages?.map((message) => message.Body)).toEqual(['zero-visibility']);
  });

  it('(control) alone, fails a 0-second visibility change of a message in flight: the bug worked around', async () => {
    const client = newClient();
    const { queueUrl, receiptHandle } = await inFlightMessage(client, 'zero-visibility-control');
    await expect(
      client.send(
        new ChangeMessageVisibilityCommand({ QueueUrl: queueUrl, ReceiptHandle: receiptHandle, VisibilityTimeout: 0 }),
      ),
    ).rejects.toThrow();
  });
});
