/**
 * A local stand-in for API Gateway HTTP API (payload 2.0): routes come from
 * serverless.yml's `httpApi` events, requests become v2 events for the same handlers
 * that run in Lambda.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';
import { lambdaContext } from './lambda-context.js';

export type HttpHandler = (event: APIGatewayProxyEventV2, context: Context) => Promise<APIGatewayProxyStructuredResultV2>;

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
  parse(readFileSync(fileURLToPath(new URL('../../serverless.yml', import.meta.url)), 'utf8')) as ServerlessFile;

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
      return [{ functionName, routeKey: `${method.toUpperCase()} ${path}`, method: method.toUpperCase(), pattern: new RegExp(`^${source}$`), parameterNames }];
    }),
  );

export const functionTimeoutMs = (functionName: string): number => (readServerless().functions[functionName]?.timeout ?? 6) * 1000;

/** Stops reading past this: API Gateway refuses payloads over 10 MB. */
const GATEWAY_MAX_BYTES = 10 * 1024 * 1024;

const readBody = (request: IncomingMessage): Promise<Buffer | 'too-large'> =>
  new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    request.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size <= GATEWAY_MAX_BYTES) chunks.push(chunk);
    });
    request.on('end', () => resolve(size > GATEWAY_MAX_BYTES ? 'too-large' : Buffer.concat(chunks)));
    request.on('error', reject);
  });

export const startGateway = async (
  handlers: Record<string, HttpHandler>,
  options: { port?: number; host?: string } = {},
): Promise<{ url: string; server: Server; stop(): Promise<void> }> => {
  const routes = routesFromServerlessYml();
  const timeouts = new Map(routes.map((route) => [route.functionName, functionTimeoutMs(route.functionName)]));
  const server = createServer(async (request, response) => {
    const url = new URL(request.url ?? '/', 'http://localhost');
    const method = (request.method ?? 'GET').toUpperCase();
    const send = (status: number, body: string, headers: Record<string, string | number | boolean> = {}) => {
      response.writeHead(status, { 'content-type': 'application/json', ...Object.fromEntries(Object.entries(headers).map(([k, v]) => [k, String(v)])) });
      response.end(body);
    };
    const route = routes.find((candidate) => candidate.method === method && candidate.pattern.test(url.pathname));
    if (!route) return send(404, JSON.stringify({ message: 'Not Found' }));
    const handler = handlers[route.functionName];
    if (!handler) return send(502, JSON.stringify({ message: `No local handler for ${route.functionName}` }));
    const body = await readBody(request);
    if (body === 'too-large') return send(413, JSON.stringify({ message: 'Request Entity Too Large' }));
    const match = route.pattern.exec(url.pathname)!;
    const requestId = randomUUID();
    const headers = Object.fromEntries(
      Object.entries(request.headers).map(([name, value]) => [name.toLowerCase(), Array.isArray(value) ? value.join(',') : (value ?? '')]),
    );
    const now = new Date();
    const event: APIGatewayProxyEventV2 = {
      version: '2.0',
      routeKey: route.routeKey,
      rawPath: url.pathname,
      rawQueryString: url.search.replace(/^\?/, ''),
      headers,
      queryStringParameters: url.searchParams.size > 0 ? Object.fromEntries(url.searchParams) : undefined,
      pathParameters: Object.fromEntries(route.parameterNames.map((name, index) => [name, decodeURIComponent(match[index + 1]!)])),
      body: body.length > 0 ? body.toString('base64') : undefined,
      isBase64Encoded: body.length > 0,
      requestContext: {
        accountId: '000000000000',
        apiId: 'local',
        domainName: url.host,
        domainPrefix: 'local',
        http: { method, path: url.pathname, protocol: 'HTTP/1.1', sourceIp: request.socket.remoteAddress ?? '127.0.0.1', userAgent: headers['user-agent'] ?? '' },
        requestId,
        routeKey: route.routeKey,
        stage: '$default',
        time: now.toUTCString(),
        timeEpoch: now.getTime(),
      },
    };
    try {
      const result = await handler(event, lambdaContext(route.functionName, timeouts.get(route.functionName) ?? 6_000));
      send(result.statusCode ?? 200, typeof result.body === 'string' ? result.body : '', { ...(result.headers ?? {}), 'apigw-requestid': requestId });
    } catch (error: unknown) {
      // What API Gateway answers when the integration fails.
      console.error(`[gateway] ${route.functionName} failed:`, error);
      send(500, JSON.stringify({ message: 'Internal Server Error' }));
    }
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
