/**
 * What a careless or hostile client can send, over real HTTP/TCP (raw sockets where no
 * well-behaved client would go), to a running local stack: malformed escapes and
 * oversized ids in every path parameter of every route, bytes that are not UTF-8, lone
 * surrogates in every identifier and name, nesting that would overflow recursive code,
 * wrong types in every field, oversized headers, clients that stall or hang up.
 *
 * Every case ends in a 4xx in the `{message, errors}` shape, or in a 2xx after which the
 * request is applied whole (memberships, count, sync report, nothing dead-lettered); and
 * after every case the stack still serves.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GetQueueAttributesCommand } from '@aws-sdk/client-sqs';
import type { LocalStack } from '../../local/stack.js';
import { routesFromServerlessYml } from '../../local/gateway.js';
import { PARTNER_MESSAGES } from '../../lib/contract/partner.js';
import { eventually, startTestStack } from '../support/stack.js';
import { openRaw, rawBytes, rawRequest, type RawResponse } from '../support/raw-http.js';

/** Short gateway timeouts, so the slow clients below are dropped within the suite's time. */
const TIMEOUTS = { headersMs: 1_000, requestMs: 2_000 };

let stack: LocalStack;
let segmentId: string;
const KNOWN_COHORT = 'known';

const restHeaders = () => ({ authorization: `Bearer ${stack.workspace.restApiKey}` });
const keys = () => ({ partner_api_key: stack.partnerApiKey, client_secret: stack.workspace.dataImportKey });

const send = (
  method: string,
  path: string,
  options: { body?: unknown; rawBody?: string | Buffer; headers?: Record<string, string> } = {},
) =>
  rawRequest(stack.url, {
    method,
    path,
    headers: options.headers,
    body: options.rawBody ?? (options.body === undefined ? undefined : JSON.stringify(options.body)),
  });
const rest = (method: string, path: string, options: { body?: unknown; rawBody?: string | Buffer } = {}) =>
  send(method, path, { ...options, headers: restHeaders() });

/** A rejection: the status, and the `{message, errors}` shape with a message that says something. */
const expectRejected = (response: RawResponse, status: number | number[], message?: string | RegExp) => {
  const context = `${response.status} ${response.text.slice(0, 300)}`;
  expect(Array.isArray(status) ? status : [status], context).toContain(response.status);
  const body = response.json as { message?: unknown; errors?: unknown };
  expect(typeof body?.message, context).toBe('string');
  expect((body.message as string).length, context).toBeGreaterThan(0);
  expect(Array.isArray(body.errors), context).toBe(true);
  expect(
    (body.errors as unknown[]).every((detail) => typeof detail === 'string'),
    context,
  ).toBe(true);
  if (typeof message === 'string') expect(body.message, context).toBe(message);
  else if (message) expect(body.message, context).toMatch(message);
};

/**
 * Errors that escaped the stack's code. Vitest keeps its worker alive through them, but in
 * `npm start` each one would have killed the process, emulators orphaned.
 */
const escaped: unknown[] = [];
const onEscape = (error: unknown) => void escaped.push(error);

/** The health request after every case: a fresh connection, an authenticated read, and nothing escaped. */
const expectServing = async () => {
  const response = await rest('GET', '/cohorts');
  expect(response.status, response.text).toBe(200);
  expect(escaped.map(String)).toEqual([]);
};

const queueDepth = async (queueUrl: string): Promise<number> => {
  const { Attributes } = await stack.clients.sqs.send(
    new GetQueueAttributesCommand({
      QueueUrl: queueUrl,
      AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'],
    }),
  );
  return (
    Number(Attributes?.ApproximateNumberOfMessages ?? 0) +
    Number(Attributes?.ApproximateNumberOfMessagesNotVisible ?? 0)
  );
};

/** Nothing left to process, nothing dead-lettered. */
const expectQueuesSettled = async () => {
  await eventually(
    async () => ((await queueDepth(stack.queues.queueUrl)) === 0 ? true : undefined),
    20_000,
    'the cohort queue to drain',
  );
  expect(await queueDepth(stack.queues.deadLetterQueueUrl)).toBe(0);
};

beforeAll(async () => {
  process.on('uncaughtException', onEscape);
  process.on('unhandledRejection', onEscape);
  stack = await startTestStack({ gatewayTimeouts: TIMEOUTS });
  expect((await rest('POST', '/users/track', { body: { attributes: [{ external_id: 'known-user' }] } })).status).toBe(
    201,
  );
  expect(
    (
      await send('POST', '/partners/heap/cohorts', {
        body: { ...keys(), cohort_id: KNOWN_COHORT, name: 'Known', created_at: '2021-01-21T19:20:30+05:00' },
      })
    ).status,
  ).toBe(201);
  await eventually(
    async () => ((await rest('GET', `/cohorts/heap/${KNOWN_COHORT}`)).status === 200 ? true : undefined),
    20_000,
    'the known cohort',
  );
  const created = await rest('POST', '/segments', {
    body: { name: 'known', filter: { cohort: { partner: 'heap', cohort_id: KNOWN_COHORT, includes: true } } },
  });
  expect(created.status, created.text).toBe(201);
  segmentId = (created.json as { segment: { segment_id: string } }).segment.segment_id;
});

afterAll(async () => {
  await stack?.stop();
  process.off('uncaughtException', onEscape);
  process.off('unhandledRejection', onEscape);
});

/** Every route of serverless.yml, and a path for it with each parameter given (or replaced). */
const ROUTES = routesFromServerlessYml().map((route) => ({ ...route, path: route.routeKey.split(' ')[1]! }));
const validParameter = (name: string): string =>
  ({
    partner: 'heap',
    cohort_id: KNOWN_COHORT,
    segment_id: segmentId,
    export_id: 'no-such-export',
    connector_id: stack.currents.demoConnectorId,
  })[name] ?? 'x';
const pathWith = (path: string, replaced: Record<string, string>) =>
  path.replace(/\{([^}]+)\}/g, (_match, name: string) => replaced[name] ?? encodeURIComponent(validParameter(name)));
const PARAMETER_SLOTS = ROUTES.flatMap((route) =>
  route.parameterNames.map((name) => ({ route, name, label: `${route.routeKey} {${name}}` })),
);
/** A body each route would accept, so that only the path is wrong. */
const bodyFor = (routeKey: string): unknown =>
  routeKey.startsWith('PUT /segments')
    ? { name: 'n', filter: { cohort: { partner: 'heap', cohort_id: KNOWN_COHORT, includes: true } } }
    : routeKey.startsWith('POST /partners')
      ? { ...keys(), cohort_id: 'c', cohort_changes: [] }
      : undefined;
/** The query each route needs, so that only the path is wrong (GET /cohorts/{partner} names its cohort there). */
const queryFor = (routeKey: string): string => (routeKey === 'GET /cohorts/{partner}' ? '?cohort_id=k' : '');

describe('path parameters', () => {
  it('the routes under test are every route with a parameter', () => {
    expect(PARAMETER_SLOTS.length).toBeGreaterThanOrEqual(12);
  });

  // Not %XX, not UTF-8 (a lone byte, an overlong form, an encoded surrogate, past U+10FFFF).
  const MALFORMED_ESCAPES = ['%E0%A4%A', '%', '%ZZ', 'a%2', '%FF', '%C0%AF', '%ED%A0%80', '%F4%90%80%80'];

  it.each(PARAMETER_SLOTS)('a malformed percent-escape in $label is a 400, not a crash', async ({ route, name }) => {
    for (const malformed of MALFORMED_ESCAPES) {
      // Act
      const response = await send(
        route.method,
        pathWith(route.path, { [name]: malformed }) + queryFor(route.routeKey),
        {
          headers: restHeaders(),
        },
      );

      // Assess
      expectRejected(response, 400, 'Bad Request');
      await expectServing();
    }
  });

  /** What each parameter may carry, in UTF-8 bytes (README: the tightest DynamoDB key holding it, minus its other parts). */
  const LIMIT_BYTES: Record<string, number> = {
    partner: 1_022,
    cohort_id: 1_019,
    segment_id: 1_024,
    export_id: 1_024,
    connector_id: 1_024,
    // Not part of a key: held to the tightest key there is (lib/http/limits.ts, DEFAULT_PATH_PARAMETER).
    kind: 1_024,
    file: 1_024,
    campaign_id: 1_024,
    canvas_id: 1_024,
  };
  /** With the other parameters as short as they can be, so that only this one can be too long. */
  const shortOthers = (name: string): Record<string, string> => (name === 'partner' ? { cohort_id: 'k' } : {});

  it.each(PARAMETER_SLOTS)(
    '$label: over its key limit in bytes is a 400 naming it; at the limit, an ordinary answer',
    async ({ route, name }) => {
      const limit = LIMIT_BYTES[name]!;
      const cases = [
        { value: 'a'.repeat(5_000), rejected: true },
        { value: 'a'.repeat(limit + 1), rejected: true },
        // Bytes, not characters: 2-byte characters reach the limit at half as many.
        { value: 'é'.repeat(Math.floor(limit / 2) + 1), rejected: true },
        { value: '😀'.repeat(300), rejected: true },
        { value: 'a'.repeat(limit), rejected: false },
        { value: 'é'.repeat(Math.floor(limit / 2)), rejected: false },
      ];
      for (const { value, rejected } of cases) {
        // Act
        const response = await send(
          route.method,
          pathWith(route.path, { ...shortOthers(name), [name]: encodeURIComponent(value) }) + queryFor(route.routeKey),
          {
            headers: restHeaders(),
            body: bodyFor(route.routeKey),
          },
        );

        // Assess
        if (rejected) expectRejected(response, 400, new RegExp(`^Invalid path parameter: \`${name}\` is \\d+ bytes`));
        // Nothing has such an id: not found (partner routes: the partner key does not match an unknown partner).
        else expectRejected(response, route.functionName === 'ingest' ? 401 : 404);
        await expectServing();
      }
    },
  );
});

describe('cohort ids that are not path segments', () => {
  /** Ids a partner may send that a URL path mangles: dot segments (`%2E` is one too), separators, escapes, spaces. */
  const HOSTILE_IDS = [
    '.',
    '..',
    '...',
    '%2E',
    '%2e%2E',
    './..',
    'a/../b',
    '/',
    '50%',
    '%25',
    '?q=1',
    '#h',
    ' sp ace ',
    'a+b',
  ];

  it('every one is listed, and reached by GET /cohorts/{partner}?cohort_id= as its own cohort', async () => {
    // Prepare: each named by the partner (201), with its own name.
    for (const [index, cohortId] of HOSTILE_IDS.entries()) {
      const named = await send('POST', '/partners/heap/cohorts', {
        body: { ...keys(), cohort_id: cohortId, name: `hostile ${index}`, created_at: '2021-01-21T19:20:30+05:00' },
      });
      expect(named.status, `${cohortId}: ${named.text}`).toBe(201);
    }
    const listed = await eventually(
      async () => {
        const answer = (await rest('GET', '/cohorts?partner=heap&limit=500&q=hostile')).json as {
          cohorts: { cohort_id: string; name: string }[];
        };
        return answer.cohorts.length === HOSTILE_IDS.length ? answer.cohorts : undefined;
      },
      20_000,
      'the hostile cohorts listed',
    );
    expect(listed.map((cohort) => cohort.cohort_id).sort()).toEqual([...HOSTILE_IDS].sort());

    for (const [index, cohortId] of HOSTILE_IDS.entries()) {
      // Act: as the console asks (the id percent-encoded in the query; a space as %20, never +).
      const answer = await rest('GET', `/cohorts/heap?cohort_id=${encodeURIComponent(cohortId)}`);

      // Assess
      expect(answer.status, `${cohortId}: ${answer.text}`).toBe(200);
      const { cohort } = answer.json as { cohort: { cohort_id: string; name: string; sync_reports: unknown[] } };
      expect(cohort, cohortId).toMatchObject({ cohort_id: cohortId, name: `hostile ${index}`, sync_reports: [] });
    }
    await expectServing();
  });

  it('a dot segment in the path never reaches another cohort; the query form refuses what the path would', async () => {
    // Act / Assess: `/cohorts/heap/..` is `/cohorts/` (RFC 3986 §5.2.4), which no route serves.
    for (const path of ['/cohorts/heap/..', '/cohorts/heap/%2E%2E', '/cohorts/heap/.'])
      expectRejected(await rest('GET', path), 404);
    // Without the id, an empty one, one longer than its key holds, or one with an unknown parameter beside it.
    expectRejected(await rest('GET', '/cohorts/heap'), 400, '`cohort_id` is required');
    expectRejected(await rest('GET', '/cohorts/heap?cohort_id='), 400, /^Invalid query parameter: `cohort_id`/);
    expectRejected(
      await rest('GET', `/cohorts/heap?cohort_id=${'a'.repeat(1_020)}`),
      400,
      /^Invalid query parameter: `cohort_id` is 1020 bytes/,
    );
    expectRejected(
      await rest('GET', '/cohorts/heap?cohort_id=known&partner=heap'),
      400,
      'Unknown query parameter: `partner`',
    );
    // An unknown cohort is a 404, and the literal route beside the parameter one still answers.
    expectRejected(await rest('GET', '/cohorts/heap?cohort_id=nobody'), 404);
    expect((await rest('GET', '/cohorts/partners')).status).toBe(200);
    await expectServing();
  });
});

describe('the connection itself', () => {
  it('a client that hangs up in the middle of its upload drops its request only', async () => {
    for (const path of ['/partners/heap/cohorts/users', '/users/track', '/segments']) {
      // Act: Content-Length 10, one byte sent, the socket closed.
      const connection = openRaw(stack.url);
      await connection.write(
        `POST ${path} HTTP/1.1\r\nhost: localhost\r\ncontent-type: application/json\r\nauthorization: Bearer ${stack.workspace.restApiKey}\r\ncontent-length: 10\r\n\r\n{`,
      );
      connection.socket.destroy();
      await connection.response.catch(() => undefined);

      // Assess
      await expectServing();
    }
  });

  it('a client that hangs up in the middle of its headers, or before reading its answer, changes nothing', async () => {
    const half = openRaw(stack.url);
    await half.write('GET /cohorts HTTP/1.1\r\nhost: local');
    half.socket.destroy();
    const early = openRaw(stack.url);
    await early.write(
      `POST /users/track HTTP/1.1\r\nhost: localhost\r\nauthorization: Bearer ${stack.workspace.restApiKey}\r\ncontent-type: application/json\r\ncontent-length: 47\r\n\r\n{"attributes":[{"external_id":"hung-up-user"}]}`,
    );
    early.socket.destroy();
    await Promise.all([half.response.catch(() => undefined), early.response.catch(() => undefined)]);
    await expectServing();
  });

  it('headers sent too slowly (slowloris) are answered 408 within the headers timeout, while others are served', async () => {
    // Act: a byte every 100 ms, for longer than the gateway waits.
    const slow = openRaw(stack.url);
    let done = false;
    void slow.trickle(
      `GET /cohorts HTTP/1.1\r\nhost: localhost\r\nx-slow: ${'a'.repeat(200)}\r\n\r\n`,
      1,
      100,
      () => done,
    );
    await new Promise((resolve) => setTimeout(resolve, 300));
    await expectServing();
    const response = await slow.response.finally(() => (done = true));

    // Assess
    expectRejected(response, 408, 'Request Timeout');
    // Not before the headers timeout; that it came at all bounds it (without the timeout the
    // connection would hang past the test's own timeout). No upper bound in wall-clock time:
    // a slow machine answers later, not wrongly.
    expect(response.elapsedMs).toBeGreaterThanOrEqual(TIMEOUTS.headersMs - 100);
    await expectServing();
  });

  it('a body that stops coming is answered 408 within the request timeout', async () => {
    // Act: headers complete, 10 bytes of the 100 announced, then nothing.
    const stalled = openRaw(stack.url);
    await stalled.write(
      `POST /users/track HTTP/1.1\r\nhost: localhost\r\nauthorization: Bearer ${stack.workspace.restApiKey}\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n{"attribut`,
    );
    const response = await stalled.response;

    // Assess
    // That the 408 came at all is the bound: without the timeout the connection would hang.
    expectRejected(response, 408, 'Request Timeout');
    expect(response.elapsedMs).toBeGreaterThanOrEqual(TIMEOUTS.requestMs - 100);
    await expectServing();
  });

  it('many stalled clients at once do not keep others from being served', async () => {
    const stalled = Array.from({ length: 30 }, () => openRaw(stack.url));
    await Promise.all(
      stalled.map((connection) =>
        connection.write(
          'POST /partners/heap/cohorts/users HTTP/1.1\r\nhost: localhost\r\ncontent-length: 1000\r\n\r\n{',
        ),
      ),
    );
    await expectServing();
    const answers = await Promise.all(stalled.map((connection) => connection.response));
    for (const answer of answers) expectRejected(answer, 408);
    await expectServing();
  });

  it('headers over 10,240 bytes (request line included, API Gateway quota) are a 431; under it, served', async () => {
    const cases = [
      { headers: { 'x-big': 'a'.repeat(11_000) }, status: 431 },
      {
        headers: Object.fromEntries(Array.from({ length: 200 }, (_, index) => [`x-h${index}`, 'a'.repeat(60)])),
        status: 431,
      },
      { path: `/segments/${'a'.repeat(12_000)}`, headers: {}, status: 431 },
      { headers: { 'x-big': 'a'.repeat(9_000) }, status: 200 },
    ];
    for (const { path, headers, status } of cases) {
      // Act
      const response = await send('GET', path ?? '/cohorts', { headers: { ...restHeaders(), ...headers } });

      // Assess
      if (status === 200) expect(response.status).toBe(200);
      else expectRejected(response, status, 'Request Header Fields Too Large');
      await expectServing();
    }
  });

  it('requests that are not HTTP/1.1 are a 400 in the same shape', async () => {
    const requests = [
      'NOT A REQUEST\r\n\r\n',
      'GET /cohorts HTTP/1.1\r\nhost: localhost\r\ncontent-length: abc\r\n\r\n',
      'GET /cohorts HTTP/1.1\r\nhost: localhost\r\nx-bad\u0001: b\r\n\r\n',
      'POST /users/track HTTP/1.1\r\nhost: localhost\r\ntransfer-encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n',
      'POST /users/track HTTP/1.1\r\nhost: localhost\r\ncontent-length: 3\r\ntransfer-encoding: chunked\r\n\r\n0\r\n\r\n',
      'GET http://[::1 HTTP/1.1\r\nhost: localhost\r\nconnection: close\r\n\r\n',
    ];
    for (const text of requests) {
      // Act
      const response = await rawBytes(stack.url, Buffer.from(text, 'latin1'));

      // Assess
      expectRejected(response, 400);
      await expectServing();
    }
  });

  it('routes that do not exist are a 404 in the same shape', async () => {
    for (const [method, path] of [
      ['GET', '/nowhere'],
      ['PATCH', `/segments/${segmentId}`],
      ['DELETE', '/cohorts'],
      ['GET', '/%E0%A4%A'],
      // A doubled slash is a path (as API Gateway takes it), not the console at `/` (seen: its page, 200).
      ['GET', '//campaigns'],
      ['GET', '//'],
    ]) {
      expectRejected(await send(method!, path!, { headers: restHeaders() }), 404);
      await expectServing();
    }
  });
});

/** Invalid UTF-8 inside an otherwise valid JSON string value. */
const INVALID_UTF8: [string, number[]][] = [
  ['a lone continuation byte', [0x80]],
  ['0xFF', [0xff]],
  ['an overlong "/"', [0xc0, 0xaf]],
  ['an encoded surrogate (CESU-8)', [0xed, 0xa0, 0x80]],
  ['a truncated sequence', [0xe2, 0x82]],
  ['a code point past U+10FFFF', [0xf4, 0x90, 0x80, 0x80]],
];
const withBytes = (json: string, marker: string, bytes: number[]) => {
  const [before, after] = json.split(marker) as [string, string];
  return Buffer.concat([Buffer.from(before, 'utf8'), Buffer.from(bytes), Buffer.from(after, 'utf8')]);
};

describe('bodies', () => {
  it.each(INVALID_UTF8)('a body with %s (not UTF-8, RFC 8259) is a 400, not a U+FFFD', async (_name, bytes) => {
    const partnerBody = JSON.stringify({
      ...keys(),
      cohort_id: 'utf8-@@',
      cohort_changes: [{ user_ids: ['known-user'] }],
    });
    const restBody = JSON.stringify({ attributes: [{ external_id: 'utf8-@@' }] });
    for (const [path, body] of [
      ['/partners/heap/cohorts/users', partnerBody],
      ['/users/track', restBody],
    ] as const) {
      // Act
      const response = await send('POST', path, { rawBody: withBytes(body, '@@', bytes), headers: restHeaders() });

      // Assess
      expectRejected(response, 400, 'Request body must be valid JSON');
      expect((response.json as { errors: string[] }).errors[0]).toMatch(/UTF-8/);
      await expectServing();
    }
    // Nothing of it was stored under a replaced name.
    const exported = await rest('POST', '/users/export/ids', {
      body: { external_ids: ['utf8-\uFFFD', 'utf8-\uFFFD\uFFFD'] },
    });
    expect((exported.json as { users: unknown[] }).users).toEqual([]);
  });

  const deepFilter = (levels: number) =>
    `${'{"all":['.repeat(levels)}{"cohort":{"partner":"heap","cohort_id":"${KNOWN_COHORT}","includes":true}}${']}'.repeat(levels)}`;
  const deepValue = (levels: number) => `${'{"a":'.repeat(levels)}1${'}'.repeat(levels)}`;
  const deepArray = (levels: number) => `${'['.repeat(levels)}1${']'.repeat(levels)}`;

  it('nesting that would overflow recursive code (10-50 KB bodies) is a 400 naming the limit', async () => {
    const cases: [string, string, string][] = [
      ['POST', '/segments', `{"name":"deep","filter":${deepFilter(1_000)}}`],
      ['PUT', `/segments/${segmentId}`, `{"name":"deep","filter":${deepFilter(5_000)}}`],
      ['POST', '/users/track', `{"attributes":[{"external_id":"known-user","deep":${deepValue(5_000)}}]}`],
      ['POST', '/users/track', `{"attributes":[{"external_id":"known-user","deep":${deepArray(20_000)}}]}`],
      [
        'POST',
        '/users/track',
        `{"events":[{"external_id":"known-user","name":"e","time":"2026-01-01T00:00:00Z","properties":{"p":${deepValue(3_000)}}}]}`,
      ],
      ['POST', '/users/export/ids', `{"external_ids":${deepArray(10_000)}}`],
      [
        'POST',
        '/partners/heap/cohorts/users',
        `{"partner_api_key":"${stack.partnerApiKey}","client_secret":"${stack.workspace.dataImportKey}","cohort_id":"c","cohort_changes":[{"user_ids":${deepArray(10_000)}}]}`,
      ],
    ];
    for (const [method, path, body] of cases) {
      expect(Buffer.byteLength(body)).toBeGreaterThan(10_000);
      // Act
      const response = await send(method, path, { rawBody: body, headers: restHeaders() });

      // Assess
      expectRejected(response, 400, 'Request body nested deeper than 64 levels');
      await expectServing();
    }
  });

  it('filters nest at most 6 levels and attributes 5, said as such; a filter of 6 levels is accepted', async () => {
    expectRejected(
      await rest('POST', '/segments', { rawBody: `{"name":"deep","filter":${deepFilter(6)}}` }),
      400,
      'Invalid filter: nested deeper than 6 levels',
    );
    expectRejected(
      await rest('POST', '/segments', { rawBody: `{"name":"deep","filter":${deepFilter(25)}}` }),
      400,
      'Invalid filter: nested deeper than 6 levels',
    );
    expectRejected(
      await rest('POST', '/users/track', {
        rawBody: `{"attributes":[{"external_id":"known-user","deep":${deepValue(6)}}]}`,
      }),
      400,
      /nested deeper than 5 levels/,
    );
    const six = await rest('POST', '/segments', { rawBody: `{"name":"six levels","filter":${deepFilter(5)}}` });
    expect(six.status, six.text).toBe(201);
    await expectServing();
  });

  it('bodies over the limits are a 413 in the same shape', async () => {
    const overApi = JSON.stringify({ attributes: [{ external_id: 'known-user', big: 'a'.repeat(1_100_000) }] });
    expectRejected(await rest('POST', '/users/track', { rawBody: overApi }), 413);
    await expectServing();
    expectRejected(await rest('POST', '/users/track', { rawBody: Buffer.alloc(11 * 1024 * 1024, 0x20) }), 413);
    await expectServing();
  });

  it('bodies that are not JSON objects are a 4xx in the same shape', async () => {
    const routes = [
      '/partners/heap/cohorts',
      '/partners/heap/cohorts/users',
      '/users/track',
      '/users/identify',
      '/users/export/ids',
      '/segments',
    ];
    for (const path of routes) {
      for (const body of [
        '',
        '[]',
        '"x"',
        'null',
        '1',
        'true',
        '{',
        '{"a":1}{"a":1}',
        '\uFEFF{}',
        '{"__proto__":{"polluted":1}}',
      ]) {
        // Act
        const response = await send('POST', path, { rawBody: body, headers: restHeaders() });

        // Assess: partner routes read their keys from the body first (401), the REST API answers 400.
        expectRejected(response, path.startsWith('/partners') ? [400, 401] : [400]);
      }
      await expectServing();
    }
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});

describe('body fields × wrong types', () => {
  const WRONG = [1, -1.5, null, true, [], {}, '', 'x'.repeat(10_000), [1], [null], { a: 1 }];

  it('every field of the partner contract answers its contract message', async () => {
    const cases: { path: string; body: Record<string, unknown>; message: string }[] = [
      ...WRONG.map((cohortId) => ({
        path: '/partners/heap/cohorts/users',
        body: { cohort_id: cohortId, cohort_changes: [{ user_ids: ['known-user'] }] },
        message: PARTNER_MESSAGES.cohortId,
      })),
      ...[
        ...WRONG,
        [{}],
        [{ user_ids: 'x' }],
        [{ user_ids: [1] }],
        [{ device_ids: {} }],
        [{ aliases: [1] }],
        [{ aliases: [{ alias_name: 1, alias_label: 'l' }] }],
        [{ user_ids: ['a'], should_remove: 'yes' }],
        [{ user_ids: ['a'.repeat(513)] }],
      ]
        .filter((changes) => !(Array.isArray(changes) && changes.length === 0))
        .map((cohortChanges) => ({
          path: '/partners/heap/cohorts/users',
          body: { cohort_id: 'c', cohort_changes: cohortChanges },
          message: PARTNER_MESSAGES.cohortChanges,
        })),
      {
        path: '/partners/heap/cohorts/users',
        body: {
          cohort_id: 'c',
          cohort_changes: [{ user_ids: Array.from({ length: 1_001 }, (_, index) => `u${index}`) }],
        },
        message: PARTNER_MESSAGES.tooManyIdentifiers,
      },
      ...[1, null, '', '   ', [], {}, 'x'.repeat(1_025)].map((name) => ({
        path: '/partners/heap/cohorts',
        body: { cohort_id: 'c', name, created_at: '2021-01-21T19:20:30+05:00' },
        message: PARTNER_MESSAGES.name,
      })),
      ...[1, null, 'yesterday', '2021-13-45T00:00:00Z', '2021-01-21T19:20:30', []].map((createdAt) => ({
        path: '/partners/heap/cohorts',
        body: { cohort_id: 'c', name: 'n', created_at: createdAt },
        message: PARTNER_MESSAGES.createdAt,
      })),
    ];
    for (const { path, body, message } of cases) {
      // Act
      const response = await send('POST', path, { body: { ...keys(), ...body } });

      // Assess
      expectRejected(response, 400, message);
    }
    await expectServing();
  });

  it('every REST body field answers a 400 that names it', async () => {
    const time = '2026-01-01T00:00:00Z';
    const cases: [string, string, unknown][] = [
      ...WRONG.map((attributes): [string, string, unknown] => ['POST', '/users/track', { attributes }]),
      ['POST', '/users/track', {}],
      ['POST', '/users/track', { attributes: [{ external_id: 1 }] }],
      ['POST', '/users/track', { attributes: [{ plan: 'no owner' }] }],
      ['POST', '/users/track', { attributes: [{ external_id: 'known-user', braze_id: 'b' }] }],
      ['POST', '/users/track', { attributes: [{ external_id: 'known-user', big: 1e300 }] }],
      ['POST', '/users/track', { attributes: [{ external_id: 'known-user', big: 2 ** 60 }] }],
      ['POST', '/users/track', { attributes: [{ external_id: 'known-user', user_alias: 'x' }] }],
      ['POST', '/users/track', { events: [{ external_id: 'known-user', name: 1, time }] }],
      ['POST', '/users/track', { events: [{ external_id: 'known-user', name: 'e', time: 'yesterday' }] }],
      ['POST', '/users/track', { events: [{ external_id: 'known-user', braze_id: 'b', name: 'e', time }] }],
      // 512 characters, 1,536 bytes: more than a key holds.
      ['POST', '/users/track', { events: [{ braze_id: '日'.repeat(512), name: 'e', time }] }],
      ['POST', '/users/track', { events: [{ external_id: 'known-user', name: 'e', time, properties: [1] }] }],
      [
        'POST',
        '/users/track',
        { purchases: [{ external_id: 'known-user', product_id: 'p', currency: 'usd', price: 1, time }] },
      ],
      [
        'POST',
        '/users/track',
        { purchases: [{ external_id: 'known-user', product_id: 'p', currency: 'USD', price: '1', time }] },
      ],
      [
        'POST',
        '/users/track',
        { purchases: [{ external_id: 'known-user', product_id: 'p', currency: 'USD', price: 1, quantity: 0.5, time }] },
      ],
      ...WRONG.map((value): [string, string, unknown] => ['POST', '/users/identify', { aliases_to_identify: value }]),
      ['POST', '/users/identify', { devices_to_identify: [{ external_id: 1, device_id: 'd' }] }],
      ['POST', '/users/identify', {}],
      ...WRONG.map((value): [string, string, unknown] => ['POST', '/users/export/ids', { external_ids: value }]),
      ['POST', '/users/export/ids', { braze_id: 1 }],
      ['POST', '/users/export/ids', { braze_id: '日'.repeat(512) }],
      ['POST', '/users/export/ids', { external_ids: Array.from({ length: 51 }, (_, index) => `u${index}`) }],
      ...WRONG.map((name): [string, string, unknown] => [
        'POST',
        '/segments',
        { name, filter: { cohort: { partner: 'heap', cohort_id: KNOWN_COHORT, includes: true } } },
      ]),
      ...[
        ...WRONG,
        { cohort: { partner: 'heap', cohort_id: KNOWN_COHORT, includes: 'yes' } },
        { all: [] },
        { none: [] },
        { cohort: { partner: 'p'.repeat(51), cohort_id: KNOWN_COHORT, includes: true } },
        { cohort: { partner: 'heap', cohort_id: 'c'.repeat(201), includes: true } },
        {
          any: Array.from({ length: 21 }, () => ({
            cohort: { partner: 'heap', cohort_id: KNOWN_COHORT, includes: true },
          })),
        },
      ].map((filter): [string, string, unknown] => ['PUT', `/segments/${segmentId}`, { name: 'n', filter }]),
      ['POST', '/segments', { name: 'no filter' }],
    ];
    for (const [method, path, body] of cases) {
      // Act
      const response = await rest(method, path, { body });

      // Assess
      expectRejected(response, 400);
    }
    await expectServing();
  });

  it('query parameters: a page size out of range or a forged cursor is a 400', async () => {
    const forged = (after: string) => Buffer.from(`{"after":${after}}`, 'utf8').toString('base64url');
    const queries = [
      'limit=0',
      'limit=abc',
      'limit=1001',
      'limit=1e400',
      'cursor=garbage',
      `cursor=${forged(JSON.stringify('a'.repeat(3_000)))}`,
      `cursor=${forged('"\\ud800"')}`,
      `cursor=${forged('1')}`,
      'cursor=%E0%A4%A',
    ];
    for (const query of queries) {
      expectRejected(await rest('GET', `/segments/${segmentId}/users?${query}`), 400);
      await expectServing();
    }
  });
});

/** Lone surrogates, as JSON escapes in otherwise valid UTF-8 JSON text: a high one alone, a low one alone, a pair reversed, one at each end. */
const LONE_SURROGATES = ['\\ud800', '\\udfff', 'a\\ud83d', '\\ude00b', '\\ude00\\ud83d'];
/** A body with `@@` where the lone surrogate goes (in a value or a key). */
const withSurrogate = (body: unknown, surrogate: string) => JSON.stringify(body).replaceAll('@@', surrogate);

describe('Unicode in every identifier and name position', () => {
  it('a lone surrogate anywhere in a partner request is a 400 with the contract message for its field', async () => {
    const cases: [string, unknown, string][] = [
      [
        '/partners/heap/cohorts/users',
        { cohort_id: 'lone-@@', cohort_changes: [{ user_ids: ['known-user'] }] },
        PARTNER_MESSAGES.cohortId,
      ],
      [
        '/partners/heap/cohorts',
        { cohort_id: 'lone-@@', name: 'n', created_at: '2021-01-21T19:20:30+05:00' },
        PARTNER_MESSAGES.cohortId,
      ],
      [
        '/partners/heap/cohorts',
        { cohort_id: 'lone', name: 'name-@@', created_at: '2021-01-21T19:20:30+05:00' },
        PARTNER_MESSAGES.name,
      ],
      [
        '/partners/heap/cohorts/users',
        { cohort_id: 'lone', cohort_changes: [{ user_ids: ['known-user', 'u-@@'] }] },
        PARTNER_MESSAGES.cohortChanges,
      ],
      [
        '/partners/heap/cohorts/users',
        { cohort_id: 'lone', cohort_changes: [{ device_ids: ['d-@@'] }] },
        PARTNER_MESSAGES.cohortChanges,
      ],
      [
        '/partners/heap/cohorts/users',
        { cohort_id: 'lone', cohort_changes: [{ aliases: [{ alias_name: 'n-@@', alias_label: 'l' }] }] },
        PARTNER_MESSAGES.cohortChanges,
      ],
      [
        '/partners/heap/cohorts/users',
        { cohort_id: 'lone', cohort_changes: [{ aliases: [{ alias_name: 'n', alias_label: 'l-@@' }] }] },
        PARTNER_MESSAGES.cohortChanges,
      ],
    ];
    for (const surrogate of LONE_SURROGATES) {
      for (const [path, body, message] of cases) {
        // Act
        const response = await send('POST', path, {
          rawBody: withSurrogate({ ...keys(), ...(body as object) }, surrogate),
        });

        // Assess
        expectRejected(response, 400, message);
        expect((response.json as { errors: string[] }).errors.join(' ')).toMatch(/well-formed Unicode/);
      }
    }
    await expectServing();
    // Nothing was accepted, so nothing was half-applied.
    const listing = (await rest('GET', '/cohorts')).json as { cohorts: { cohort_id: string }[] };
    expect(listing.cohorts.filter((cohort) => cohort.cohort_id.startsWith('lone'))).toEqual([]);
  });

  it('a lone surrogate anywhere in a REST body (ids, names, attribute names and values, filters) is a 400 naming where', async () => {
    const time = '2026-01-01T00:00:00Z';
    const cohortTest = (partner: string, cohortId: string) => ({
      cohort: { partner, cohort_id: cohortId, includes: true },
    });
    const cases: [string, string, unknown][] = [
      ['POST', '/users/track', { attributes: [{ external_id: 'x-@@' }] }],
      ['POST', '/users/track', { attributes: [{ device_id: 'd-@@' }] }],
      ['POST', '/users/track', { attributes: [{ user_alias: { alias_name: 'n-@@', alias_label: 'l' } }] }],
      ['POST', '/users/track', { attributes: [{ user_alias: { alias_name: 'n', alias_label: 'l-@@' } }] }],
      ['POST', '/users/track', { attributes: [{ external_id: 'known-user', 'attr-@@': 1 }] }],
      ['POST', '/users/track', { attributes: [{ external_id: 'known-user', plan: 'p-@@' }] }],
      ['POST', '/users/track', { attributes: [{ external_id: 'known-user', nested: { 'k-@@': ['v'] } }] }],
      ['POST', '/users/track', { attributes: [{ external_id: 'known-user', nested: [{ k: 'v-@@' }] }] }],
      ['POST', '/users/track', { events: [{ external_id: 'known-user', name: 'e-@@', time }] }],
      ['POST', '/users/track', { events: [{ external_id: 'x-@@', name: 'e', time }] }],
      ['POST', '/users/track', { events: [{ braze_id: 'b-@@', name: 'e', time }] }],
      ['POST', '/users/track', { events: [{ external_id: 'known-user', name: 'e', time, app_id: 'a-@@' }] }],
      ['POST', '/users/track', { events: [{ external_id: 'known-user', name: 'e', time, properties: { 'p-@@': 1 } }] }],
      [
        'POST',
        '/users/track',
        { purchases: [{ external_id: 'known-user', product_id: 'p-@@', currency: 'USD', price: 1, time }] },
      ],
      [
        'POST',
        '/users/identify',
        { aliases_to_identify: [{ external_id: 'x-@@', user_alias: { alias_name: 'n', alias_label: 'l' } }] },
      ],
      ['POST', '/users/identify', { devices_to_identify: [{ external_id: 'x', device_id: 'd-@@' }] }],
      ['POST', '/users/export/ids', { external_ids: ['x-@@'] }],
      ['POST', '/users/export/ids', { user_aliases: [{ alias_name: 'n-@@', alias_label: 'l' }] }],
      ['POST', '/users/export/ids', { device_id: 'd-@@' }],
      ['POST', '/users/export/ids', { braze_id: 'b-@@' }],
      ['POST', '/segments', { name: 's-@@', filter: cohortTest('heap', KNOWN_COHORT) }],
      ['POST', '/segments', { name: 's', filter: cohortTest('heap-@@', KNOWN_COHORT) }],
      ['POST', '/segments', { name: 's', filter: cohortTest('heap', 'c-@@') }],
      [
        'PUT',
        `/segments/${segmentId}`,
        { name: 's', filter: { any: [cohortTest('heap', KNOWN_COHORT), cohortTest('heap', 'c-@@')] } },
      ],
    ];
    for (const [method, path, body] of cases) {
      // Act
      const response = await rest(method, path, { rawBody: withSurrogate(body, '\\ud800') });

      // Assess
      expectRejected(response, 400, /is not well-formed Unicode/);
    }
    await expectServing();
    const exported = await rest('POST', '/users/export/ids', { body: { external_ids: ['x-\uFFFD'] } });
    expect((exported.json as { users: unknown[] }).users).toEqual([]);
  });

  it('well-formed edge cases in every identifier position are accepted and applied whole: memberships, count, sync report, audience', async () => {
    // Prepare: ids with astral characters, combining marks, NUL, noncharacters, bidi controls, joiners, a BOM,
    // line separators, quotes, names of Object.prototype's own properties, escape-like text, and the longest allowed.
    const externalIds = [
      'u-😀',
      'u-e\u0301',
      'u-\u0000nul',
      'u-\uFFFF\uFFFE',
      'u-\u202Eevil',
      'u-a\u200Db',
      'u-\uFEFFbom',
      'u-ß-日本-עברית',
      'u-\u2028\u2029',
      'u-"\\\'',
      '__proto__',
      'constructor',
      'u-%E0%A4%A',
      `u-${'😀'.repeat(255)}`,
      'x'.repeat(512),
    ];
    const alias = { alias_name: 'a-😀\u0000', alias_label: 'l-\u202E' };
    const anonymousDevice = 'd-\uFFFF😀';
    const cohortId = `c-😀-\u0000-\uFFFF-\u202E-\u2028-e\u0301-日本-${'😀'.repeat(80)}`;
    const cohortName = 'Name 😀 \u202E with\u0000 edges';
    expect(cohortId.length).toBeLessThanOrEqual(200);
    const tracked = await rest('POST', '/users/track', {
      body: {
        attributes: [
          ...externalIds.map((externalId) => ({ external_id: externalId, 'attr-😀\u0000': 'v-\uFFFF' })),
          { user_alias: alias },
          { device_id: anonymousDevice },
        ],
      },
    });
    expect(tracked.status, tracked.text).toBe(201);
    const members = externalIds.length + 2;

    // Act
    const named = await send('POST', '/partners/heap/cohorts', {
      body: { ...keys(), cohort_id: cohortId, name: cohortName, created_at: '2021-01-21T19:20:30+05:00' },
    });
    const changed = await send('POST', '/partners/heap/cohorts/users', {
      body: {
        ...keys(),
        cohort_id: cohortId,
        cohort_changes: [{ user_ids: externalIds, aliases: [alias], device_ids: [anonymousDevice] }],
      },
    });

    // Assess
    expect(named.status, named.text).toBe(201);
    expect(changed.status, changed.text).toBe(201);
    const path = `/cohorts/heap/${encodeURIComponent(cohortId)}`;
    const cohort = await eventually(
      async () => {
        const detail = (await rest('GET', path)).json as {
          cohort?: { name: string; member_count: number; sync_reports: Record<string, number>[] };
        };
        return detail.cohort && detail.cohort.sync_reports.length >= 1 && detail.cohort.name === cohortName
          ? detail.cohort
          : undefined;
      },
      20_000,
      'the sync report of the Unicode cohort',
    );
    expect(cohort.member_count).toBe(members);
    expect(cohort.sync_reports[0]).toMatchObject({ received: members, matched: members, unmatched: 0, added: members });
    const exported = (
      await rest('POST', '/users/export/ids', {
        body: { external_ids: externalIds, user_aliases: [alias], device_id: anonymousDevice },
      })
    ).json as {
      users: { external_id?: string; cohorts: { cohort_id: string; name: string }[] }[];
      invalid_user_ids: string[];
    };
    expect(exported.invalid_user_ids).toEqual([]);
    expect(exported.users).toHaveLength(members);
    for (const user of exported.users)
      expect(user.cohorts).toContainEqual(expect.objectContaining({ cohort_id: cohortId, name: cohortName }));
    expect(
      exported.users
        .map((user) => user.external_id)
        .filter(Boolean)
        .sort(),
    ).toEqual([...externalIds].sort());
    const segment = await rest('POST', '/segments', {
      body: {
        name: `audience ${cohortName}`,
        filter: { cohort: { partner: 'heap', cohort_id: cohortId, includes: true } },
      },
    });
    expect(segment.status, segment.text).toBe(201);
    const audience = (
      await rest(
        'GET',
        `/segments/${(segment.json as { segment: { segment_id: string } }).segment.segment_id}/users?limit=1000`,
      )
    ).json as { users: unknown[] };
    expect(audience.users).toHaveLength(members);
    await expectQueuesSettled();
    await expectServing();
  });
});

describe('afterwards', () => {
  it('nothing was dead-lettered and nothing is left to process', async () => {
    await expectQueuesSettled();
    await expectServing();
  });
});
