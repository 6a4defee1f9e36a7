/**
 * The campaigns and Canvases REST API over HTTP on the local stack: create, validate,
 * update while a draft, launch, figures, test send, stop, archive, the frequency cap.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalStack } from '../../local/stack.js';
import { eventually, startTestStack } from '../support/stack.js';
import { partnerClient, restCall, workspaceClient } from '../support/client.js';

let stack: LocalStack;
let segmentId: string;
const api = (path: string, init: { method?: string; body?: unknown } = {}) => restCall(stack, path, init);
const hook = (path: string) => `${stack.campaigns.receiver.url}${path}`;

beforeAll(async () => {
  stack = await startTestStack({ campaigns: { cacheTtlMs: 0, tickEveryMs: 0 } });
  await workspaceClient(stack).track([
    { external_id: 'ada', first_name: 'Ada' },
    { external_id: 'bob', first_name: 'Bob' },
  ]);
  await partnerClient(stack).nameCohort('vip', 'VIP');
  await partnerClient(stack).changeCohort('vip', [{ user_ids: ['ada', 'bob'] }]);
  await eventually(async () =>
    ((await workspaceClient(stack).cohort('heap', 'vip')).body.cohort?.member_count ?? 0) === 2 ? true : undefined,
  );
  const created = await workspaceClient(stack).createSegment({
    name: 'VIP',
    filter: { cohort: { partner: 'heap', cohort_id: 'vip', includes: true } },
  });
  segmentId = (created.body as { segment: { segment_id: string } }).segment.segment_id;
});
afterAll(() => stack?.stop());

describe('/campaigns', () => {
  it('lists in pages of summaries (no templates), follows its cursor to the end, and filters by segment', async () => {
    // Prepare: a workspace's campaigns, two of them on a second segment, with large bodies.
    const other = (
      await api('/segments', {
        body: { name: 'VIP too', filter: { cohort: { partner: 'heap', cohort_id: 'vip', includes: true } } },
      })
    ).body.segment.segment_id as string;
    const created: string[] = [];
    for (let index = 0; index < 5; index += 1) {
      const answer = await api('/campaigns', {
        body: {
          name: `paged ${index}`,
          segment_ids: [index < 2 ? other : segmentId],
          message: { url: hook('/paged'), body: 'x'.repeat(60_000) },
          delivery: { type: 'action_based' },
        },
      });
      expect(answer.status).toBe(201);
      created.push(answer.body.campaign.campaign_id as string);
    }

    // Act: every page of 2, then the segment's.
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const page = await api(`/campaigns?limit=2${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
      expect(page.status).toBe(200);
      expect(page.body.campaigns.length).toBeLessThanOrEqual(2);
      for (const summary of page.body.campaigns) {
        expect(summary).not.toHaveProperty('message');
        expect(JSON.stringify(summary).length).toBeLessThan(2_000);
      }
      seen.push(...page.body.campaigns.map((campaign: { campaign_id: string }) => campaign.campaign_id));
      cursor = page.body.next_cursor as string | null;
      pages += 1;
    } while (cursor !== null && pages < 50);
    const onOther = await api(`/campaigns?segment_id=${encodeURIComponent(other)}`);

    // Assess: each once, in id order; the filter finds exactly the two.
    expect(cursor).toBeNull();
    expect(new Set(seen).size).toBe(seen.length);
    expect(seen).toEqual(expect.arrayContaining(created));
    expect(seen).toEqual([...seen].sort());
    expect(onOther.body.campaigns.map((campaign: { campaign_id: string }) => campaign.campaign_id).sort()).toEqual(
      created.slice(0, 2).sort(),
    );
    expect(onOther.body.next_cursor).toBeNull();
  });

  it('searches campaigns and Canvases by name (any case) or id prefix, in either order, on the server', async () => {
    // Prepare: three campaigns, two of them "Winter …" in different cases, and a Canvas of the same name.
    const created: Record<string, string> = {};
    for (const name of ['Winter sale', 'late WINTER reminder', 'Summer sale']) {
      const answer = await api('/campaigns', {
        body: {
          name,
          segment_ids: [segmentId],
          message: { url: hook('/search') },
          delivery: { type: 'action_based' },
        },
      });
      created[name] = answer.body.campaign.campaign_id as string;
    }
    const canvas = await api('/canvases', {
      body: {
        name: 'Winter journey',
        segment_ids: [segmentId],
        steps: [{ name: 'one', delay_seconds: 0, message: { url: hook('/search') } }],
      },
    });
    expect(canvas.status).toBe(201);
    const names = (answer: { body: { campaigns?: { name: string }[]; canvases?: { name: string }[] } }) =>
      (answer.body.campaigns ?? answer.body.canvases ?? []).map((item) => item.name);

    // Act
    const winter = await api('/campaigns?q=winter');
    const winterDesc = await api('/campaigns?q=winter&order=desc');
    const byId = await api(`/campaigns?q=${encodeURIComponent(created['Summer sale']!.slice(0, 12))}`);
    const canvases = await api('/canvases?q=WINTER');

    // Assess: the campaigns' search does not see the Canvas, nor the Canvases' the campaigns.
    expect(names(winter).sort()).toEqual(['Winter sale', 'late WINTER reminder']);
    // Each summary names the segments it targets (read for the page).
    expect(winter.body.campaigns[0].segments).toEqual([{ segment_id: segmentId, name: 'VIP' }]);
    expect(winter.body.next_cursor).toBeNull();
    expect(names(winterDesc)).toEqual([...names(winter)].reverse());
    expect(names(byId)).toContain('Summer sale');
    expect(names(canvases)).toEqual(['Winter journey']);
    for (const query of ['order=sideways', `q=${'x'.repeat(201)}`])
      expect((await api(`/campaigns?${query}`)).status, query).toBe(400);
  });

  it('refuses a limit or cursor it cannot use (400), never reading a whole workspace', async () => {
    // A parameter sent twice arrives joined by a comma, as API Gateway's payload 2.0 gives it: "20,10" is no limit.
    for (const query of [
      'limit=0',
      'limit=501',
      'limit=1e2',
      'limit=0x10',
      'cursor=not-a-cursor',
      'segment_id=',
      'limit=20&limit=10',
    ])
      expect((await api(`/campaigns?${query}`)).status, query).toBe(400);
    expect((await api('/canvases?limit=500')).status).toBe(200);
  });

  it('creates, lists, updates a draft, launches, reports the figures, refuses edits once launched', async () => {
    // Prepare
    const body = {
      name: 'VIP announcement',
      segment_ids: [segmentId],
      message: {
        url: hook('/api/announce'),
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: '{"hi":"{{ custom_attributes.first_name }}"}',
      },
      delivery: { type: 'scheduled' },
    };

    // Act
    const created = await api('/campaigns', { body });
    const id = created.body.campaign.campaign_id as string;
    const updated = await api(`/campaigns/${id}`, { method: 'PUT', body: { ...body, name: 'VIP news' } });
    const listed = await api('/campaigns');
    const launched = await api(`/campaigns/${id}/launch`, { body: {} });
    await stack.campaigns.tick();
    const report = await eventually(async () => {
      const read = await api(`/campaigns/${id}`);
      // The run counts its audience (targeted) as it queues the sends, which may be delivered first.
      const { delivered, targeted } = read.body.campaign.figures;
      return delivered === 2 && targeted === 2 ? read : undefined;
    });
    const edit = await api(`/campaigns/${id}`, { method: 'PUT', body });
    const stopped = await api(`/campaigns/${id}/stop`, { body: {} });
    const archived = await api(`/campaigns/${id}/archive`, { body: {} });

    // Assess
    expect(created.status).toBe(201);
    expect(created.body.campaign).toMatchObject({
      name: 'VIP announcement',
      status: 'draft',
      segment_ids: [segmentId],
    });
    expect(updated.body.campaign.name).toBe('VIP news');
    expect(listed.body.campaigns.map((campaign: { campaign_id: string }) => campaign.campaign_id)).toContain(id);
    expect(launched.body.campaign.status).toBe('active');
    expect(report.body.campaign.figures).toEqual({
      targeted: 2,
      sent: 2,
      delivered: 2,
      failed: 0,
      skipped: {
        left_segment: 0,
        frequency_cap: 0,
        template_error: 0,
        user_not_found: 0,
        campaign_stopped: 0,
        entry_ended: 0,
        exit_event: 0,
      },
      last_error: null,
    });
    const bodies = stack.campaigns.receiver.received
      .filter((webhook) => webhook.path === '/api/announce')
      .map((webhook) => webhook.body);
    expect(bodies.sort()).toEqual(['{"hi":"Ada"}', '{"hi":"Bob"}']);
    expect(edit.status).toBe(409);
    expect(stopped.body.campaign.status).toBe('stopped');
    expect(archived.body.campaign.status).toBe('archived');
  });

  it('answers 400 for a bad body, a template that does not parse, an injected header or an unknown segment, and 404 for an unknown id', async () => {
    // Prepare
    const base = {
      name: 'x',
      segment_ids: [segmentId],
      message: { url: hook('/x'), body: '{}' },
      delivery: { type: 'action_based' },
    };

    // Act
    const answers = await Promise.all([
      api('/campaigns', { body: { ...base, delivery: { type: 'sometimes' } } }),
      api('/campaigns', { body: { ...base, message: { url: hook('/x'), body: '{% if %}' } } }),
      api('/campaigns', { body: { ...base, message: { url: hook('/x'), headers: { 'X-A': 'a\r\nX-B: b' } } } }),
      api('/campaigns/nope'),
      api('/campaigns', { body: { ...base, message: { url: 'ftp://example.com/hook', body: '{}' } } }),
      api('/canvases', {
        body: {
          name: 'x',
          segment_ids: ['no-such-segment'],
          steps: [{ name: 's', delay_seconds: 0, message: { url: hook('/x') } }],
        },
      }),
    ]);

    // Assess
    expect(answers.map((answer) => answer.status)).toEqual([400, 400, 400, 404, 400, 400]);
    expect(answers[5]!.body.message).toBe('Unknown segment in segment_ids: no-such-segment');
    expect(answers[4]!.body.message).toBe('Invalid message.url: webhook URLs must be https');
    expect(answers[1]!.body.message).toMatch(/^Invalid message body template: /);
    expect(answers[2]!.body.message).toMatch(/CR, LF/);
  });

  it('test-sends to one user at once, uncounted', async () => {
    // Prepare
    const created = await api('/campaigns', {
      body: {
        name: 'Test me',
        segment_ids: [segmentId],
        message: { url: hook('/api/test-send'), body: '{"to":"{{ external_id }}"}' },
        delivery: { type: 'action_based' },
      },
    });
    const id = created.body.campaign.campaign_id as string;

    // Act
    const sent = await api(`/campaigns/${id}/test-send`, { body: { external_id: 'bob' } });
    const read = await api(`/campaigns/${id}`);

    // Assess
    expect(sent.body.test_send).toMatchObject({ outcome: 'delivered', status: 200 });
    const webhook = stack.campaigns.receiver.received.find((received) => received.path === '/api/test-send');
    expect(webhook?.body).toBe('{"to":"bob"}');
    expect(read.body.campaign.figures.sent).toBe(0);
  });
});

describe('/canvases and the frequency cap', () => {
  it('creates and launches a Canvas, with figures per step', async () => {
    // Act
    const created = await api('/canvases', {
      body: {
        name: 'Onboarding',
        segment_ids: [segmentId],
        reeligible_after_days: 30,
        steps: [
          { name: 'Welcome', delay_seconds: 0, message: { url: hook('/api/welcome'), body: '{}' } },
          { name: 'Tips', delay_seconds: 86_400, message: { url: hook('/api/tips'), body: '{}' } },
        ],
      },
    });
    const id = created.body.canvas.canvas_id as string;
    const launched = await api(`/canvases/${id}/launch`, { body: {} });
    const read = await api(`/canvases/${id}`);

    // Assess
    expect(created.status).toBe(201);
    expect(launched.body.canvas.status).toBe('active');
    expect(read.body.canvas.steps.map((step: { name: string; figures: { targeted: number } }) => step.name)).toEqual([
      'Welcome',
      'Tips',
    ]);
    expect(read.body.canvas.steps[1].figures.targeted).toBe(0);
    expect((await api(`/campaigns/${id}`)).status).toBe(404);
  });

  it('sets, reads and removes the workspace frequency cap', async () => {
    // Act
    const set = await api('/settings/frequency-cap', {
      method: 'PUT',
      body: { frequency_cap: { max_messages: 3, window_seconds: 86_400 } },
    });
    const read = await api('/settings/frequency-cap');
    const refused = await api('/settings/frequency-cap', {
      method: 'PUT',
      body: { frequency_cap: { max_messages: 0 } },
    });
    const removed = await api('/settings/frequency-cap', { method: 'PUT', body: { frequency_cap: null } });

    // Assess
    expect(set.status).toBe(200);
    expect(read.body.frequency_cap).toEqual({ max_messages: 3, window_seconds: 86_400 });
    expect(refused.status).toBe(400);
    expect(removed.body.frequency_cap).toBeNull();
    expect((await api('/settings/frequency-cap')).body.frequency_cap).toBeNull();
  });

  it('keeps a send-rate limit of 10 to 500,000 a minute on campaigns and Canvases, removed when a draft leaves it out', async () => {
    // Prepare
    const campaign = {
      name: 'Paced',
      segment_ids: [segmentId],
      message: { url: hook('/api/paced') },
      delivery: { type: 'scheduled' },
    };
    const canvas = {
      name: 'Paced journey',
      segment_ids: [segmentId],
      steps: [{ name: 'one', delay_seconds: 0, message: { url: hook('/api/paced-canvas') } }],
    };

    // Act
    const limited = await api('/campaigns', { body: { ...campaign, rate_limit_per_minute: 500_000 } });
    const id = limited.body.campaign.campaign_id as string;
    const unlimited = await api(`/campaigns/${id}`, { method: 'PUT', body: campaign });
    const limitedCanvas = await api('/canvases', { body: { ...canvas, rate_limit_per_minute: 10 } });
    const refused = await Promise.all(
      [9, 500_001, 60.5, '60', true].map((value) =>
        api('/campaigns', { body: { ...campaign, rate_limit_per_minute: value } }),
      ),
    );

    // Assess
    expect(limited.status).toBe(201);
    expect(limited.body.campaign.rate_limit_per_minute).toBe(500_000);
    expect(unlimited.body.campaign.rate_limit_per_minute).toBeNull();
    expect((await api(`/campaigns/${id}`)).body.campaign.rate_limit_per_minute).toBeNull();
    expect(limitedCanvas.body.canvas.rate_limit_per_minute).toBe(10);
    expect(refused.map((answer) => answer.status)).toEqual([400, 400, 400, 400, 400]);
    expect(refused.map((answer) => answer.body.errors[0])).toEqual([
      'rate_limit_per_minute: must be at least 10 (messages per minute)',
      'rate_limit_per_minute: must be at most 500,000 (messages per minute)',
      'rate_limit_per_minute: must be a whole number of messages per minute',
      'rate_limit_per_minute: must be a number',
      'rate_limit_per_minute: must be a number',
    ]);
  });

  it('takes numbers only as JSON numbers: no booleans, arrays, hex or exponent strings (400, nothing stored)', async () => {
    // Prepare
    const stored = { max_messages: 2, window_seconds: 3_600 };
    await api('/settings/frequency-cap', { method: 'PUT', body: { frequency_cap: stored } });
    const coercible = [true, [60], '0x10', '1e2', '60', ' 60 ', null, {}];

    // Act
    const answers = [];
    for (const value of coercible) {
      answers.push(
        await api('/settings/frequency-cap', {
          method: 'PUT',
          body: { frequency_cap: { max_messages: value, window_seconds: 3_600 } },
        }),
        await api('/settings/frequency-cap', {
          method: 'PUT',
          body: { frequency_cap: { max_messages: 2, window_seconds: value } },
        }),
      );
    }
    const unknownField = await api('/settings/frequency-cap', {
      method: 'PUT',
      body: { frequency_cap: { ...stored, per: 'day' } },
    });

    const fraction = await api('/settings/frequency-cap', {
      method: 'PUT',
      body: { frequency_cap: { max_messages: 1.5, window_seconds: 3_600 } },
    });
    const shortWindow = await api('/settings/frequency-cap', {
      method: 'PUT',
      body: { frequency_cap: { max_messages: 2, window_seconds: 59 } },
    });

    // Assess: every refusal names what is wrong with the value, the bound included
    expect(fraction.body.errors).toEqual(['frequency_cap.max_messages: must be a whole number']);
    expect(shortWindow.body.errors).toEqual(['frequency_cap.window_seconds: must be at least 60 (seconds)']);
    for (const answer of [...answers, unknownField]) {
      expect(answer.status).toBe(400);
      expect(answer.body).toMatchObject({ message: expect.stringMatching(/^Invalid frequency cap: /) });
      expect(Array.isArray(answer.body.errors)).toBe(true);
    }
    expect((await api('/settings/frequency-cap')).body.frequency_cap).toEqual(stored);
    await api('/settings/frequency-cap', { method: 'PUT', body: { frequency_cap: null } });
  });
});

describe('ids bounded by what DynamoDB keys hold, in bytes', () => {
  it('refuses segment ids and braze ids over the bytes of a key with a 400 naming the bound, not a 500', async () => {
    // Prepare: 1,000 "é" is 1,000 characters and 2,000 bytes of UTF-8; 400 "€" are 1,200 bytes
    const campaign = await api('/campaigns', {
      body: {
        name: 'bounded',
        segment_ids: [segmentId],
        message: { url: hook('/api/bounded'), body: '{}' },
        delivery: { type: 'scheduled' },
      },
    });
    const id = campaign.body.campaign.campaign_id as string;

    // Act
    const longSegment = await api('/campaigns', {
      body: {
        name: 'long segment id',
        segment_ids: ['é'.repeat(1_000)],
        message: { url: hook('/api/x'), body: '{}' },
        delivery: { type: 'scheduled' },
      },
    });
    const longBrazeId = await api(`/campaigns/${id}/preview`, { body: { braze_id: '€'.repeat(400) } });
    const testSendLong = await api(`/campaigns/${id}/test-send`, { body: { braze_id: '€'.repeat(400) } });
    const stringStep = await api(`/campaigns/${id}/preview`, { body: { external_id: 'ada', step: '0' } });
    const both = await api(`/campaigns/${id}/preview`, { body: { external_id: 'ada', braze_id: 'x' } });
    const neither = await api(`/campaigns/${id}/preview`, { body: {} });
    const fine = await api(`/campaigns/${id}/preview`, { body: { external_id: 'ada' } });

    // Assess
    expect(longSegment.status).toBe(400);
    expect(JSON.stringify(longSegment.body.errors)).toContain('1024 bytes of UTF-8');
    for (const answer of [longBrazeId, testSendLong]) {
      expect(answer.status).toBe(400);
      expect(JSON.stringify(answer.body.errors)).toContain('1024 bytes of UTF-8');
    }
    for (const answer of [stringStep, both, neither]) expect(answer.status).toBe(400);
    expect(fine.status).toBe(200);
  });
});

describe('targeted segments', () => {
  it('refuses a segment named twice (as sent or once trimmed) with a 400 naming the repeat, on campaigns and Canvases', async () => {
    // Prepare
    const message = { url: hook('/api/twice'), body: '{}' };
    const campaign = (segmentIds: string[]) => ({
      name: 'twice',
      segment_ids: segmentIds,
      message,
      delivery: { type: 'scheduled' },
    });
    const draft = await api('/campaigns', { body: campaign([segmentId]) });
    const id = draft.body.campaign.campaign_id as string;

    // Act
    const answers = [
      await api('/campaigns', { body: campaign([segmentId, segmentId]) }),
      await api('/campaigns', { body: campaign([segmentId, ` ${segmentId} `]) }),
      await api(`/campaigns/${id}`, { method: 'PUT', body: campaign([segmentId, segmentId]) }),
      await api('/canvases', {
        body: { name: 'twice', segment_ids: [segmentId, segmentId], steps: [{ name: 's', delay_seconds: 0, message }] },
      }),
    ];
    const listed = await api(`/campaigns?segment_id=${encodeURIComponent(segmentId)}&q=twice`);

    // Assess
    for (const answer of answers) {
      expect(answer.status).toBe(400);
      expect(answer.body.message).toMatch(
        /^Invalid (campaign|canvas): segment_ids\[1\]: must not name a segment twice/,
      );
      expect(answer.body.errors).toEqual([
        `segment_ids[1]: must not name a segment twice (${JSON.stringify(segmentId)} is segment_ids[0] too)`,
      ]);
    }
    expect(listed.body.campaigns.map((listedOne: { campaign_id: string }) => listedOne.campaign_id)).toEqual([id]);
  });
});

describe('segments deleted after targeting', () => {
  it('are named null in the list and in GET of the campaign, which names the others', async () => {
    // Prepare: a draft on two segments; one deleted
    const doomed = (
      await api('/segments', {
        body: { name: 'Doomed', filter: { cohort: { partner: 'heap', cohort_id: 'vip', includes: true } } },
      })
    ).body.segment.segment_id as string;
    const created = await api('/campaigns', {
      body: {
        name: 'outlives a segment',
        segment_ids: [segmentId, doomed],
        message: { url: hook('/api/outlives'), body: '{}' },
        delivery: { type: 'scheduled' },
      },
    });
    const id = created.body.campaign.campaign_id as string;
    expect((await api(`/segments/${doomed}`, { method: 'DELETE' })).status).toBe(200);

    // Act
    const one = await api(`/campaigns/${id}`);
    const listed = await api(`/campaigns?segment_id=${encodeURIComponent(segmentId)}&q=outlives`);

    // Assess
    const expected = [
      { segment_id: segmentId, name: 'VIP' },
      { segment_id: doomed, name: null },
    ];
    expect(one.status).toBe(200);
    expect(one.body.campaign.segments).toEqual(expected);
    expect(one.body.campaign.segment_ids).toEqual([segmentId, doomed]);
    expect(listed.body.campaigns).toEqual([expect.objectContaining({ campaign_id: id, segments: expected })]);
  });
});

describe('scheduled times', () => {
  it('refuses a send in the past or further than two years ahead (a "never" date), recurring or not, with the bound', async () => {
    // Prepare
    const body = (delivery: object) => ({
      name: 'when',
      segment_ids: [segmentId],
      message: { url: hook('/api/when'), body: '{}' },
      delivery,
    });
    const recurring = { frequency: 'daily', time: '09:00', timezone: 'UTC' };

    // Act
    const never = await api('/campaigns', { body: body({ type: 'scheduled', at: '9999-12-31T23:59:59Z' }) });
    const neverDaily = await api('/campaigns', {
      body: body({ type: 'scheduled', at: '9999-12-31T23:59:59Z', recurring }),
    });
    const pastYear10000 = await api('/campaigns', {
      body: body({ type: 'scheduled', at: '9999-12-31T23:59:59-01:00' }),
    });
    const past = await api('/campaigns', { body: body({ type: 'scheduled', at: '2020-01-01T00:00:00Z' }) });
    const inAnHour = await api('/campaigns', {
      body: body({ type: 'scheduled', at: new Date(Date.now() + 3_600_000).toISOString() }),
    });

    // Assess
    for (const answer of [never, neverDaily, pastYear10000]) {
      expect(answer.status).toBe(400);
      expect(answer.body.message).toMatch(/`delivery.at` is more than 2 years ahead .*keep the campaign a draft/);
    }
    expect(past.status).toBe(400);
    expect(past.body.message).toMatch(/`delivery.at` is in the past .*leave `at` out to send at launch/);
    expect(inAnHour.status).toBe(201);
  });
});

describe('what HTTP and the store can carry', () => {
  it('refuses at save a definition over the item size, too many headers or a header value HTTP cannot carry (400, never 500)', async () => {
    // Prepare: 6 steps of 35,000 "é" (70 KB each, 420 KB in all, under the 1 MiB request bound); 51 headers; a snowman
    const step = (index: number) => ({
      name: `step ${index}`,
      delay_seconds: 60,
      message: { url: hook('/api/big'), body: 'é'.repeat(35_000) },
    });
    const campaign = (headers: Record<string, string>) => ({
      name: 'headers',
      segment_ids: [segmentId],
      message: { url: hook('/api/h'), headers, body: '{}' },
      delivery: { type: 'scheduled' },
    });

    // Act
    const big = await api('/canvases', {
      body: { name: 'big', segment_ids: [segmentId], steps: Array.from({ length: 6 }, (_, index) => step(index)) },
    });
    const many = await api('/campaigns', {
      body: campaign(Object.fromEntries(Array.from({ length: 51 }, (_, index) => [`x-h${index}`, 'v']))),
    });
    const snowman = await api('/campaigns', { body: campaign({ 'x-name': '☃' }) });
    const trailer = await api('/campaigns', { body: campaign({ trailer: 'x' }) });
    const twice = await api('/campaigns', { body: campaign({ 'x-a': 'v', 'X-A': 'w' }) });
    // Seen: saved and launched, then every send failed "given twice" (or, spelled exactly, silently overwritten).
    const keys = await Promise.all(
      ['IDEMPOTENCY-KEY', 'idempotency-key', 'Idempotency-Key'].map((name) =>
        api('/campaigns', { body: campaign({ [name]: 'k' }) }),
      ),
    );

    // Assess
    expect(big.status).toBe(400);
    expect(big.body.message).toMatch(/one DynamoDB item \(400 KB\)/);
    expect(many.status).toBe(400);
    expect(many.body.message).toMatch(/at most 50 headers/);
    expect(snowman.status).toBe(400);
    expect(snowman.body.message).toMatch(/header x-name: a value may hold only/);
    expect(trailer.status).toBe(400);
    expect(trailer.body.message).toMatch(/header trailer is set by the sender/);
    expect(twice.status).toBe(400);
    expect(twice.body.message).toMatch(/header X-A is given twice/);
    for (const key of keys) {
      expect(key.status).toBe(400);
      expect(key.body.message).toMatch(/header Idempotency-Key is set by the sender/);
    }
  });

  it('answers a header that renders outside Latin-1 as the template error it is, in preview and test send', async () => {
    // Prepare: a header from a custom attribute, "Łukasz" for this user
    await workspaceClient(stack).track([{ external_id: 'lukasz', first_name: 'Łukasz' }]);
    const created = await api('/campaigns', {
      body: {
        name: 'rendered header',
        segment_ids: [segmentId],
        message: {
          url: hook('/api/rendered'),
          headers: { 'x-name': '{{ custom_attributes.first_name }}' },
          body: '{}',
        },
        delivery: { type: 'scheduled' },
      },
    });
    const id = created.body.campaign.campaign_id as string;

    // Act
    const preview = await api(`/campaigns/${id}/preview`, { body: { external_id: 'lukasz' } });
    const sent = await api(`/campaigns/${id}/test-send`, { body: { external_id: 'lukasz' } });
    const ada = await api(`/campaigns/${id}/preview`, { body: { external_id: 'ada' } });

    // Assess
    expect(created.status).toBe(201);
    expect(preview.body.preview).toMatchObject({
      outcome: 'template_error',
      reason: expect.stringMatching(/header x-name: a value may hold only/),
    });
    expect(sent.status).toBe(200);
    expect(sent.body.test_send).toMatchObject({ outcome: 'template_error' });
    expect(stack.campaigns.receiver.received.some((webhook) => webhook.path === '/api/rendered')).toBe(false);
    expect(ada.body.preview).toMatchObject({ outcome: 'rendered', request: { headers: { 'x-name': 'Ada' } } });
  });
});

describe('concurrent changes of a campaign', () => {
  it('never loses an edit to a launch racing it: the launched campaign is the edit if the edit answered 200, else a 409', async () => {
    // Prepare
    const body = (text: string) => ({
      name: 'race',
      segment_ids: [segmentId],
      message: { url: hook('/api/race'), body: text },
      delivery: { type: 'scheduled', at: new Date(Date.now() + 86_400_000).toISOString() },
    });

    for (let trial = 0; trial < 8; trial += 1) {
      const created = await api('/campaigns', { body: body('v1') });
      const id = created.body.campaign.campaign_id as string;

      // Act: the edit and the launch at once
      const [edited, launched] = await Promise.all([
        api(`/campaigns/${id}`, { method: 'PUT', body: body('v2') }),
        api(`/campaigns/${id}/launch`, { body: {} }),
      ]);
      const final = await api(`/campaigns/${id}`);

      // Assess
      expect([200, 409]).toContain(edited.status);
      expect([200, 409]).toContain(launched.status);
      if (edited.status === 200) expect(final.body.campaign.message.body, `trial ${trial}`).toBe('v2');
      else expect(final.body.campaign.message.body, `trial ${trial}`).toBe('v1');
      if (launched.status === 200) expect(final.body.campaign.status).toBe('active');
      await api(`/campaigns/${id}/stop`, { body: {} });
      const stopped = await api(`/campaigns/${id}`);
      if (stopped.body.campaign.status === 'stopped') expect(stopped.body.campaign.delivery.next_run_at).toBeNull();
    }
  });
});
