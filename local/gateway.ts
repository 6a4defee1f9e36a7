/**
 * A local stand-in for API Gateway HTTP API (payload 2.0): routes come from
 * serverless.yml's `httpApi` events, requests become v2 events for the same handlers
 * that run in Lambda.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';
import { lambdaContext } from './lambda-context.js';

export type HttpHandler = (
  event: APIGatewayProxyEventV2,
  context: Context,
) => Promise<APIGatewayProxyStructuredResultV2>;

export interface Route {
  functionName: string;
  routeKey: string;
  method: string;
  pattern: RegExp;
  parameterNames: string[];
}

interface ServerlessFile {
  functions: Record<string, { timeout?: number; events?: { httpApi?: { method: string; path: string } }[] }>;
}

const readServerless = (): ServerlessFile =>
  parse(readFileSync(fileURLToPath(new URL('../serverless.yml', import.meta.url)), 'utf8')) as ServerlessFile;

export const routesFromServerlessYml = (): Route[] =>
  Object.entries(readServerless().functions).flatMap(([functionName, definition]) =>
    (definition.events ?? []).flatMap((event) => {
      if (!event.httpApi) return [];
      const { method, path } = event.httpApi;
      const parameterNames: string[] = [];
      const source = path.replace(/\{([^}]+)\}/g, (_match, name: string) => {
        parameterNames.push(name);
        return '([^/]+)';
      });
      return [
        {
          functionName,
          routeKey: `${method.toUpperCase()} ${path}`,
          method: method.toUpperCase(),
          pattern: new RegExp(`^${source}$`),
          parameterNames,
        },
      ];
    }),
  );

export const functionTimeoutMs = (functionName: string): number =>
  (readServerless().functions[functionName]?.timeout ?? 6) * 1000;

/** Stops reading past this: API Gateway refuses payloads over 10 MB. */
const GATEWAY_MAX_BYTES = 10 * 1024 * 1024;
/** API Gateway HTTP API quota: the request line and header values together are at most 10,240 bytes (431 above). */
const GATEWAY_MAX_HEADER_BYTES = 10_240;
/**
 * Slow or stalled clients (slowloris) are dropped with a 408: headers must arrive within
 * 10 s, the whole request within 30 s (API Gateway's own integration timeout is 30 s).
 */
export const DEFAULT_HEADERS_TIMEOUT_MS = 10_000;
export const DEFAULT_REQUEST_TIMEOUT_MS = 30_000;

export interface GatewayOptions {
  port?: number;
  host?: string;
  /** How long a client may take to send its headers (default 10 s). */
  headersTimeoutMs?: number;
  /** How long a client may take to send its whole request, body included (default 30 s; at least headersTimeoutMs). */
  requestTimeoutMs?: number;
}

/** Every answer of the gateway itself is in the service's error shape, `{message, errors}`. */
const gatewayError = (message: string, detail: string) => JSON.stringify({ message, errors: [detail] });

/** The client went away (or was dropped) before its body was read whole: nothing to answer. */
class ClientGoneError extends Error {
  constructor(reason: string) {
    super(reason);
    this.name = 'ClientGoneError';
  }
}

const readBody = (request: IncomingMessage): Promise<Buffer | 'too-large'> =>
  new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    request.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size <= GATEWAY_MAX_BYTES) chunks.push(chunk);
    });
    request.on('end', () => resolve(size > GATEWAY_MAX_BYTES ? 'too-large' : Buffer.concat(chunks)));
    // 'aborted' (a client that disconnects mid-upload) arrives as an error: the request is dropped, not the gateway.
    request.on('error', (error) => reject(new ClientGoneError(error.message)));
    request.on('close', () => {
      if (!request.complete) reject(new ClientGoneError('closed before the body was complete'));
    });
  });

/** Path parameters as API Gateway passes them: percent-decoded; undefined if an escape is malformed (API Gateway answers those 400). */
const decodePathParameters = (route: Route, match: RegExpExecArray): Record<string, string> | undefined => {
  const decoded: Record<string, string> = {};
  for (const [index, name] of route.parameterNames.entries()) {
    try {
      decoded[name] = decodeURIComponent(match[index + 1]!);
    } catch {
      return undefined;
    }
  }
  return decoded;
};

export const startGateway = async (
  handlers: Record<string, HttpHandler>,
  options: GatewayOptions = {},
): Promise<{ url: string; server: Server; stop(): Promise<void> }> => {
  const routes = routesFromServerlessYml();
  const timeouts = new Map(routes.map((route) => [route.functionName, functionTimeoutMs(route.functionName)]));
  const headersTimeout = options.headersTimeoutMs ?? DEFAULT_HEADERS_TIMEOUT_MS;
  const requestTimeout = Math.max(options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS, headersTimeout);

  const serve = async (request: IncomingMessage, response: ServerResponse) => {
    const method = (request.method ?? 'GET').toUpperCase();
    const send = (status: number, body: string | Buffer, headers: Record<string, string | number | boolean> = {}) => {
      if (response.headersSent || response.destroyed) return;
      response.writeHead(status, {
        'content-type': 'application/json',
        ...Object.fromEntries(Object.entries(headers).map(([k, v]) => [k, String(v)])),
      });
      response.end(body);
    };
    let url: URL;
    try {
      // The target as sent: `//campaigns` is the path `//campaigns` (as API Gateway takes it), not a
      // scheme-relative URL of the host "campaigns" (which `new URL(target, base)` would make it, landing on `/`).
      const target = request.url ?? '/';
      url = new URL(target.startsWith('/') ? `http://localhost${target}` : target);
    } catch {
      return send(400, gatewayError('Bad Request', 'the request target is not a valid URL'));
    }
    // As API Gateway picks among routes that match: the most specific, literal segments before
    // parameters (`/cohorts/partners` before `/cohorts/{partner}`), whatever serverless.yml's order.
    const route = routes
      .filter((candidate) => candidate.method === method && candidate.pattern.test(url.pathname))
      .sort((a, b) => a.parameterNames.length - b.parameterNames.length)[0];
    if (!route) return send(404, gatewayError('Not Found', `no route ${method} ${url.pathname}`));
    const handler = handlers[route.functionName];
    if (!handler)
      return send(
        502,
        gatewayError(`No local handler for ${route.functionName}`, 'the local stack runs no handler for this function'),
      );
    const match = route.pattern.exec(url.pathname)!;
    const pathParameters = decodePathParameters(route, match);
    if (!pathParameters)
      return send(
        400,
        gatewayError('Bad Request', 'a path parameter has a malformed percent-escape (not %XX, or not UTF-8)'),
      );
    const body = await readBody(request);
    if (body === 'too-large')
      return send(413, gatewayError('Request Entity Too Large', `at most ${GATEWAY_MAX_BYTES} bytes`));
    const requestId = randomUUID();
    const headers = Object.fromEntries(
      Object.entries(request.headers).map(([name, value]) => [
        name.toLowerCase(),
        Array.isArray(value) ? value.join(',') : (value ?? ''),
      ]),
    );
    const now = new Date();
    const event: APIGatewayProxyEventV2 = {
      version: '2.0',
      routeKey: route.routeKey,
      rawPath: url.pathname,
      rawQueryString: url.search.replace(/^\?/, ''),
      headers,
      // As API Gateway's payload 2.0 gives them: a parameter sent twice is its values joined by commas.
      queryStringParameters:
        url.searchParams.size > 0
          ? Object.fromEntries(
              [...new Set(url.searchParams.keys())].map((name) => [name, url.searchParams.getAll(name).join(',')]),
            )
          : undefined,
      pathParameters,
      body: body.length > 0 ? body.toString('base64') : undefined,
      isBase64Encoded: body.length > 0,
      requestContext: {
        accountId: '000000000000',
        apiId: 'local',
        domainName: url.host,
        domainPrefix: 'local',
        http: {
          method,
          path: url.pathname,
          protocol: 'HTTP/1.1',
          sourceIp: request.socket.remoteAddress ?? '127.0.0.1',
          userAgent: headers['user-agent'] ?? '',
        },
        requestId,
        routeKey: route.routeKey,
        stage: '$default',
        time: now.toUTCString(),
        timeEpoch: now.getTime(),
      },
    };
    try {
      const result = await handler(event, lambdaContext(route.functionName, timeouts.get(route.functionName) ?? 6_000));
      // A binary or compressed answer (the console's files) comes base64-encoded, as Lambda returns it to API Gateway.
      const payload =
        typeof result.body !== 'string'
          ? ''
          : result.isBase64Encoded
            ? Buffer.from(result.body, 'base64')
            : result.body;
      send(result.statusCode ?? 200, payload, {
        ...(result.headers ?? {}),
        'apigw-requestid': requestId,
      });
    } catch (error: unknown) {
      // What API Gateway answers when the integration fails.
      console.error(`[gateway] ${route.functionName} failed:`, error);
      send(500, JSON.stringify({ message: 'Internal Server Error' }));
    }
  };

  const server = createServer(
    {
      maxHeaderSize: GATEWAY_MAX_HEADER_BYTES,
      headersTimeout,
      requestTimeout,
      // How often Node looks for requests past those timeouts (its default, 30 s, would let a slow client stay that long).
      connectionsCheckingInterval: Math.min(1_000, headersTimeout),
    },
    (request, response) => {
      // Nothing a client sends may stop the gateway: whatever fails here fails this request only.
      serve(request, response).catch((error: unknown) => {
        if (error instanceof ClientGoneError) return response.destroy();
        console.error('[gateway] request failed:', error);
        if (!response.headersSent && !response.destroyed) {
          response.writeHead(500, { 'content-type': 'application/json' });
          response.end(JSON.stringify({ message: 'Internal Server Error' }));
        } else response.destroy();
      });
    },
  );
  // Requests Node's parser refuses before any handler sees them: malformed, headers too large, too slow.
  server.on('clientError', (error: NodeJS.ErrnoException, socket: Duplex) => {
    const answered = (socket as Duplex & { _httpMessage?: ServerResponse })._httpMessage?.headersSent ?? false;
    if (error.code === 'ECONNRESET' || !socket.writable || answered) return socket.destroy();
    const [status, message, detail] =
      error.code === 'HPE_HEADER_OVERFLOW'
        ? [
            431,
            'Request Header Fields Too Large',
            `the request line and headers are at most ${GATEWAY_MAX_HEADER_BYTES} bytes`,
          ]
        : error.code === 'ERR_HTTP_REQUEST_TIMEOUT'
          ? [
              408,
              'Request Timeout',
              `headers must arrive within ${headersTimeout} ms and the whole request within ${requestTimeout} ms`,
            ]
          : [400, 'Bad Request', 'the request is not valid HTTP/1.1'];
    const body = gatewayError(message, detail);
    socket.end(
      `HTTP/1.1 ${status} ${message}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
    );
  });
  await new Promise<void>((resolve) => server.listen(options.port ?? 0, options.host ?? '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : options.port;
  return {
    url: `http://${options.host ?? '127.0.0.1'}:${port}`,
    server,
    stop: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
};
