/**
 * Keys: stored only as hashes, never in logs, rotatable with a grace period; requests
 * per partner and workspace are rate limited as the contract says.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { ScanCommand } from '@aws-sdk/lib-dynamodb';
import type { LocalStack } from '../../lib/local/stack.js';
import { hashKey } from '../../lib/workspaces/keys.js';
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

  it('stores only hashes of the partner, data import and REST keys', async () => {
    // Act
    const items = await stack.clients.documents.send(new ScanCommand({ TableName: stack.tables.workspaces }));
    const stored = JSON.stringify(items.Items);

    // Assess
    for (const key of [stack.partnerApiKey, stack.workspace.dataImportKey, stack.workspace.restApiKey]) {
      expect(stored).not.toContain(key);
      expect(stored).toContain(hashKey(key));
    }
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
      // is served from the cache until its 30 s are up, then refused.
      expect((await send(newKey)).status).toBe(201);
      cacheClock.advance(29_999);
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
