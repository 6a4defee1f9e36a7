/**
 * Keys: 256 random bits, stored only as peppered hashes (older plain hashes still work and
 * are upgraded at first use), chosen keys refused below 256 bits, never in logs, rotatable
 * with a grace period; requests per partner and workspace are rate limited as the
 * contract says.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { GetCommand, PutCommand, ScanCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { LocalStack } from '../../local/stack.js';
import { generateKey, legacyKeyHash, WeakKeyError } from '../../lib/workspaces/keys.js';
import { PARTNER_MESSAGES } from '../../lib/contract/partner.js';
import { manualClock, startTestStack } from '../support/stack.js';
import { RateLimitedError, RateLimiter } from '../../lib/workspaces/rate-limit.js';
import { partnerClient, request, workspaceClient } from '../support/client.js';

describe('keys at rest and in logs', () => {
  let stack: LocalStack;
  const logs: string[] = [];

  beforeAll(async () => {
    // Everything the functions log, at the most verbose level, is captured.
    const level = process.env.POWERTOOLS_LOG_LEVEL;
    process.env.POWERTOOLS_LOG_LEVEL = 'DEBUG';
    stack = await startTestStack({ partners: ['heap'] });
    process.env.POWERTOOLS_LOG_LEVEL = level;
  });
  afterAll(() => stack?.stop());

  it('stores only peppered hashes of the partner, data import and REST keys, generated with 256 bits', async () => {
    // Act
    const items = (await stack.clients.documents.send(new ScanCommand({ TableName: stack.tables.workspaces }))).Items!;
    const stored = JSON.stringify(items);

    // Assess
    for (const key of [stack.partnerApiKey, stack.workspace.dataImportKey, stack.workspace.restApiKey]) {
      expect(key).toMatch(/^[0-9a-f]{64}$/);
      expect(stored).not.toContain(key);
      expect(stored).not.toContain(legacyKeyHash(key));
      expect(stored).toContain(await stack.stores.workspaces.keyHasher.hash(key));
    }
    const grants = items.filter((item) => String(item.pk).startsWith('KEY#'));
    expect(grants).toHaveLength(2);
    for (const grant of grants) expect(grant.pk).toMatch(/^KEY#v2:[0-9a-f]{64}$/);
  });

  it('never writes a key to the logs, whatever the request', async () => {
    // Prepare
    const write = process.stdout.write.bind(process.stdout);
    const spy = vi
      .spyOn(process.stdout, 'write')
      .mockImplementation((chunk: string | Uint8Array, ...rest: unknown[]) => {
        logs.push(typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString());
        return (write as (...args: unknown[]) => boolean)(chunk, ...rest);
      });
    const partner = partnerClient(stack);
    const wrongSecret = `${stack.workspace.dataImportKey.slice(0, 8)}-not-the-key`;

    // Act: accepted, rejected for each reason, and the REST API with good and bad keys.
    try {
      await workspaceClient(stack).track([{ external_id: 'logged-user' }]);
      await partner.changeCohort('c', [{ user_ids: ['logged-user'] }]);
      await request(`${stack.url}/partners/heap/cohorts/users`, {
        body: { partner_api_key: stack.partnerApiKey, client_secret: wrongSecret, cohort_id: 'c', cohort_changes: [] },
      });
      const notEnabled = await request(`${stack.url}/partners/segment/cohorts/users`, {
        body: {
          partner_api_key: stack.partnerApiKey,
          client_secret: stack.workspace.dataImportKey,
          cohort_id: 'c',
          cohort_changes: [],
        },
      });
      await request(`${stack.url}/partners/heap/cohorts/users`, {
        body: {
          partner_api_key: stack.partnerApiKey,
          client_secret: stack.workspace.dataImportKey,
          cohort_id: 'c',
          cohort_changes: 'bad',
        },
      });
      await request(`${stack.url}/cohorts`, { headers: { authorization: `Bearer ${stack.workspace.dataImportKey}` } });
      expect(notEnabled.status).toBe(401);
    } finally {
      spy.mockRestore();
    }

    // Assess
    const captured = logs.join('');
    expect(captured).toContain('request rejected');
    expect(captured).toContain('cohort changes accepted');
    for (const key of [stack.partnerApiKey, stack.workspace.dataImportKey, stack.workspace.restApiKey, wrongSecret]) {
      expect(captured).not.toContain(key);
    }
  });
});

describe('key rotation', () => {
  let stack: LocalStack;
  // Ingest's time, moved by the tests (no sleeping): mid-hour, so no step crosses a rate-limit window.
  const clock = manualClock(new Date(Date.UTC(2030, 0, 1, 10, 30)));
  beforeAll(async () => {
    stack = await startTestStack({ poll: false, ingestClock: clock.now });
  });
  afterAll(() => stack?.stop());

  const changeWith = (clientSecret: string) =>
    request(`${stack.url}/partners/heap/cohorts/users`, {
      body: { partner_api_key: stack.partnerApiKey, client_secret: clientSecret, cohort_id: 'c', cohort_changes: [] },
    });

  it('makes the new data import key work and the old one fail at once', async () => {
    const workspace = await stack.stores.workspaces.createWorkspace({ name: 'rotate-now', partners: ['heap'] });
    const newKey = await stack.stores.workspaces.rotateKey(workspace.workspaceId, 'data_import');
    expect((await changeWith(newKey)).status).toBe(201);
    const old = await changeWith(workspace.dataImportKey);
    expect(old).toMatchObject({ status: 401, body: { message: PARTNER_MESSAGES.invalidClientSecret } });
  });

  it('keeps the old key working during the grace period, then not', async () => {
    // Prepare
    const workspace = await stack.stores.workspaces.createWorkspace({ name: 'rotate-later', partners: ['heap'] });

    // Act: a grace of 60 s, as ingest's clock sees it.
    const newKey = await stack.stores.workspaces.rotateKey(workspace.workspaceId, 'data_import', 60, clock.now());

    // Assess: both keys work until the grace ends, to the second; then only the new one.
    expect((await changeWith(newKey)).status).toBe(201);
    expect((await changeWith(workspace.dataImportKey)).status).toBe(201);
    clock.advance(59_000);
    expect((await changeWith(workspace.dataImportKey)).status).toBe(201);
    clock.advance(1_000);
    expect(await changeWith(workspace.dataImportKey)).toMatchObject({
      status: 401,
      body: { message: PARTNER_MESSAGES.invalidClientSecret },
    });
    expect((await changeWith(newKey)).status).toBe(201);
  });

  it('with the credential cache on, lets a rotated-out key work until the cache TTL ends, and a new key at once', async () => {
    // Prepare: a stack whose ingest caches credentials for 30 s, as in AWS, on a clock of its own.
    const cacheClock = manualClock(new Date(Date.UTC(2030, 0, 1, 10, 30)));
    const cachedStack = await startTestStack({
      poll: false,
      credentialCacheTtlMs: 30_000,
      ingestClock: cacheClock.now,
    });
    try {
      const send = (clientSecret: string) =>
        request(`${cachedStack.url}/partners/heap/cohorts/users`, {
          body: {
            partner_api_key: cachedStack.partnerApiKey,
            client_secret: clientSecret,
            cohort_id: 'c',
            cohort_changes: [],
          },
        });
      const workspace = await cachedStack.stores.workspaces.createWorkspace({
        name: 'rotate-cached',
        partners: ['heap'],
      });
      expect((await send(workspace.dataImportKey)).status).toBe(201);

      // Act
      const newKey = await cachedStack.stores.workspaces.rotateKey(workspace.workspaceId, 'data_import');

      // Assess: the new key was never looked up, so nothing stale stands in its way; the old one
      // is served from the cache until its 30 s are up (30,000 ms included: lru-cache's rule), then refused.
      expect((await send(newKey)).status).toBe(201);
      cacheClock.advance(30_000);
      expect((await send(workspace.dataImportKey)).status).toBe(201);
      cacheClock.advance(1);
      expect(await send(workspace.dataImportKey)).toMatchObject({
        status: 401,
        body: { message: PARTNER_MESSAGES.invalidClientSecret },
      });
    } finally {
      await cachedStack.stop();
    }
  });

  it('rotates the REST API key', async () => {
    const workspace = await stack.stores.workspaces.createWorkspace({ name: 'rotate-rest', partners: ['heap'] });
    const newKey = await stack.stores.workspaces.rotateKey(workspace.workspaceId, 'rest');
    expect((await workspaceClient(stack, { ...workspace, restApiKey: newKey }).cohorts()).status).toBe(200);
    expect((await workspaceClient(stack, workspace).cohorts()).status).toBe(401);
  });
});

describe('rate limit', () => {
  let stack: LocalStack;
  // Ingest's time: half past ten, so the hourly window resets at eleven whenever the test runs.
  const windowEnd = Date.UTC(2030, 0, 1, 11);
  const clock = manualClock(new Date(windowEnd - 1_800_000));
  beforeAll(async () => {
    stack = await startTestStack({ poll: false, requestsPerHour: 3, ingestClock: clock.now });
  });
  afterAll(() => stack?.stop());

  it('answers 429 with the X-RateLimit headers over the limit, per partner and workspace, until the hour ends', async () => {
    // Act
    const partner = partnerClient(stack);
    const responses = [];
    for (let index = 0; index < 4; index += 1) responses.push(await partner.changeCohort('c', []));

    // Assess
    expect(responses.map((response) => response.status)).toEqual([201, 201, 201, 429]);
    expect(responses.map((response) => response.headers.get('x-ratelimit-remaining'))).toEqual(['2', '1', '0', '0']);
    const limited = responses[3]!;
    expect(limited.headers.get('x-ratelimit-limit')).toBe('3');
    expect(limited.headers.get('x-ratelimit-reset')).toBe(String(windowEnd / 1000));
    expect(limited.headers.get('retry-after')).toBe('1800');
    expect(limited.body).toMatchObject({
      message: 'Rate limit exceeded',
      errors: [expect.stringContaining('3 requests per hour')],
    });
    // Another workspace of the same partner has its own budget.
    const other = await stack.stores.workspaces.createWorkspace({ name: 'other', partners: ['heap'] });
    expect((await partnerClient(stack, other).changeCohort('c', [])).status).toBe(201);
    // The next hour is a new window.
    clock.advance(1_800_000);
    const nextHour = await partner.changeCohort('c', []);
    expect(nextHour.status).toBe(201);
    expect(nextHour.headers.get('x-ratelimit-reset')).toBe(String(windowEnd / 1000 + 3_600));
  });

  it('sends the X-RateLimit headers with a 400 after the keys were accepted (it counted), not with a 401', async () => {
    // Prepare
    const workspace = await stack.stores.workspaces.createWorkspace({ name: 'counted', partners: ['heap'] });
    const partner = partnerClient(stack, workspace);

    // Act
    const invalid = await partner.changeCohort('', []);
    const accepted = await partner.changeCohort('c', []);
    const unauthorized = await partnerClient(stack, { ...workspace, dataImportKey: 'not-a-key' }).changeCohort('c', []);

    // Assess: the 400 used one of the hour's 3 requests, and says so.
    expect(invalid).toMatchObject({ status: 400, body: { message: PARTNER_MESSAGES.cohortId } });
    expect(invalid.headers.get('x-ratelimit-limit')).toBe('3');
    expect(invalid.headers.get('x-ratelimit-remaining')).toBe('2');
    expect(Number(invalid.headers.get('x-ratelimit-reset'))).toBeGreaterThan(clock.now().getTime() / 1000);
    expect(accepted.headers.get('x-ratelimit-remaining')).toBe('1');
    // A 401 names no workspace whose budget it could count against.
    expect(unauthorized.status).toBe(401);
    expect(unauthorized.headers.get('x-ratelimit-remaining')).toBeNull();
  });

  it('admits at most the limit across instances claiming blocks of the shared DynamoDB counter', async () => {
    // Prepare: four instances' limiters on the real counter, 1,000 requests for a limit of 700.
    const limit = 700;
    const instances = Array.from({ length: 4 }, () => new RateLimiter(stack.stores.workspaces, limit));
    const now = new Date();
    const workspaceId = `limit-${now.getTime()}`;

    // Act
    const answers = await Promise.all(
      Array.from({ length: 1_000 }, (_, index) =>
        instances[index % instances.length]!.admit({ partner: 'heap', workspaceId, now }).then(
          () => 201,
          (error: unknown) => (error instanceof RateLimitedError ? 429 : 500),
        ),
      ),
    );

    // Assess
    const admitted = answers.filter((status) => status === 201).length;
    expect(answers).not.toContain(500);
    expect(admitted).toBeLessThanOrEqual(limit);
    // At most one unused block per instance (a 64th of the unclaimed part: ≤ 10 here).
    expect(admitted).toBeGreaterThanOrEqual(limit - instances.length * 10);
    expect(answers.filter((status) => status === 429).length).toBe(1_000 - admitted);
  });
});

describe('keys stored before peppers (plain SHA-256)', () => {
  let stack: LocalStack;
  beforeAll(async () => {
    stack = await startTestStack({ poll: false });
  });
  afterAll(() => stack?.stop());

  const item = async (pk: string) =>
    (await stack.clients.documents.send(new GetCommand({ TableName: stack.tables.workspaces, Key: { pk } }))).Item;

  /** A workspace and partner as the service stored them before peppers: grants under KEY#<sha256>. */
  const storeTheOldWay = async (dataImportKey: string, restApiKey: string) => {
    const workspaceId = `legacy-${randomUUID()}`;
    const table = stack.tables.workspaces;
    const put = (entry: Record<string, unknown>) =>
      stack.clients.documents.send(new PutCommand({ TableName: table, Item: entry }));
    const workspace = { workspaceId, name: 'legacy', partners: ['heap'], createdAt: new Date().toISOString() };
    await put({
      pk: `WS#${workspaceId}`,
      ...workspace,
      dataImportKeyHash: legacyKeyHash(dataImportKey),
      restKeyHash: legacyKeyHash(restApiKey),
    });
    await put({ pk: `KEY#${legacyKeyHash(dataImportKey)}`, kind: 'data_import', workspaceId, partners: ['heap'] });
    await put({ pk: `KEY#${legacyKeyHash(restApiKey)}`, kind: 'rest', workspaceId, partners: ['heap'] });
    await stack.clients.documents.send(
      new UpdateCommand({
        TableName: table,
        Key: { pk: 'PARTNER#heap' },
        UpdateExpression: 'SET keyHash = :legacy',
        ExpressionAttributeValues: { ':legacy': legacyKeyHash(stack.partnerApiKey) },
      }),
    );
    return workspaceId;
  };

  it('keep working, and are stored under their peppered hashes once used', async () => {
    // Prepare: UUID keys, as generated before 256-bit keys.
    const keys = { dataImportKey: randomUUID(), restApiKey: randomUUID() };
    const workspaceId = await storeTheOldWay(keys.dataImportKey, keys.restApiKey);
    const { keyHasher } = stack.stores.workspaces;

    // Act
    const partnerAnswer = await partnerClient(stack, keys).changeCohort('c', []);
    const restAnswer = await workspaceClient(stack, keys).cohorts();

    // Assess: accepted, and read straight from the table, nothing is left under a legacy hash.
    expect(partnerAnswer.status).toBe(201);
    expect(restAnswer.status).toBe(200);
    expect(await item(`KEY#${legacyKeyHash(keys.dataImportKey)}`)).toBeUndefined();
    expect(await item(`KEY#${legacyKeyHash(keys.restApiKey)}`)).toBeUndefined();
    expect(await item(`KEY#${await keyHasher.hash(keys.dataImportKey)}`)).toMatchObject({
      kind: 'data_import',
      workspaceId,
    });
    expect(await item(`KEY#${await keyHasher.hash(keys.restApiKey)}`)).toMatchObject({ kind: 'rest', workspaceId });
    expect(await item(`WS#${workspaceId}`)).toMatchObject({
      dataImportKeyHash: await keyHasher.hash(keys.dataImportKey),
      restKeyHash: await keyHasher.hash(keys.restApiKey),
    });
    expect(await item('PARTNER#heap')).toMatchObject({ keyHash: await keyHasher.hash(stack.partnerApiKey) });
    // Upgraded keys go on working, and rotate as any other.
    expect((await partnerClient(stack, keys).changeCohort('c', [])).status).toBe(201);
    const newKey = await stack.stores.workspaces.rotateKey(workspaceId, 'data_import');
    expect((await partnerClient(stack, { ...keys, dataImportKey: newKey }).changeCohort('c', [])).status).toBe(201);
    expect((await partnerClient(stack, keys).changeCohort('c', [])).status).toBe(401);
  });
});

describe('keys a caller chooses', () => {
  let stack: LocalStack;
  beforeAll(async () => {
    stack = await startTestStack({ poll: false });
  });
  afterAll(() => stack?.stop());

  it('are refused below 256 bits by the store, naming the key and what to do', async () => {
    // Act
    const refusals = [
      await stack.stores.workspaces
        .createWorkspace({ name: 'weak', partners: ['heap'], dataImportKey: randomUUID() })
        .catch((error: unknown) => error),
      await stack.stores.workspaces
        .createWorkspace({ name: 'weak', partners: ['heap'], restApiKey: 'password123' })
        .catch((error: unknown) => error),
      await stack.stores.workspaces
        .registerPartner('segment', { partnerApiKey: 'segment-key' })
        .catch((error: unknown) => error),
    ];

    // Assess
    expect(refusals.map((error) => (error as WeakKeyError).message)).toEqual([
      expect.stringMatching(/^The data import key given is too weak: it carries at most 128 random bits/),
      expect.stringMatching(/^The REST API key given is too weak: it carries at most \d+ random bits/),
      expect.stringMatching(/^The partner API key given is too weak: /),
    ]);
    for (const error of refusals) expect(error).toBeInstanceOf(WeakKeyError);
    const stored = JSON.stringify(
      (await stack.clients.documents.send(new ScanCommand({ TableName: stack.tables.workspaces }))).Items,
    );
    expect(stored).not.toContain('"weak"');
  });

  it('work end to end when strong enough', async () => {
    // Prepare
    const keys = { dataImportKey: generateKey(), restApiKey: Buffer.from(generateKey(), 'hex').toString('base64url') };

    // Act
    await stack.stores.workspaces.createWorkspace({ name: 'chosen', partners: ['heap'], ...keys });

    // Assess
    expect((await partnerClient(stack, keys).changeCohort('c', [])).status).toBe(201);
    expect((await workspaceClient(stack, keys).cohorts()).status).toBe(200);
  });

  it('are refused by the local stack before it starts', async () => {
    await expect(startTestStack({ partnerApiKey: randomUUID() })).rejects.toThrow(
      /The partner API key given is too weak/,
    );
  });

  it('are refused by npm start, naming the variable, before anything starts', async () => {
    // Prepare
    const dataDir = await mkdtemp(join(tmpdir(), 'weak-start-'));

    // Act
    const started = await promisify(execFile)(
      process.execPath,
      ['--disable-warning=ExperimentalWarning', '--import', 'tsx', 'scripts/local-stack.ts'],
      { env: { ...process.env, LOCAL_DATA_DIR: dataDir, LOCAL_REST_API_KEY: randomUUID() }, timeout: 30_000 },
    ).catch((error: { code: number; stderr: string }) => error);

    // Assess
    expect(started).toMatchObject({
      code: 2,
      stderr: expect.stringMatching(
        /^LOCAL_REST_API_KEY is too weak: it carries at most 128 random bits.*openssl rand -hex 32/,
      ),
    });
  });
});
