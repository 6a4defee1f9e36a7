/**
 * The HTTP side of webhooks, safe against server-side request forgery:
 * - `https` only; `http` only when the operator allows it (the local stack);
 * - the URL's host and every address it resolves to must be public (addresses.ts) unless
 *   an operator allow-list admits it; numeric host forms (`2130706433`, `0x7f.1`) are
 *   normalised by the WHATWG URL parser before anything is checked;
 * - the connection goes to the address that was checked: the request's `lookup` answers
 *   it, so nothing resolves the name a second time (no DNS-rebinding window);
 * - redirects are never followed (a 3XX comes back as it is, with where it pointed);
 * - at most `maxResponseBytes` of the answer are read; connect and answer within `timeoutMs`;
 * - header names must be tokens and values free of CR, LF and NUL, so nothing templated
 *   can add a header or split the request.
 */
import { lookup as dnsLookup } from 'node:dns/promises';
import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { isIP, type LookupFunction } from 'node:net';
import { classifyAddress, isAllowListed, parseAllowEntry, type AllowEntry } from './addresses.js';
import {
  headerProblem,
  WEBHOOK_METHODS,
  type WebhookClient,
  type WebhookRequest,
  type WebhookResult,
} from './requests.js';

export {
  headerProblem,
  MAX_HEADER_VALUE_LENGTH,
  MAX_HEADERS,
  WEBHOOK_METHODS,
  type WebhookClient,
  type WebhookRequest,
  type WebhookResult,
} from './requests.js';

export type Resolver = (host: string) => Promise<{ address: string; family: number }[]>;

export interface SafeHttpOptions {
  /** Allow `http:` URLs (the local stack). Off in AWS. */
  allowHttp?: boolean;
  /** Operator allow-list: hosts, addresses or CIDRs, each optionally `:port` (addresses.ts). */
  allowList?: readonly string[];
  /** DNS resolution (default: the system's `dns.lookup` with `all`); tests inject names. */
  resolve?: Resolver;
  /** Connect plus the whole answer (default 10 s). */
  timeoutMs?: number;
  /** How much of an answer is read (default 64 KiB): a receiver cannot make the sender hold more. */
  maxResponseBytes?: number;
  /** Called with the address about to be connected to; may throw to stop it (a test's last line of defence). */
  beforeConnect?: (address: string, port: number) => void;
  /** Sockets kept open per destination (default 64). */
  maxSockets?: number;
}

const DEFAULT_TIMEOUT_MS = 10_000;
const DEFAULT_MAX_RESPONSE_BYTES = 64 * 1024;
const systemResolve: Resolver = async (host) => dnsLookup(host, { all: true, verbatim: true });

interface Destination {
  url: URL;
  host: string;
  port: number;
  address: string;
  family: number;
}

export class SafeHttpClient implements WebhookClient {
  private readonly allowList: AllowEntry[];
  private readonly resolve: Resolver;
  private readonly timeoutMs: number;
  private readonly maxResponseBytes: number;
  private readonly httpAgent: HttpAgent;
  private readonly httpsAgent: HttpsAgent;

  constructor(private readonly options: SafeHttpOptions = {}) {
    this.allowList = (options.allowList ?? []).map(parseAllowEntry);
    this.resolve = options.resolve ?? systemResolve;
    this.timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.maxResponseBytes = options.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES;
    const agentOptions = { keepAlive: true, maxSockets: options.maxSockets ?? 64 };
    this.httpAgent = new HttpAgent(agentOptions);
    this.httpsAgent = new HttpsAgent(agentOptions);
  }

  /**
   * Where a URL would go: the checked address to connect to, or why not. Resolves the
   * name (no connection). Every address it resolves to must be allowed, not just one:
   * a name that answers a public and a private address is refused.
   */
  async destination(rawUrl: string): Promise<Destination | { refused: string }> {
    let url: URL;
    try {
      url = new URL(rawUrl);
    } catch {
      return { refused: 'not a valid URL' };
    }
    if (url.protocol !== 'https:' && !(url.protocol === 'http:' && this.options.allowHttp))
      return { refused: `${url.protocol.replace(':', '')} URLs are not allowed (https only)` };
    if (url.username !== '' || url.password !== '') return { refused: 'credentials in the URL are not allowed' };
    const host = url.hostname.replace(/^\[|\]$/g, '');
    const port = url.port !== '' ? Number(url.port) : url.protocol === 'https:' ? 443 : 80;
    let addresses: { address: string; family: number }[];
    if (isIP(host)) addresses = [{ address: host, family: isIP(host) }];
    else {
      try {
        addresses = await this.resolve(host);
      } catch (error: unknown) {
        return { refused: `${host} does not resolve (${(error as { code?: string }).code ?? String(error)})` };
      }
      if (addresses.length === 0) return { refused: `${host} does not resolve` };
    }
    for (const { address } of addresses) {
      const kind = classifyAddress(address);
      if (kind !== 'public' && !isAllowListed(this.allowList, { host, address, port }))
        return { refused: `${host === address ? address : `${host} resolves to ${address}`}: ${kind} address` };
    }
    const chosen = addresses[0]!;
    return { url, host, port, address: chosen.address, family: chosen.family };
  }

  async send(request: WebhookRequest): Promise<WebhookResult> {
    const method = request.method.toUpperCase();
    if (!(WEBHOOK_METHODS as readonly string[]).includes(method))
      return { kind: 'refused', reason: `method ${request.method} is not allowed` };
    const problem = headerProblem(request.headers);
    if (problem) return { kind: 'refused', reason: problem };
    const destination = await this.destination(request.url);
    if ('refused' in destination) return { kind: 'refused', reason: `destination refused: ${destination.refused}` };
    try {
      this.options.beforeConnect?.(destination.address, destination.port);
    } catch (error: unknown) {
      return { kind: 'refused', reason: `destination refused: ${error instanceof Error ? error.message : error}` };
    }
    return this.exchange(method, request, destination);
  }

  private exchange(method: string, request: WebhookRequest, destination: Destination): Promise<WebhookResult> {
    const { url, address, family } = destination;
    // Answers the name with the address checked above: no second resolution.
    const pinned: LookupFunction = (_hostname, options, callback) => {
      if ((options as { all?: boolean }).all) (callback as (...args: unknown[]) => void)(null, [{ address, family }]);
      else callback(null, address, family);
    };
    const body = request.body === undefined ? undefined : Buffer.from(request.body, 'utf8');
    const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
    return new Promise<WebhookResult>((resolve) => {
      // Node checks the request synchronously (header values, the path): a refusal, never a rejection that loses the outcome.
      try {
        this.start(method, request, destination, body, send, pinned, resolve);
      } catch (error: unknown) {
        resolve({
          kind: 'refused',
          reason: `request refused before sending: ${error instanceof Error ? error.message : String(error)}`,
        });
      }
    });
  }

  private start(
    method: string,
    request: WebhookRequest,
    destination: Destination,
    body: Buffer | undefined,
    send: typeof httpRequest,
    pinned: LookupFunction,
    resolve: (result: WebhookResult) => void,
  ): void {
    const { url, port } = destination;
    let settled = false;
    const settle = (result: WebhookResult) => {
      if (settled) return;
      settled = true;
      clearTimeout(deadline);
      resolve(result);
    };
    const outgoing = send({
      protocol: url.protocol,
      hostname: url.hostname.replace(/^\[|\]$/g, ''),
      port,
      path: `${url.pathname}${url.search}`,
      method,
      headers: {
        ...request.headers,
        ...(body !== undefined ? { 'content-length': String(body.byteLength) } : {}),
      },
      lookup: pinned,
      agent: url.protocol === 'https:' ? this.httpsAgent : this.httpAgent,
    });
    const deadline = setTimeout(() => {
      settle({ kind: 'error', reason: `no answer within ${this.timeoutMs} ms`, timeout: true });
      outgoing.destroy();
    }, this.timeoutMs);
    outgoing.on('error', (error: Error & { code?: string }) =>
      settle({ kind: 'error', reason: `${error.code ?? 'error'}: ${error.message}`, timeout: false }),
    );
    outgoing.on('response', (response: IncomingMessage) => {
      const chunks: Buffer[] = [];
      let length = 0;
      const finish = () => {
        const location = response.headers.location;
        const retryAfter = response.headers['retry-after'];
        settle({
          kind: 'response',
          status: response.statusCode ?? 0,
          body: Buffer.concat(chunks).toString('utf8'),
          ...(location !== undefined ? { location } : {}),
          ...(retryAfter !== undefined ? { retryAfter } : {}),
        });
      };
      response.on('data', (chunk: Buffer) => {
        if (length >= this.maxResponseBytes) return;
        const room = this.maxResponseBytes - length;
        chunks.push(chunk.subarray(0, room));
        length += Math.min(room, chunk.byteLength);
        // Enough read: answer now and drop the rest (and the socket, so it is not reused mid-body).
        if (length >= this.maxResponseBytes) {
          finish();
          response.destroy();
        }
      });
      response.on('end', finish);
      response.on('error', finish);
    });
    outgoing.end(body);
  }

  /** Closes kept-alive sockets (tests, and a stack stopping). */
  close(): void {
    this.httpAgent.destroy();
    this.httpsAgent.destroy();
  }
}
