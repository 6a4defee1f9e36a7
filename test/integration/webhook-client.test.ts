/**
 * The webhook HTTP client against a real receiver on loopback: what is allowed reaches
 * it, what is not never connects (a guard refuses any address but 127.0.0.1, so even a
 * bug here cannot send a packet anywhere else), redirects are not followed, answers are
 * read up to a bound, a receiver that never answers times out.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createServer, type IncomingHttpHeaders, type Server, type ServerResponse } from 'node:http';
import { SafeHttpClient, type SafeHttpOptions } from '../../lib/webhooks/safe-http.js';
import { judge } from '../../lib/webhooks/policy.js';

interface Arrival {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: string;
}

let server: Server;
let port: number;
let arrivals: Arrival[] = [];
let answer: (response: ServerResponse) => void = (response) => response.writeHead(200).end('ok');

/** Stops any connection to an address other than the loopback receiver, before it is made. */
const onlyLoopback = (address: string) => {
  if (address !== '127.0.0.1') throw new Error(`test guard: would have connected to ${address}`);
};
const client = (options: SafeHttpOptions = {}) =>
  new SafeHttpClient({ allowHttp: true, allowList: [`127.0.0.1:${port}`], beforeConnect: onlyLoopback, ...options });

beforeAll(async () => {
  server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      arrivals.push({
        method: request.method ?? '',
        url: request.url ?? '',
        headers: request.headers,
        body: Buffer.concat(chunks).toString('utf8'),
      });
      answer(response);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  port = typeof address === 'object' && address ? address.port : 0;
});
afterAll(
  () =>
    new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    }),
);
beforeEach(() => {
  arrivals = [];
  answer = (response) => response.writeHead(200).end('ok');
});

describe('SafeHttpClient', () => {
  it('delivers to an allow-listed destination: method, path, headers and body as given', async () => {
    // Prepare
    const http = client();

    // Act
    const result = await http.send({
      url: `http://127.0.0.1:${port}/hooks/braze?x=1`,
      method: 'PUT',
      headers: { 'content-type': 'application/json', 'Idempotency-Key': 'k1' },
      body: '{"hello":"world"}',
    });
    http.close();

    // Assess
    expect(result).toMatchObject({ kind: 'response', status: 200, body: 'ok' });
    expect(arrivals).toHaveLength(1);
    expect(arrivals[0]).toMatchObject({ method: 'PUT', url: '/hooks/braze?x=1', body: '{"hello":"world"}' });
    expect(arrivals[0]!.headers['idempotency-key']).toBe('k1');
  });

  it.each([
    ['loopback outside the allow-list (another port)', () => `http://127.0.0.1:${port + 1}/`, /loopback/],
    ['a private address', () => 'https://10.0.0.1/hook', /10\.0\.0\.1: private/],
    ['the metadata service', () => 'http://169.254.169.254/latest/meta-data/', /metadata/],
    ['IPv6 loopback', () => 'https://[::1]/', /loopback/],
    ['IPv4-mapped IPv6 loopback', () => 'https://[::ffff:127.0.0.1]/', /loopback/],
    ['IPv6 metadata', () => 'https://[fd00:ec2::254]/', /metadata/],
    ['a decimal host', () => 'https://2130706433/', /127\.0\.0\.1: loopback/],
    ['a hex-and-short host', () => 'https://0x7f.1/', /127\.0\.0\.1: loopback/],
    ['CGNAT', () => 'https://100.64.1.1/', /cgnat/],
    ['0.0.0.0', () => 'https://0.0.0.0/', /unspecified/],
  ])('refuses %s without connecting', async (_what, url, reason) => {
    // Prepare
    const http = client({ allowList: [] });

    // Act
    const result = await http.send({ url: url(), method: 'POST', headers: {}, body: '{}' });

    // Assess
    expect(result.kind).toBe('refused');
    expect(result.kind === 'refused' && result.reason).toMatch(reason);
    expect(arrivals).toHaveLength(0);
  });

  it('refuses a name that resolves to a private address, even when it also resolves to a public one', async () => {
    // Prepare: names resolved by the test, never by DNS
    const names: Record<string, string[]> = {
      'internal.example': ['10.1.2.3'],
      'mixed.example': ['93.184.216.34', '192.168.0.10'],
    };
    const http = client({
      allowList: [],
      resolve: async (host) => (names[host] ?? []).map((address) => ({ address, family: 4 })),
    });

    // Act
    const internal = await http.send({ url: 'https://internal.example/h', method: 'POST', headers: {} });
    const mixed = await http.send({ url: 'https://mixed.example/h', method: 'POST', headers: {} });

    // Assess
    expect(internal).toMatchObject({
      kind: 'refused',
      reason: expect.stringMatching(/resolves to 10\.1\.2\.3: private/),
    });
    expect(mixed).toMatchObject({ kind: 'refused', reason: expect.stringMatching(/192\.168\.0\.10: private/) });
  });

  it('refuses localhost as resolved by the system', async () => {
    // Act
    const result = await client({ allowList: [] }).send({
      url: `http://localhost:${port}/`,
      method: 'POST',
      headers: {},
    });

    // Assess
    expect(result).toMatchObject({
      kind: 'refused',
      reason: expect.stringMatching(/localhost resolves to .*loopback/),
    });
    expect(arrivals).toHaveLength(0);
  });

  it('connects to the address it checked: the name is resolved once, by the client', async () => {
    // Prepare: a name no DNS knows, allow-listed, resolved by the client's resolver to the receiver
    let resolutions = 0;
    const http = client({
      allowList: [`pinned.test:${port}`],
      resolve: async () => {
        resolutions += 1;
        return [{ address: '127.0.0.1', family: 4 }];
      },
    });

    // Act
    const result = await http.send({ url: `http://pinned.test:${port}/p`, method: 'POST', headers: {}, body: 'x' });
    http.close();

    // Assess
    expect(result).toMatchObject({ kind: 'response', status: 200 });
    expect(resolutions).toBe(1);
    expect(arrivals[0]!.headers.host).toBe(`pinned.test:${port}`);
  });

  it('requires https unless the operator allows http', async () => {
    // Act
    const result = await client({ allowHttp: false }).send({
      url: `http://127.0.0.1:${port}/`,
      method: 'POST',
      headers: {},
    });

    // Assess
    expect(result).toMatchObject({ kind: 'refused', reason: expect.stringMatching(/https only/) });
    expect(arrivals).toHaveLength(0);
  });

  it('does not follow a redirect, and says when it pointed at a refused address', async () => {
    // Prepare
    answer = (response) => response.writeHead(302, { location: 'http://169.254.169.254/latest/meta-data/' }).end();
    const http = client();

    // Act
    const result = await http.send({ url: `http://127.0.0.1:${port}/r`, method: 'POST', headers: {}, body: '{}' });
    const verdict = await judge(result, {
      describeRedirect: async (location) => {
        const where = await http.destination(location);
        return 'refused' in where ? where.refused : undefined;
      },
    });
    http.close();

    // Assess
    expect(arrivals).toHaveLength(1);
    expect(verdict).toMatchObject({
      kind: 'failed',
      status: 302,
      reason: 'redirect (302) to a refused destination not followed: 169.254.169.254: metadata address',
    });
  });

  it('reads at most the bound of an answer', async () => {
    // Prepare: a 1 MiB answer
    answer = (response) => response.writeHead(500).end('e'.repeat(1024 * 1024));
    const http = client({ maxResponseBytes: 1024 });

    // Act
    const result = await http.send({ url: `http://127.0.0.1:${port}/big`, method: 'POST', headers: {} });
    http.close();

    // Assess
    expect(result).toMatchObject({ kind: 'response', status: 500 });
    expect(result.kind === 'response' && result.body.length).toBe(1024);
  });

  it('times out a receiver that never answers', async () => {
    // Prepare
    answer = () => undefined;
    const http = client({ timeoutMs: 300 });

    // Act
    const started = Date.now();
    const result = await http.send({ url: `http://127.0.0.1:${port}/slow`, method: 'POST', headers: {} });
    http.close();

    // Assess: the client gave up (a receiver that never answers would otherwise hold it past
    // the test's own timeout), and not before its bound; no wall-clock upper bound.
    expect(result).toMatchObject({ kind: 'error', timeout: true });
    expect(Date.now() - started).toBeGreaterThanOrEqual(300 - 20);
  });

  it('refuses a header value that would inject a header, before sending', async () => {
    // Act
    const result = await client().send({
      url: `http://127.0.0.1:${port}/`,
      method: 'POST',
      headers: { 'X-Name': 'Ada\r\nX-Admin: true' },
    });

    // Assess
    expect(result).toMatchObject({ kind: 'refused', reason: expect.stringMatching(/CR, LF/) });
    expect(arrivals).toHaveLength(0);
  });
});
