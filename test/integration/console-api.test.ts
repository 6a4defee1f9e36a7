/**
 * The REST routes the console stands on (the workspace's own partners and data import key,
 * Currents connectors, an export's download) and the console's files with their headers,
 * against a local stack. The console itself, in Chromium: test/integration/console-e2e.test.ts.
 */
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalStack } from '../../local/stack.js';
import { partnerClient, request, workspaceClient } from '../support/client.js';
import { rejectedDeadLetter } from '../support/events.js';
import { eventually, startTestStack } from '../support/stack.js';

let stack: LocalStack;
let consoleFolder: string;
let auth: Record<string, string>;

beforeAll(async () => {
  consoleFolder = await mkdtemp(join(tmpdir(), 'console-'));
  await mkdir(join(consoleFolder, 'assets'));
  await writeFile(join(consoleFolder, 'index.html'), '<!doctype html><title>console</title>');
  await writeFile(
    join(consoleFolder, 'assets', 'index-AbC123.js'),
    `console.log(${JSON.stringify('x'.repeat(2000))});`,
  );
  stack = await startTestStack({ consoleFolder });
  auth = { authorization: `Bearer ${stack.workspace.restApiKey}` };
});

afterAll(async () => {
  await stack?.stop();
  await rm(consoleFolder, { recursive: true, force: true });
});

describe('the console files', () => {
  it('serves the page without a key, with a strict Content-Security-Policy and the security headers', async () => {
    // Act
    const response = await fetch(`${stack.url}/`);

    // Assess
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(await response.text()).toContain('<title>console</title>');
    const csp = response.headers.get('content-security-policy') ?? '';
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("script-src 'self'");
    expect(csp).not.toMatch(/unsafe-inline|unsafe-eval|sandbox/);
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).toContain("require-trusted-types-for 'script'");
    expect(response.headers.get('x-content-type-options')).toBe('nosniff');
    expect(response.headers.get('x-frame-options')).toBe('DENY');
    expect(response.headers.get('referrer-policy')).toBe('no-referrer');
    expect(response.headers.get('cache-control')).toBe('no-cache');
  });

  it('serves hashed assets gzip-compressed and cached for a year; anything else is a 404 in the error shape', async () => {
    // Act
    const raw = await fetch(`${stack.url}/assets/index-AbC123.js`, { headers: { 'accept-encoding': 'gzip' } });
    const escaping = await request(`${stack.url}/assets/..%2Findex.html`);
    const missing = await request(`${stack.url}/assets/nothing.js`);

    // Assess
    expect(raw.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
    expect(raw.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    // fetch decompresses: the size on the wire is what says it was compressed.
    expect(raw.headers.get('content-encoding')).toBe('gzip');
    expect(await raw.text()).toContain('console.log');
    expect(escaping.status).toBe(404);
    expect(missing).toMatchObject({ status: 404, body: { message: 'No console file nothing.js' } });
  });

  it('says how to build the console when it is not built', async () => {
    // Prepare
    const bare = await startTestStack({ consoleFolder: join(consoleFolder, 'missing') });

    // Act
    const answer = await request(`${bare.url}/`).finally(() => bare.stop());

    // Assess
    expect(answer).toMatchObject({
      status: 404,
      body: { message: 'The console is not built here: run npm run build' },
    });
  });
});

describe('the workspace, its partners and its data import key', () => {
  it('names the workspace and lists every known partner with its status here', async () => {
    // Act
    const workspace = await request(`${stack.url}/workspace`, { headers: auth });
    const partners = await request<{ partners: { partner: string; enabled: boolean; available: boolean }[] }>(
      `${stack.url}/workspace/partners`,
      { headers: auth },
    );

    // Assess
    // Exactly these fields (never a key), as the admin CLI's `workspace show --json` prints them.
    expect(workspace.body).toEqual({
      workspace: {
        workspace_id: stack.workspace.workspaceId,
        name: 'demo',
        partners: ['heap'],
        created_at: expect.any(String),
      },
      message: 'success',
    });
    expect(partners.body.partners).toHaveLength(8);
    expect(partners.body.partners[0]).toEqual({ partner: 'heap', enabled: true, available: true });
    expect(partners.body.partners.find((item) => item.partner === 'segment')).toEqual({
      partner: 'segment',
      enabled: false,
      available: false,
    });
  });

  it('refuses to enable a partner this deployment does not offer (409, saying why), and changes nothing', async () => {
    // Act
    const refused = await request(`${stack.url}/workspace/partners/segment`, {
      method: 'PUT',
      body: { enabled: true },
      headers: { authorization: `Bearer ${stack.workspace.restApiKey}` },
    });
    const workspace = await request<{ workspace: { partners: string[] } }>(`${stack.url}/workspace`, {
      headers: { authorization: `Bearer ${stack.workspace.restApiKey}` },
    });

    // Assess
    expect(refused.status).toBe(409);
    expect(refused.body).toEqual({
      message:
        'segment is not offered by this deployment: an operator must register it first (npm run admin -- partner register segment)',
      errors: [],
    });
    expect(workspace.body.workspace.partners).not.toContain('segment');
  });

  it('enables and disables a partner: its requests are accepted, then refused', async () => {
    // Prepare
    const amplitude = partnerClient(stack, stack.workspace, 'amplitude');
    await stack.stores.workspaces.setPartnerEnabled('amplitude', true);

    // Act
    const enabled = await request(`${stack.url}/workspace/partners/amplitude`, {
      method: 'PUT',
      body: { enabled: true },
      headers: auth,
    });
    const accepted = await amplitude.changeCohort('a1', []);
    const disabled = await request(`${stack.url}/workspace/partners/amplitude`, {
      method: 'PUT',
      body: { enabled: false },
      headers: auth,
    });
    const refused = await amplitude.changeCohort('a1', []);
    const unknown = await request(`${stack.url}/workspace/partners/nope`, {
      method: 'PUT',
      body: { enabled: true },
      headers: auth,
    });
    const malformed = await request(`${stack.url}/workspace/partners/heap`, {
      method: 'PUT',
      body: { enabled: 'yes' },
      headers: auth,
    });

    // Assess
    expect(enabled.body).toEqual({
      partner: { partner: 'amplitude', enabled: true, available: true },
      message: 'success',
    });
    expect(accepted.status).toBe(201);
    expect(disabled.body).toMatchObject({ partner: { partner: 'amplitude', enabled: false } });
    expect(refused.status).toBe(401);
    expect(unknown.status).toBe(404);
    expect(malformed).toMatchObject({
      status: 400,
      body: { message: 'Invalid partner change: enabled: must be true or false' },
    });
  });

  it('shows the data import key only by its hint and creation time, and a new key once', async () => {
    // Prepare: a workspace of its own (its keys are rotated here; the rest of the file uses the demo workspace's)
    const workspace = await stack.stores.workspaces.createWorkspace({ name: 'keys-shown', partners: ['heap'] });
    const auth = { authorization: `Bearer ${workspace.restApiKey}` };
    const before = await request<{ key: { hint: string; created_at: string } }>(
      `${stack.url}/workspace/keys/data_import`,
      { headers: auth },
    );

    // Act
    const rotated = await request<{
      key: { key: string; hint: string; created_at: string; previous_key_expires_at: string };
    }>(`${stack.url}/workspace/keys/data_import`, { method: 'POST', body: { grace_seconds: 3600 }, headers: auth });
    const after = await request(`${stack.url}/workspace/keys/data_import`, { headers: auth });
    const oldKeyStillWorks = await partnerClient(stack, workspace).changeCohort('k1', []);
    const newKeyWorks = await partnerClient(stack, {
      ...workspace,
      dataImportKey: rotated.body.key.key,
    }).changeCohort('k1', []);

    // Assess
    expect(before.body.key).toEqual({
      kind: 'data_import',
      hint: `…${workspace.dataImportKey.slice(-4)}`,
      created_at: workspace.createdAt,
    });
    expect(rotated.status).toBe(201);
    expect(rotated.headers.get('cache-control')).toBe('no-store');
    expect(rotated.body.key.key).toMatch(/^[0-9a-f]{64}$/);
    expect(rotated.body.key.hint).toBe(`…${rotated.body.key.key.slice(-4)}`);
    expect(
      Date.parse(rotated.body.key.previous_key_expires_at) - Date.parse(rotated.body.key.created_at),
    ).toBeGreaterThanOrEqual(3_600_000);
    // Shown once: reading the key again gives its hint, never the key or its hash.
    expect(after.body).toEqual({
      key: { kind: 'data_import', hint: rotated.body.key.hint, created_at: rotated.body.key.created_at },
      message: 'success',
    });
    expect(JSON.stringify(after.body)).not.toContain(rotated.body.key.key);
    expect(oldKeyStillWorks.status).toBe(201);
    expect(newKeyWorks.status).toBe(201);
  });

  it('cuts the old key off at once without grace; refuses a grace over 7 days and the REST key', async () => {
    // Prepare: a workspace of its own
    const workspace = await stack.stores.workspaces.createWorkspace({ name: 'keys-cut', partners: ['heap'] });
    const auth = { authorization: `Bearer ${workspace.restApiKey}` };
    const current = await request<{ key: { key: string } }>(`${stack.url}/workspace/keys/data_import`, {
      method: 'POST',
      body: {},
      headers: auth,
    });

    // Act
    const next = await request<{ key: { key: string; previous_key_expires_at: null } }>(
      `${stack.url}/workspace/keys/data_import`,
      { method: 'POST', body: { grace_seconds: 0 }, headers: auth },
    );
    const cutOff = await partnerClient(stack, { ...workspace, dataImportKey: current.body.key.key }).changeCohort(
      'k1',
      [],
    );
    const tooLong = await request(`${stack.url}/workspace/keys/data_import`, {
      method: 'POST',
      body: { grace_seconds: 8 * 86_400 },
      headers: auth,
    });
    const rest = await request(`${stack.url}/workspace/keys/rest`, { method: 'POST', body: {}, headers: auth });

    // Assess
    expect(next.body.key.previous_key_expires_at).toBeNull();
    expect(cutOff).toMatchObject({ status: 401, body: { message: 'Invalid client secret' } });
    expect(tooLong.status).toBe(400);
    expect(rest.status).toBe(400);
    expect((rest.body as { message: string }).message).toMatch(/^Only the data import key/);
  });

  it('refuses every workspace route without a valid REST API key', async () => {
    // Act
    const answers = await Promise.all(
      ['/workspace', '/workspace/partners', '/workspace/keys/data_import', '/currents'].map((path) =>
        request(`${stack.url}${path}`, { headers: { authorization: 'Bearer wrong' } }),
      ),
    );

    // Assess
    for (const answer of answers)
      expect(answer).toMatchObject({ status: 401, body: { message: 'Invalid REST API key' } });
  });
});

describe('Currents connectors', () => {
  it('lists connectors, pauses and resumes one, lists its dead letters and replays them', async () => {
    // Prepare
    const connectorId = stack.currents.demoConnectorId;
    const { workspaceId } = stack.workspace;
    await stack.currents.connectors.putDeadLetters(workspaceId, connectorId, [rejectedDeadLetter()]);

    // Act
    const list = await request<{ connectors: { connector_id: string; paused: boolean }[] }>(`${stack.url}/currents`, {
      headers: auth,
    });
    const paused = await request(`${stack.url}/currents/${connectorId}/pause`, { method: 'POST', headers: auth });
    const resumed = await request(`${stack.url}/currents/${connectorId}/resume`, { method: 'POST', headers: auth });
    const letters = await request(`${stack.url}/currents/${connectorId}/dead-letters`, { headers: auth });
    const replayed = await request(`${stack.url}/currents/${connectorId}/replay`, { method: 'POST', headers: auth });
    const lettersAfter = await request(`${stack.url}/currents/${connectorId}/dead-letters`, { headers: auth });
    const unknown = await request(`${stack.url}/currents/nope/pause`, { method: 'POST', headers: auth });

    // Assess
    expect(list.body.connectors.map((connector) => connector.connector_id)).toEqual([connectorId]);
    expect(paused.body).toMatchObject({ connector: { connector_id: connectorId, paused: true } });
    expect(resumed.body).toMatchObject({ connector: { connector_id: connectorId, paused: false } });
    expect(letters.body).toEqual({
      dead_letters: [
        {
          dropped_at: expect.any(String),
          reason: 'rejected by the endpoint (400)',
          status: 400,
          event_id: 'a3bb189e-8bf9-4888-9912-ace4e6543002',
          event_type: 'users.behaviors.CustomEvent',
        },
      ],
      next_cursor: null,
      message: 'success',
    });
    expect(replayed.body).toEqual({ connector_id: connectorId, requeued: 1, remaining: false, message: 'success' });
    expect(lettersAfter.body).toEqual({ dead_letters: [], next_cursor: null, message: 'success' });
    expect(unknown.status).toBe(404);
  });
});

describe('Currents dead letters replayed twice at once', () => {
  it('queue each letter once: the two replays split them (each claimed before it is queued)', async () => {
    // Prepare: 100 dead letters on the demo connector, whose receiver answers 200 (before the test at scale,
    // whose events wait in the queue of a paused connector and would keep the stack from settling).
    const connectorId = stack.currents.demoConnectorId;
    const { workspaceId } = stack.workspace;
    const letters = Array.from({ length: 100 }, (_, index) => {
      const letter = rejectedDeadLetter();
      return {
        ...letter,
        droppedAt: new Date(Date.UTC(2026, 11, 2, 0, 0, index)).toISOString(),
        event: { ...letter.event, id: `00000000-0000-4000-9000-${String(index).padStart(12, '0')}` },
      };
    });
    const ids = new Set(letters.map((letter) => letter.event.id));
    await stack.currents.connectors.putDeadLetters(workspaceId, connectorId, letters);
    const replay = () =>
      request<{ requeued: number; remaining: boolean }>(`${stack.url}/currents/${connectorId}/replay`, {
        method: 'POST',
        headers: auth,
      });

    // Act
    const [first, second] = await Promise.all([replay(), replay()]);
    await stack.settled();

    // Assess: every letter arrived exactly once, and the two answers add up to the 100.
    const arrivals = new Map<string, number>();
    for (const batch of stack.currents.receiver.batches)
      for (const event of batch.events)
        if (ids.has(event.id)) arrivals.set(event.id, (arrivals.get(event.id) ?? 0) + 1);
    expect(arrivals.size).toBe(100);
    expect([...arrivals.values()].every((count) => count === 1)).toBe(true);
    expect(first!.status).toBe(200);
    expect(second!.status).toBe(200);
    expect(first!.body.requeued + second!.body.requeued).toBe(100);
    expect([first!.body.remaining, second!.body.remaining]).toEqual([false, false]);
    expect(await stack.currents.connectors.listDeadLetters(workspaceId, connectorId)).toEqual([]);
  });
});

describe('Currents dead letters at scale', () => {
  it('come in pages (newest first on request), and a replay queues at most 200 a request, saying whether more remain', async () => {
    // Prepare: 400 dead letters on a paused connector (so that replayed events wait in the queue).
    const connectorId = stack.currents.demoConnectorId;
    const { workspaceId } = stack.workspace;
    await request(`${stack.url}/currents/${connectorId}/pause`, { method: 'POST', headers: auth });
    const letters = Array.from({ length: 400 }, (_, index) => {
      const letter = rejectedDeadLetter();
      return {
        ...letter,
        droppedAt: new Date(Date.UTC(2026, 11, 1, 0, 0, index)).toISOString(),
        ...(index === 5 ? { reason: 'gone (410)', status: 410 } : {}),
        event: { ...letter.event, id: `00000000-0000-4000-8000-${String(index).padStart(12, '0')}` },
      };
    });
    await stack.currents.connectors.putDeadLetters(workspaceId, connectorId, letters);
    const page = (query: string) =>
      request<{ dead_letters: { event_id: string }[]; next_cursor: string | null }>(
        `${stack.url}/currents/${connectorId}/dead-letters?${query}`,
        { headers: auth },
      );

    // Act: every page of 100, the newest three, and replays until none remain.
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const answer = await page(`limit=100${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
      seen.push(...answer.body.dead_letters.map((letter) => letter.event_id));
      cursor = answer.body.next_cursor;
      pages += 1;
    } while (cursor !== null && pages < 20);
    const newest = await page('limit=3&order=desc');
    // Searched on the server: an event id's start, a reason's text (any case), the event type, nothing.
    const byId = await page(`q=${encodeURIComponent('00000000-0000-4000-8000-0000000003')}&order=desc&limit=100`);
    const byReason = await page('q=GONE');
    const byType = await page('q=customevent&limit=500');
    const none = await page('q=nothing%20like%20it');
    // Replays until none remain, as an operator would: a busy answer (503: the request ran out of
    // its 30 s on a loaded machine, its work so far kept) is asked again after its Retry-After.
    const replays: { requeued: number; remaining: boolean }[] = [];
    let busy = 0;
    for (let remaining = true; remaining && replays.length + busy < 10; ) {
      const answer = await request<{ requeued: number; remaining: boolean }>(
        `${stack.url}/currents/${connectorId}/replay`,
        { method: 'POST', headers: auth },
      );
      if (answer.status === 503) {
        busy += 1;
        await new Promise((resolve) => setTimeout(resolve, Number(answer.headers.get('retry-after') ?? '1') * 1000));
        continue;
      }
      replays.push({ requeued: answer.body.requeued, remaining: answer.body.remaining });
      remaining = answer.body.remaining;
    }
    const after = await page('limit=100');
    await request(`${stack.url}/currents/${connectorId}/resume`, { method: 'POST', headers: auth });

    // Assess: each once, in the order dropped; none left.
    expect(seen).toEqual(letters.map((letter) => letter.event.id));
    expect(newest.body.dead_letters.map((letter) => letter.event_id)).toEqual(
      letters
        .slice(-3)
        .reverse()
        .map((letter) => letter.event.id),
    );
    // 400 letters: two replays, the second saying none remain (a page that ends at its limit is the end).
    // After a busy answer, whatever that request queued before it ran out is not counted in any answer:
    // then every answer queued at most 200 and the last says none remain (and none are left, below).
    if (busy === 0)
      expect(replays).toEqual([
        { requeued: 200, remaining: true },
        { requeued: 200, remaining: false },
      ]);
    else {
      expect(replays.every((replay) => replay.requeued <= 200)).toBe(true);
      expect(replays.at(-1)?.remaining).toBe(false);
    }
    expect(byId.body.dead_letters.map((letter) => letter.event_id)).toEqual(
      letters
        .slice(300)
        .reverse()
        .map((letter) => letter.event.id),
    );
    expect(byReason.body.dead_letters.map((letter) => letter.event_id)).toEqual([letters[5]!.event.id]);
    expect(byReason.body.next_cursor).toBeNull();
    expect(byType.body.dead_letters).toHaveLength(400);
    expect(none.body).toEqual({ dead_letters: [], next_cursor: null, message: 'success' });
    expect(after.body.dead_letters).toEqual([]);
    expect((await page('partner=x')).status).toBe(400);
  });
});

describe('an export, downloaded', () => {
  it('answers the NDJSON of a finished export, its users one per line', async () => {
    // Prepare
    const workspace = workspaceClient(stack);
    await workspace.track([{ external_id: 'd-1' }, { external_id: 'd-2' }]);
    await partnerClient(stack).changeCohort('dl', [{ user_ids: ['d-1', 'd-2'] }]);
    await eventually(async () =>
      (await workspace.cohort('heap', 'dl')).body.cohort?.member_count === 2 ? true : undefined,
    );
    const segment = await workspace.createSegment({
      name: 'download',
      filter: { cohort: { partner: 'heap', cohort_id: 'dl', includes: true } },
    });
    const segmentId = segment.body.segment.segment_id;
    const started = await workspace.exportSegment(segmentId);

    // Act
    const response = await fetch(
      `${stack.url}/segments/${segmentId}/exports/${started.body.export.export_id}/download`,
      {
        headers: auth,
      },
    );
    const missing = await request(`${stack.url}/segments/${segmentId}/exports/nope/download`, { headers: auth });

    // Assess
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('application/x-ndjson; charset=utf-8');
    expect(response.headers.get('content-disposition')).toMatch(/^attachment; filename="export-/);
    const lines = (await response.text())
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as { external_id: string });
    expect(lines.map((line) => line.external_id).sort()).toEqual(['d-1', 'd-2']);
    expect(missing.status).toBe(404);
  });
});

describe('a campaign, previewed for one user', () => {
  it('renders the webhook as a send would make it, without sending it', async () => {
    // Prepare
    const workspace = workspaceClient(stack);
    await workspace.track([{ external_id: 'p-1', plan: '<b>pro</b>' }]);
    await partnerClient(stack).changeCohort('pv', [{ user_ids: ['p-1'] }]);
    await eventually(async () =>
      (await workspace.cohort('heap', 'pv')).body.cohort?.member_count === 1 ? true : undefined,
    );
    const segment = await workspace.createSegment({
      name: 'preview',
      filter: { cohort: { partner: 'heap', cohort_id: 'pv', includes: true } },
    });
    const campaign = await request<{ campaign: { campaign_id: string } }>(`${stack.url}/campaigns`, {
      headers: auth,
      body: {
        name: 'Preview me',
        segment_ids: [segment.body.segment.segment_id],
        message: {
          url: `${stack.campaigns.receiver.url}/hook/{{ external_id }}`,
          headers: { 'x-plan': '{{ custom_attributes.plan }}' },
          body: '{"to": "{{ external_id }}", "campaign": "{{ campaign.name }}"}',
        },
        delivery: { type: 'scheduled' },
      },
    });
    const sentBefore = stack.campaigns.receiver.received.length;

    // Act
    const preview = await request(`${stack.url}/campaigns/${campaign.body.campaign.campaign_id}/preview`, {
      headers: auth,
      body: { external_id: 'p-1' },
    });
    const nobody = await request(`${stack.url}/campaigns/${campaign.body.campaign.campaign_id}/preview`, {
      headers: auth,
      body: { external_id: 'nobody' },
    });

    // Assess
    expect(preview.body).toEqual({
      preview: {
        outcome: 'rendered',
        reason: null,
        request: {
          url: `${stack.campaigns.receiver.url}/hook/p-1`,
          method: 'POST',
          headers: { 'x-plan': '<b>pro</b>', 'Idempotency-Key': 'preview' },
          body: '{"to": "p-1", "campaign": "Preview me"}',
        },
      },
      message: 'success',
    });
    expect(stack.campaigns.receiver.received.length).toBe(sentBefore);
    expect(nobody).toMatchObject({ status: 404, body: { message: 'No such user in this workspace' } });
  });
});
