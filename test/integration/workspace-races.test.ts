/**
 * Keys and switches obey their last word (issue 16, items 2 and 3), over HTTP on the local
 * stack: concurrent changes of a workspace's partners all apply (conditional writes, read
 * again on a lost race; never a lost update, never a 500), concurrent key rotations answer
 * 201 or 409, disabling a partner reaches a key in its grace period, and a rotation's
 * announced expiry is when the old key stops, to the second, with ingest's credential cache on.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalStack } from '../../local/stack.js';
import { PARTNER_MESSAGES } from '../../lib/contract/partner.js';
import { KNOWN_PARTNERS } from '../../lib/workspaces/partners.js';
import { partnerClient, request } from '../support/client.js';
import { manualClock, startTestStack } from '../support/stack.js';

const newWorkspace = async (stack: LocalStack, name: string, partners: string[] = ['heap']) => {
  const workspace = await stack.stores.workspaces.createWorkspace({ name, partners });
  const auth = { authorization: `Bearer ${workspace.restApiKey}` };
  return { workspace, auth };
};

describe('concurrent changes of a workspace', () => {
  let stack: LocalStack;
  beforeAll(async () => {
    // Every known partner registered and available, so that each can be enabled.
    stack = await startTestStack({ poll: false, partners: [...KNOWN_PARTNERS] });
  });
  afterAll(() => stack?.stop());

  it('applies every one of parallel partner changes (none lost, none a 500)', async () => {
    // Prepare
    const { auth } = await newWorkspace(stack, 'races-partners');
    const others = KNOWN_PARTNERS.filter((partner) => partner !== 'heap');

    // Act: seven changes at once, six enables and heap's disable
    const answers = await Promise.all([
      ...others.map((partner) =>
        request(`${stack.url}/workspace/partners/${partner}`, {
          method: 'PUT',
          body: { enabled: true },
          headers: auth,
        }),
      ),
      request(`${stack.url}/workspace/partners/heap`, { method: 'PUT', body: { enabled: false }, headers: auth }),
    ]);
    const workspace = await request<{ workspace: { partners: string[] } }>(`${stack.url}/workspace`, { headers: auth });

    // Assess: each answered 200 (or 409, which changed nothing), and what each 200 said is what holds
    for (const answer of answers) expect([200, 409]).toContain(answer.status);
    const applied = answers.flatMap((answer, index) =>
      answer.status === 200 ? [index < others.length ? others[index]! : '-heap'] : [],
    );
    expect(applied.length).toBeGreaterThan(0);
    const partners = new Set(workspace.body.workspace.partners);
    for (const change of applied) {
      if (change === '-heap') expect(partners.has('heap')).toBe(false);
      else expect(partners.has(change)).toBe(true);
    }
  });

  it('answers parallel key rotations 201 or 409, never 500, and the key the workspace shows works', async () => {
    // Prepare
    const { workspace, auth } = await newWorkspace(stack, 'races-keys');

    // Act
    const answers = await Promise.all(
      Array.from({ length: 6 }, () =>
        request<{ key?: { key: string; hint: string } }>(`${stack.url}/workspace/keys/data_import`, {
          method: 'POST',
          body: { grace_seconds: 0 },
          headers: auth,
        }),
      ),
    );
    const shown = await request<{ key: { hint: string } }>(`${stack.url}/workspace/keys/data_import`, {
      headers: auth,
    });

    // Assess
    for (const answer of answers) expect([201, 409]).toContain(answer.status);
    const issued = answers.flatMap((answer) => (answer.status === 201 && answer.body.key ? [answer.body.key] : []));
    expect(issued.length).toBeGreaterThan(0);
    const current = issued.find((key) => key.hint === shown.body.key.hint);
    expect(current, 'the key the workspace shows is one of those answered').toBeDefined();
    const works = await partnerClient(stack, { ...workspace, dataImportKey: current!.key }).changeCohort('c', []);
    expect(works.status).toBe(201);
    for (const answer of answers.filter((candidate) => candidate.status === 409))
      expect(answer.body).toMatchObject({ message: expect.stringMatching(/at the same time/), errors: [] });
  });

  it('cuts off a key in its grace period too when the partner is disabled, and lets it back when enabled', async () => {
    // Prepare: the old key in a grace of an hour, the new one current
    const { workspace, auth } = await newWorkspace(stack, 'grace-and-disable');
    const rotated = await request<{ key: { key: string } }>(`${stack.url}/workspace/keys/data_import`, {
      method: 'POST',
      body: { grace_seconds: 3600 },
      headers: auth,
    });
    const oldKey = partnerClient(stack, workspace);
    const newKey = partnerClient(stack, { ...workspace, dataImportKey: rotated.body.key.key });
    expect((await oldKey.changeCohort('c', [])).status).toBe(201);

    // Act
    await request(`${stack.url}/workspace/partners/heap`, { method: 'PUT', body: { enabled: false }, headers: auth });
    const oldWhileDisabled = await oldKey.changeCohort('c', []);
    const newWhileDisabled = await newKey.changeCohort('c', []);
    await request(`${stack.url}/workspace/partners/heap`, { method: 'PUT', body: { enabled: true }, headers: auth });

    // Assess
    expect(oldWhileDisabled).toMatchObject({
      status: 401,
      body: { message: PARTNER_MESSAGES.partnerNotEnabled(workspace.dataImportKey) },
    });
    expect(newWhileDisabled.status).toBe(401);
    expect((await oldKey.changeCohort('c', [])).status).toBe(201);
    expect((await newKey.changeCohort('c', [])).status).toBe(201);
  });
});

describe('a rotation without grace', () => {
  let stack: LocalStack;
  beforeAll(async () => {
    stack = await startTestStack({ poll: false });
  });
  afterAll(() => stack?.stop());

  it('ends every key of the kind still in its grace too (a leaked key is cut off whichever it was)', async () => {
    // Prepare: K1 rotated out with an hour of grace, K2 current
    const { workspace, auth } = await newWorkspace(stack, 'leaked');
    const rotate = (grace: number) =>
      request<{ key: { key: string } }>(`${stack.url}/workspace/keys/data_import`, {
        method: 'POST',
        body: { grace_seconds: grace },
        headers: auth,
      });
    const second = (await rotate(3600)).body.key.key;
    const withKey = (dataImportKey: string) => partnerClient(stack, { ...workspace, dataImportKey });
    expect((await withKey(workspace.dataImportKey).changeCohort('c', [])).status).toBe(201);

    // Act: the key leaked; rotated without grace
    const third = (await rotate(0)).body.key.key;

    // Assess
    for (const key of [workspace.dataImportKey, second])
      expect(await withKey(key).changeCohort('c', [])).toMatchObject({
        status: 401,
        body: { message: PARTNER_MESSAGES.invalidClientSecret },
      });
    expect((await withKey(third).changeCohort('c', [])).status).toBe(201);
  });
});

describe("a rotation's announced expiry, with ingest's credential cache on", () => {
  const CACHE_TTL_MS = 30_000;
  let stack: LocalStack;
  // Ingest's clock, moved by the test; it starts at the API's (real) time, so both speak of the same instants.
  const clock = manualClock(new Date());
  beforeAll(async () => {
    stack = await startTestStack({ poll: false, credentialCacheTtlMs: CACHE_TTL_MS, ingestClock: clock.now });
  });
  afterAll(() => stack?.stop());

  it('gives a grace shorter than the cache the cache’s TTL, and the old key stops at the announced second', async () => {
    // Prepare: the old key looked up (so cached, without an expiry) before the rotation
    const { workspace, auth } = await newWorkspace(stack, 'short-grace');
    const oldKey = partnerClient(stack, workspace);
    expect((await oldKey.changeCohort('c', [])).status).toBe(201);

    // Act: a grace of 3 s
    const rotated = await request<{ key: { created_at: string; previous_key_expires_at: string } }>(
      `${stack.url}/workspace/keys/data_import`,
      { method: 'POST', body: { grace_seconds: 3 }, headers: auth },
    );
    const expiresAt = Date.parse(rotated.body.key.previous_key_expires_at);

    // Assess: announced at least the cache's TTL ahead; accepted until then, refused from then on
    expect(expiresAt - Date.parse(rotated.body.key.created_at)).toBeGreaterThanOrEqual(CACHE_TTL_MS);
    clock.advance(expiresAt - 1_000 - clock.now().getTime());
    expect((await oldKey.changeCohort('c', [])).status).toBe(201);
    clock.advance(1_000);
    expect(await oldKey.changeCohort('c', [])).toMatchObject({
      status: 401,
      body: { message: PARTNER_MESSAGES.invalidClientSecret },
    });
  });
});
