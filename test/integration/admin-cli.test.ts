/**
 * The operator CLI, run as an operator runs it (`npm run admin -- …`), against a local stack.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { SendMessageCommand } from '@aws-sdk/client-sqs';
import { describeStack, type LocalStack } from '../../lib/local/stack.js';
import { PARTNER_MESSAGES } from '../../lib/contract/partner.js';
import { eventually, startTestStack } from '../support/stack.js';
import { partnerClient, request } from '../support/client.js';

const run = promisify(execFile);
let stack: LocalStack;
let stackFile: string;

const admin = async (...args: string[]): Promise<string> => {
  const { stdout } = await run('npx', ['tsx', 'scripts/admin.ts', '--local', '--stack-file', stackFile, ...args]);
  return stdout;
};
const keyAfter = (output: string, label: string): string => {
  // The key is the last word of the line that names it.
  const match = new RegExp(`^${label}.*\\s(\\S+)$`, 'm').exec(output);
  if (!match?.[1]) throw new Error(`no ${label} in: ${output}`);
  return match[1];
};

beforeAll(async () => {
  stack = await startTestStack({ poll: false });
  stackFile = join(await mkdtemp(join(tmpdir(), 'admin-')), 'stack.json');
  await writeFile(stackFile, JSON.stringify(describeStack(stack)));
});
afterAll(() => stack?.stop());

describe('npm run admin', () => {
  it('creates a workspace whose printed keys work, and rotates its data import key', async () => {
    // Act
    const created = await admin('workspace', 'create', '--name', 'acme', '--partners', 'heap');
    const dataImportKey = keyAfter(created, 'Data import key');
    const restApiKey = keyAfter(created, 'REST API key');
    const workspaceId = /\(([0-9a-f]{24})\)/.exec(created)![1]!;

    // Assess
    expect((await partnerClient(stack, { dataImportKey, restApiKey }).changeCohort('c', [])).status).toBe(201);
    expect((await request(`${stack.url}/cohorts`, { headers: { authorization: `Bearer ${restApiKey}` } })).status).toBe(
      200,
    );

    const rotated = await admin('workspace', 'rotate-key', '--workspace', workspaceId, '--kind', 'data_import');
    const newKey = keyAfter(rotated, 'New data_import key');
    expect((await partnerClient(stack, { dataImportKey: newKey, restApiKey }).changeCohort('c', [])).status).toBe(201);
    const old = await partnerClient(stack, { dataImportKey, restApiKey }).changeCohort('c', []);
    expect(old.body.message).toBe(PARTNER_MESSAGES.invalidClientSecret);
  });

  it('counts and redrives the DLQ', async () => {
    // Prepare
    await stack.clients.sqs.send(
      new SendMessageCommand({ QueueUrl: stack.queues.deadLetterQueueUrl, MessageBody: '{"dead":true}' }),
    );
    await eventually(
      async () => ((await admin('dlq', 'count')).startsWith('1 ') ? true : undefined),
      10_000,
      'the DLQ count',
    );

    // Act
    const redriven = await admin('dlq', 'redrive');

    // Assess
    expect(redriven).toContain('Moved 1 message(s)');
    expect(await admin('dlq', 'count')).toMatch(/^0 /);
  });

  it('creates, lists, pauses and deletes Currents connectors', async () => {
    // Act
    const created = await admin(
      'currents',
      'create',
      '--workspace',
      stack.workspace.workspaceId,
      '--url',
      'https://heap.example/currents',
      '--token',
      't0ken',
      '--events',
      'users.behaviors.CustomEvent,users.behaviors.Purchase',
    );
    const connectorId = /connector (\S+):/.exec(created)![1]!;
    await admin('currents', 'pause', '--workspace', stack.workspace.workspaceId, '--connector', connectorId);

    // Assess
    const listed = (await admin('currents', 'list', '--workspace', stack.workspace.workspaceId))
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(listed).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ connectorId, url: 'https://heap.example/currents', paused: true }),
      ]),
    );
    expect(JSON.stringify(listed)).not.toContain('t0ken');
    expect(
      await admin('currents', 'dead-letters', '--workspace', stack.workspace.workspaceId, '--connector', connectorId),
    ).toContain('0 dropped event(s).');
    await admin('currents', 'delete', '--workspace', stack.workspace.workspaceId, '--connector', connectorId);
    await expect(
      admin('currents', 'delete', '--workspace', stack.workspace.workspaceId, '--connector', connectorId),
    ).rejects.toThrow(/No such connector/);
  });

  it('refuses unknown partners with a clear message', async () => {
    await expect(admin('workspace', 'create', '--name', 'x', '--partners', 'nobody')).rejects.toThrow(
      /--partners takes a comma list of: heap/,
    );
  });
});
