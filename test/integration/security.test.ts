/**
 * Keys: stored only as hashes, never in logs, rotatable with a grace period; requests
 * per partner and workspace are rate limited as the contract says.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { ScanCommand } from '@aws-sdk/lib-dynamodb';
import type { LocalStack } from '../../lib/local/stack.js';
import { hashKey } from '../../lib/workspaces/keys.js';
import { PARTNER_MESSAGES } from '../../lib/contract/partner.js';
import { startTestStack } from '../support/stack.js';
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
  beforeAll(async () => {
    stack = await startTestStack({ poll: false });
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
    const workspace = await stack.stores.workspaces.createWorkspace({ name: 'rotate-later', partners: ['heap'] });
    const newKey = await stack.stores.workspaces.rotateKey(workspace.workspaceId, 'data_import', 1);
    expect((await changeWith(newKey)).status).toBe(201);
    expect((await changeWith(workspace.dataImportKey)).status).toBe(201);
    await new Promise((resolve) => setTimeout(resolve, 2_100));
    expect((await changeWith(workspace.dataImportKey)).status).toBe(401);
    expect((await changeWith(newKey)).status).toBe(201);
  });

  it('with the credential cache on, lets a rotated-out key work until the cache TTL ends, and a new key at once', async () => {
    // Prepare: a stack whose ingest caches credentials for 2 s (AWS: 30 s).
    const ttlMs = 2_000;
    const cachedStack = await startTestStack({ poll: false, credentialCacheTtlMs: ttlMs });
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
      const cachedAt = Date.now();

      // Act
      const newKey = await cachedStack.stores.workspaces.rotateKey(workspace.workspaceId, 'data_import');

      // Assess: the new key was never looked up, so nothing stale stands in its way; the old one
      // is still cached (checked only while well inside the TTL, so a slow machine cannot fail it).
      expect((await send(newKey)).status).toBe(201);
      const beforeStale = Date.now();
      const stale = await send(workspace.dataImportKey);
      if (beforeStale - cachedAt < ttlMs / 2) expect(stale.status).toBe(201);
      await new Promise((resolve) => setTimeout(resolve, Math.max(0, cachedAt + ttlMs + 100 - Date.now())));
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
  beforeAll(async () => {
    stack = await startTestStack({ poll: false, requestsPerHour: 3 });
  });
  afterAll(() => stack?.stop());

  it('answers 429 with the X-RateLimit headers over the limit, per partner and workspace', async () => {
    // Act
    const partner = partnerClient(stack);
    const responses = [];
    for (let index = 0; index < 4; index += 1) responses.push(await partner.changeCohort('c', []));

    // Assess
    expect(responses.map((response) => response.status)).toEqual([201, 201, 201, 429]);
    expect(responses.map((response) => response.headers.get('x-ratelimit-remaining'))).toEqual(['2', '1', '0', '0']);
    const limited = responses[3]!;
    expect(limited.headers.get('x-ratelimit-limit')).toBe('3');
    const reset = Number(limited.headers.get('x-ratelimit-reset'));
    expect(reset).toBeGreaterThan(Date.now() / 1000);
    expect(reset % 3600).toBe(0);
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(limited.body).toMatchObject({
      message: 'Rate limit exceeded',
      errors: [expect.stringContaining('3 requests per hour')],
    });
    // Another workspace of the same partner has its own budget.
    const other = await stack.stores.workspaces.createWorkspace({ name: 'other', partners: ['heap'] });
    expect((await partnerClient(stack, other).changeCohort('c', [])).status).toBe(201);
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
