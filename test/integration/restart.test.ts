/**
 * The local stack keeps its data: `npm start`, stopped by Ctrl-C (SIGINT) or killed
 * (SIGKILL), finds every workspace, key, user, cohort and accepted-but-unapplied change
 * again at the next start, and applies what was still queued.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../../local/emulators.js';
import { eventually } from '../support/stack.js';

interface Running {
  child: ChildProcess;
  url: string;
  keys: { partner: string; dataImport: string; rest: string };
  workspaceId: string;
  exited: Promise<number | null>;
}

const dataDir = await mkdtemp(join(tmpdir(), 'local-stack-'));
afterAll(() => rm(dataDir, { recursive: true, force: true }));

/**
 * Each test starts `npm start` twice (up to 90 s each on a loaded machine: tsx, DynamoDB
 * Local's JVM) and waits for what was queued (up to 60 s a cohort): its timeout is above the
 * sum, so a slow run ends with the wait's own message, not vitest's (the default 60 s was
 * below one start; a clean-clone run with two other runs beside it hit it).
 */
const TEST_TIMEOUT_MS = 2 * 90_000 + 4 * 60_000 + 60_000;

/** `npm start`'s script, as a separate process on its own port, reading what it prints. */
const start = async (): Promise<Running> => {
  const port = await freePort();
  const child = spawn(
    process.execPath,
    ['--disable-warning=ExperimentalWarning', '--import', 'tsx', 'scripts/local-stack.ts'],
    {
      env: { ...process.env, LOCAL_DATA_DIR: dataDir, PORT: String(port), POWERTOOLS_LOG_LEVEL: 'ERROR' },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  let output = '';
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  await eventually(
    async () => (output.includes('Ctrl-C stops everything') ? true : undefined),
    90_000,
    `the stack to start:\n${output}`,
  );
  const field = (label: string) => new RegExp(`${label}\\s+(\\S+)`).exec(output)![1]!;
  return {
    child,
    url: field('REST endpoint'),
    keys: { partner: field('Partner API key'), dataImport: field('Data import key'), rest: field('REST API key') },
    workspaceId: /\((demo-[0-9a-f]+)\)/.exec(output)![1]!,
    exited,
  };
};

const rest = (stack: Running, path: string, body?: unknown) =>
  fetch(`${stack.url}${path}`, {
    method: body === undefined ? 'GET' : 'POST',
    headers: { authorization: `Bearer ${stack.keys.rest}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  }).then(async (response) => ({ status: response.status, body: (await response.json()) as Record<string, unknown> }));

const changeCohort = (stack: Running, cohortId: string, userIds: string[]) =>
  fetch(`${stack.url}/partners/heap/cohorts/users`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      partner_api_key: stack.keys.partner,
      client_secret: stack.keys.dataImport,
      cohort_id: cohortId,
      cohort_changes: [{ user_ids: userIds }],
    }),
  }).then((response) => response.status);

const memberCount = async (stack: Running, cohortId: string): Promise<number | undefined> => {
  const { body } = await rest(stack, `/cohorts/heap/${cohortId}`);
  return (body.cohort as { member_count?: number } | undefined)?.member_count;
};

const USERS = Array.from({ length: 40 }, (_, index) => `user-${index}`);

describe('the local stack across restarts', () => {
  let first: Running;

  it('keeps everything through Ctrl-C (SIGINT)', { timeout: TEST_TIMEOUT_MS }, async () => {
    // Prepare
    first = await start();
    expect(
      (await rest(first, '/users/track', { attributes: USERS.map((external_id) => ({ external_id })) })).status,
    ).toBe(201);
    expect(await changeCohort(first, 'kept', USERS.slice(0, 10))).toBe(201);
    await eventually(
      async () => ((await memberCount(first, 'kept')) === 10 ? true : undefined),
      30_000,
      'the first sync',
    );

    // Act
    first.child.kill('SIGINT');
    expect(await first.exited).toBe(0);
    const second = await start();

    // Assess: the same workspace, the same keys, the same data.
    expect(second.workspaceId).toBe(first.workspaceId);
    expect(second.keys).toEqual(first.keys);
    expect(await memberCount(second, 'kept')).toBe(10);
    second.child.kill('SIGINT');
    await second.exited;
  });

  it('applies every accepted change after a SIGKILL, and ends the orphaned DynamoDB Local', {
    timeout: TEST_TIMEOUT_MS,
  }, async () => {
    // Prepare: changes accepted in a burst, the process killed right after the last 201.
    const running = await start();
    for (let index = 0; index < 40; index += 1)
      expect(await changeCohort(running, `burst-${index % 4}`, [USERS[index]!])).toBe(201);

    // Act
    running.child.kill('SIGKILL');
    await running.exited;
    const orphan = Number(await readFile(join(dataDir, 'dynamodb', 'dynamodb-local.pid'), 'utf8'));
    const restarted = await start();

    // Assess: 10 members in each cohort once the queued rest is applied.
    for (let cohort = 0; cohort < 4; cohort += 1) {
      await eventually(
        async () => ((await memberCount(restarted, `burst-${cohort}`)) === 10 ? true : undefined),
        60_000,
        `burst-${cohort}`,
      );
    }
    expect(await memberCount(restarted, 'kept')).toBe(10);
    expect(await readFile(`/proc/${orphan}/cmdline`, 'utf8').catch(() => 'gone')).toBe('gone');
    restarted.child.kill('SIGINT');
    expect(await restarted.exited).toBe(0);
  });
});
