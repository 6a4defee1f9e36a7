/**
 * The HTTP chain shared by the API Gateway functions: middy with Powertools
 * (logger, tracer, metrics), header normalization, routing by method and path (middy's
 * http-router), a JSON body reader that answers in the contract's error shape, and one
 * error handler that never leaks internals.
 */
import httpHeaderNormalizer from '@middy/http-header-normalizer';
import httpRouterHandler from '@middy/http-router';
import httpSecurityHeaders from '@middy/http-security-headers';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';
import { isLoadError, NotFoundError, PayloadTooLargeError, ServiceError, ValidationError } from '../errors.js';
import { observedHandler, type Observability } from '../observability.js';
import { MAX_JSON_DEPTH, nestsDeeperThan, pathParameterProblems } from './limits.js';
import { firstMalformedString, isWellFormedUnicode } from '../unicode.js';

/** Product decision: request bodies up to 1 MiB (a full 1,000-identifier request is far smaller). */
/** How long before the function's timeout a request still running answers 503 instead (lib/http/api.ts). */
export const TIMEOUT_ANSWER_MARGIN_MS = 500;

export const MAX_BODY_BYTES = 1_048_576;

export interface JsonRequest {
  routeKey: string;
  requestId: string;
  pathParameters: Record<string, string | undefined>;
  queryStringParameters: Record<string, string | undefined>;
  headers: Record<string, string | undefined>;
  /** The parsed JSON body; `undefined` when the request has none. */
  body: unknown;
}

export interface JsonResponse {
  statusCode: number;
  body: unknown;
  headers?: Record<string, string>;
  /** A body that is not JSON (the console's files, an export's NDJSON), sent as it is. */
  raw?: { body: string; isBase64Encoded: boolean };
}

export const json = (statusCode: number, body: unknown, headers: Record<string, string> = {}): JsonResponse => ({
  statusCode,
  body,
  headers,
});

/** RFC 8259 §8.1: JSON text exchanged between systems is UTF-8; bytes that are not UTF-8 are refused, not replaced by U+FFFD. */
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

const NOT_JSON = 'Request body must be valid JSON';

export const readJsonBody = (event: Pick<APIGatewayProxyEventV2, 'body' | 'isBase64Encoded'>): unknown => {
  if (event.body === undefined || event.body === null || event.body === '') return undefined;
  if (!event.isBase64Encoded && !isWellFormedUnicode(event.body)) {
    throw new ValidationError(NOT_JSON, ['the body is not valid UTF-8 (RFC 8259 §8.1): it has a lone surrogate']);
  }
  const raw = event.isBase64Encoded ? Buffer.from(event.body, 'base64') : Buffer.from(event.body, 'utf8');
  if (raw.byteLength > MAX_BODY_BYTES) {
    throw new PayloadTooLargeError('Request body too large', [
      `the body is ${raw.byteLength} bytes; at most ${MAX_BODY_BYTES} are accepted`,
    ]);
  }
  let text: string;
  try {
    text = utf8.decode(raw);
  } catch {
    throw new ValidationError(NOT_JSON, ['the body is not valid UTF-8 (RFC 8259 §8.1)']);
  }
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch (error: unknown) {
    throw new ValidationError(NOT_JSON, [error instanceof Error ? error.message : 'unparseable body']);
  }
  // Before anything walks it recursively (validators, serializers).
  if (nestsDeeperThan(body, MAX_JSON_DEPTH)) {
    throw new ValidationError(`Request body nested deeper than ${MAX_JSON_DEPTH} levels`, [
      `arrays and objects nest at most ${MAX_JSON_DEPTH} levels`,
    ]);
  }
  return body;
};

/** Path parameters that no key can hold (too long) or no UTF-8 can carry: a 400 before anything looks them up. */
export const checkPathParameters = (pathParameters: Record<string, string | undefined>): void => {
  const problems = pathParameterProblems(pathParameters);
  if (problems.length > 0) throw new ValidationError(`Invalid path parameter: ${problems[0]}`, problems);
};

/**
 * Query parameters a route does not take: a 400 naming them and the ones it takes. A typo
 * (`?partnr=heap`) or a filter a list does not have (`/segments?partner=heap`) would otherwise
 * be ignored, and its answer would look like a filter that matched everything.
 */
export const checkQueryParameters = (
  query: Record<string, string | undefined>,
  accepted: readonly string[],
  routeKey: string,
): void => {
  const unknown = Object.keys(query).filter((name) => !accepted.includes(name));
  if (unknown.length === 0) return;
  const takes = accepted.length === 0 ? 'no query parameters' : accepted.map((name) => `\`${name}\``).join(', ');
  throw new ValidationError(
    `Unknown query parameter${unknown.length > 1 ? 's' : ''}: ${unknown.map((name) => `\`${name}\``).join(', ')}`,
    [...unknown.map((name) => `\`${name}\` is not a query parameter of ${routeKey}`), `${routeKey} takes ${takes}`],
  );
};

/** A body with a string (value or key) that UTF-8 cannot carry (a lone surrogate): a 400 naming where. */
export const rejectMalformedStrings = (body: unknown): void => {
  const where = firstMalformedString(body);
  if (where !== undefined) {
    throw new ValidationError(`Invalid request: ${where} is not well-formed Unicode`, [
      `${where} has a lone UTF-16 surrogate (\\ud800-\\udfff outside a pair): no UTF-8 encoding exists for it, so it cannot be stored`,
    ]);
  }
};

const statusClass = (statusCode: number) => `responses${Math.floor(statusCode / 100)}xx`;

const toResult = (response: JsonResponse): APIGatewayProxyStructuredResultV2 =>
  response.raw
    ? {
        statusCode: response.statusCode,
        headers: { ...response.headers },
        body: response.raw.body,
        isBase64Encoded: response.raw.isBase64Encoded,
      }
    : {
        statusCode: response.statusCode,
        headers: { 'content-type': 'application/json', ...response.headers },
        body: JSON.stringify(response.body),
      };

/**
 * The Content-Security-Policy of every answer (the console's page among them): scripts,
 * styles, images and requests from this origin only, no inline script or style, no
 * plugins, no framing, no form posting, and DOM sinks that take strings (innerHTML…)
 * refused outright (Trusted Types). Not middy's default: its `sandbox` would stop the
 * console's own script, and its `upgrade-insecure-requests` would send the local stack's
 * http requests to https (API Gateway serves only https on AWS, and
 * Strict-Transport-Security keeps browsers there).
 */
export /**
 * Every powerful feature off, but the clipboard write of the console's "Copy" button: only
 * features browsers recognise (middy's default list has proposals Chromium warns about on
 * every page load).
 */
const PERMISSIONS_POLICY = [
  ...[
    'accelerometer',
    'autoplay',
    'camera',
    'display-capture',
    'encrypted-media',
    'fullscreen',
    'geolocation',
    'gyroscope',
    'magnetometer',
    'microphone',
    'midi',
    'payment',
    'picture-in-picture',
    'publickey-credentials-get',
    'screen-wake-lock',
    'sync-xhr',
    'usb',
    'xr-spatial-tracking',
    'clipboard-read',
  ].map((feature) => `${feature}=()`),
  'clipboard-write=(self)',
].join(', ');

const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self'",
  "connect-src 'self'",
  "manifest-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
  "object-src 'none'",
  "require-trusted-types-for 'script'",
  "trusted-types 'none'",
].join('; ');

export type JsonHandler = (request: JsonRequest, context: Context) => Promise<JsonResponse>;

/** A route as serverless.yml declares it (`path` with `{name}` parameters), and what answers it. */
export interface JsonRoute {
  method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  path: string;
  handle: JsonHandler;
  /** The query parameters it takes (any other is a 400, checkQueryParameters); absent: not checked. */
  query?: readonly string[];
}

/** `POST /users/track`: how API Gateway names a route (its route key). */
export const routeKeyOf = (route: Pick<JsonRoute, 'method' | 'path'>): string => `${route.method} ${route.path}`;

const jsonRequest = (event: APIGatewayProxyEventV2, requestId: string): JsonRequest => ({
  routeKey: event.routeKey,
  requestId,
  pathParameters: event.pathParameters ?? {},
  queryStringParameters: event.queryStringParameters ?? {},
  headers: event.headers ?? {},
  body: readJsonBody(event),
});

/**
 * The one error handler of the HTTP functions: an error a client may see answers its
 * status, `{message, errors}` and headers; throttling answers 503 with Retry-After;
 * anything else is logged and answers a 500 that says nothing of it.
 */
const errorResponse = (error: unknown, logger: Observability['logger']): JsonResponse => {
  if (error instanceof ServiceError) {
    // Client errors are expected traffic: info, with the log-safe message only.
    const level = error.statusCode >= 500 ? 'warn' : 'info';
    logger[level]('request rejected', {
      statusCode: error.statusCode,
      reason: error.logMessage,
      errors: error.errors.slice(0, 5),
    });
    return json(error.statusCode, { message: error.message, errors: error.errors }, error.headers);
  }
  // DynamoDB throttling past the SDK's retries: nothing was applied (each write is whole or
  // nothing), so the client may simply retry.
  if (isLoadError(error)) {
    logger.warn('busy: throttled', { reason: error instanceof Error ? error.name : String(error) });
    return json(
      503,
      { message: 'The service is busy right now: retry in a few seconds', errors: [] },
      { 'Retry-After': '2' },
    );
  }
  logger.error('unexpected error', error instanceof Error ? error : String(error));
  return json(500, { message: 'Internal server error', errors: [] });
};

/**
 * The shared chain around a function's routes. API Gateway picks the function by the
 * same table (serverless.yml); middy's http-router picks the route within it by the
 * method and `requestContext.http.path` of the payload 2.0 event (the $default stage
 * serverless.yml deploys adds no prefix), keeping API Gateway's decoded path parameters.
 */
export const httpApi = (observability: Observability, routes: readonly JsonRoute[]) => {
  const { logger, metrics } = observability;
  const route = httpRouterHandler<APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2>({
    routes: routes.map(({ method, path, handle, query }) => ({
      method,
      path,
      handler: async (event: APIGatewayProxyEventV2, context: Context) => {
        const requestId = event.requestContext?.requestId ?? context.awsRequestId;
        if (query) checkQueryParameters(event.queryStringParameters ?? {}, query, routeKeyOf({ method, path }));
        return toResult(await handle(jsonRequest(event, requestId), context));
      },
    })),
    notFoundResponse: ({ method, path }) => {
      throw new NotFoundError(`No route ${method} ${path}`);
    },
  });

  const respond = async (
    event: APIGatewayProxyEventV2,
    context: Context,
  ): Promise<APIGatewayProxyStructuredResultV2> => {
    const requestId = event.requestContext?.requestId ?? context.awsRequestId;
    logger.appendKeys({ routeKey: event.routeKey, requestId });
    try {
      checkPathParameters(event.pathParameters ?? {});
      return await route(event, context);
    } catch (error: unknown) {
      return toResult(errorResponse(error, logger));
    }
  };

  return observedHandler<APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2>(observability, {
    // A request still running this close to the function's timeout answers 503 (retry later),
    // as load does, where the timeout would reach API Gateway as a function error (a 500).
    timeoutEarlyInMillis: TIMEOUT_ANSWER_MARGIN_MS,
    timeoutEarlyResponse: () => {
      metrics.addMetric(statusClass(503), MetricUnit.Count, 1);
      logger.warn('request ran out of time; answered 503');
      return {
        statusCode: 503,
        headers: {
          'content-type': 'application/json',
          'retry-after': '2',
          'Content-Security-Policy': CONTENT_SECURITY_POLICY,
          'Permissions-Policy': PERMISSIONS_POLICY,
        },
        body: JSON.stringify({
          message:
            'The service is busy: the request ran out of time before it finished. Retry after the Retry-After delay',
          errors: [],
        }),
      };
    },
  })
    .use(httpHeaderNormalizer())
    .use(
      httpSecurityHeaders({
        // Set below instead: middy's option cannot leave out its `sandbox` default.
        contentSecurityPolicy: false,
        // Set below: middy's default lists features browsers do not know (Chromium warns of each).
        permissionsPolicy: false,
      }),
    )
    .handler(async (event, context) => {
      const result = await respond(event, context);
      result.headers = {
        ...result.headers,
        'Content-Security-Policy': CONTENT_SECURITY_POLICY,
        'Permissions-Policy': PERMISSIONS_POLICY,
      };
      metrics.addMetric(statusClass(result.statusCode ?? 200), MetricUnit.Count, 1);
      return result;
    });
};
