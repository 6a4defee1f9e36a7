import { describe, expect, it } from 'vitest';
import { classifyAddress, isAllowListed, parseAllowEntry } from '../../lib/webhooks/addresses.js';
import { headerProblem } from '../../lib/webhooks/safe-http.js';
import { judge, retryDelaySeconds } from '../../lib/webhooks/policy.js';

describe('the webhook address classifier', () => {
  it.each([
    ['127.0.0.1', 'loopback'],
    ['127.255.255.254', 'loopback'],
    ['10.0.0.1', 'private'],
    ['172.16.0.1', 'private'],
    ['172.31.255.255', 'private'],
    ['192.168.1.1', 'private'],
    ['169.254.169.254', 'metadata'],
    ['169.254.1.1', 'link-local'],
    ['100.64.0.1', 'cgnat'],
    ['100.127.255.255', 'cgnat'],
    ['0.0.0.0', 'unspecified'],
    ['0.1.2.3', 'unspecified'],
    ['224.0.0.1', 'multicast'],
    ['255.255.255.255', 'reserved'],
    ['192.0.2.10', 'reserved'],
    ['8.8.8.8', 'public'],
    ['172.32.0.1', 'public'],
    ['100.128.0.1', 'public'],
    ['::1', 'loopback'],
    ['::', 'unspecified'],
    ['fc00::1', 'private'],
    ['fd12:3456::1', 'private'],
    ['fd00:ec2::254', 'metadata'],
    ['fe80::1', 'link-local'],
    ['fe80::1%eth0', 'link-local'],
    ['ff02::1', 'multicast'],
    ['2001:db8::1', 'reserved'],
    ['2001::1', 'reserved'],
    ['::ffff:127.0.0.1', 'loopback'],
    ['::ffff:7f00:1', 'loopback'],
    ['0:0:0:0:0:FFFF:7F00:1', 'loopback'],
    ['fe80:0:0:0:0:0:0:1%25en0', 'link-local'],
    ['::ffff:169.254.169.254', 'metadata'],
    ['::ffff:10.0.0.1', 'private'],
    ['::10.0.0.1', 'private'],
    ['64:ff9b::a9fe:a9fe', 'metadata'],
    ['2002:0a00:0001::1', 'private'],
    ['2606:4700:4700::1111', 'public'],
    ['::ffff:8.8.8.8', 'public'],
    ['not-an-address', 'reserved'],
  ])('%s is %s', (address, expected) => {
    // Act + Assess
    expect(classifyAddress(address)).toBe(expected);
  });

  it('sees decimal, octal and hex host forms as the address they are (the URL parser normalises them)', () => {
    // Prepare
    const hosts = ['http://2130706433/', 'http://0x7f.1/', 'http://0177.0.0.1/', 'http://127.1/', 'http://0x7f000001/'];

    // Act
    const classes = hosts.map((url) => classifyAddress(new URL(url).hostname));

    // Assess
    expect(classes).toEqual(['loopback', 'loopback', 'loopback', 'loopback', 'loopback']);
    expect(new URL('http://[::ffff:127.0.0.1]/').hostname).toBe('[::ffff:7f00:1]');
    expect(classifyAddress('::ffff:7f00:1')).toBe('loopback');
  });
});

describe('the operator allow-list', () => {
  it('admits a host, an address, a CIDR, each with or without a port', () => {
    // Prepare
    const list = ['127.0.0.1:8080', 'hooks.internal', '10.1.0.0/16', '[fd00::1]:8443'].map(parseAllowEntry);

    // Act + Assess
    expect(isAllowListed(list, { host: '127.0.0.1', address: '127.0.0.1', port: 8080 })).toBe(true);
    expect(isAllowListed(list, { host: '127.0.0.1', address: '127.0.0.1', port: 8081 })).toBe(false);
    expect(isAllowListed(list, { host: 'HOOKS.internal', address: '10.9.9.9', port: 443 })).toBe(true);
    expect(isAllowListed(list, { host: 'x', address: '10.1.200.3', port: 443 })).toBe(true);
    expect(isAllowListed(list, { host: 'x', address: '10.2.0.1', port: 443 })).toBe(false);
    expect(isAllowListed(list, { host: 'fd00::1', address: 'fd00::1', port: 8443 })).toBe(true);
    expect(() => parseAllowEntry('10.0.0.0/33')).toThrow();
  });
});

describe('header checks', () => {
  it('refuses CR/LF in values, non-token names and the headers the sender sets', () => {
    // Act + Assess
    expect(headerProblem({ 'X-Token': 'abc' })).toBeUndefined();
    expect(headerProblem({ 'X-Token': 'abc\r\nX-Injected: 1' })).toMatch(/CR, LF/);
    expect(headerProblem({ 'X-Token': 'a\nb' })).toMatch(/CR, LF/);
    expect(headerProblem({ 'Bad Name': 'x' })).toMatch(/not a token/);
    expect(headerProblem({ Host: 'evil' })).toMatch(/set by the sender/);
    expect(headerProblem({ 'Content-Length': '1' })).toMatch(/set by the sender/);
  });
});

describe('the retry policy', () => {
  it('retries 5XX, 429 and network errors, never other 4XX or 3XX', async () => {
    // Act
    const verdicts = await Promise.all(
      [
        { kind: 'response', status: 200, body: '' },
        { kind: 'response', status: 503, body: '' },
        { kind: 'response', status: 429, body: '', retryAfter: '120' },
        { kind: 'error', reason: 'ECONNRESET', timeout: false },
        { kind: 'response', status: 404, body: '' },
        { kind: 'response', status: 302, body: '', location: 'http://169.254.169.254/latest' },
        { kind: 'refused', reason: 'destination refused: 10.0.0.1: private address' },
      ].map((result) =>
        judge(result as never, {
          describeRedirect: async (location) =>
            location.includes('169.254') ? '169.254.169.254: metadata address' : undefined,
        }),
      ),
    );

    // Assess
    expect(verdicts.map((verdict) => verdict.kind)).toEqual([
      'delivered',
      'retry',
      'retry',
      'retry',
      'failed',
      'failed',
      'failed',
    ]);
    expect(verdicts[2]).toMatchObject({ retryAfterSeconds: 120 });
    expect(verdicts[5]).toMatchObject({ reason: expect.stringContaining('refused destination not followed') });
  });

  it('backs off exponentially with full jitter, within the cap, honouring a longer Retry-After', () => {
    // Act + Assess
    expect(retryDelaySeconds(1, () => 1)).toBe(10);
    expect(retryDelaySeconds(4, () => 1)).toBe(80);
    expect(retryDelaySeconds(20, () => 1)).toBe(900);
    expect(retryDelaySeconds(3, () => 0)).toBe(0);
    expect(retryDelaySeconds(1, () => 0.5, { retryAfterSeconds: 120 })).toBe(120);
    expect(retryDelaySeconds(1, () => 0.5, { retryAfterSeconds: 5_000 })).toBe(900);
  });
});
