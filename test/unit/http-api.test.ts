/**
 * The HTTP chain's routing and its one error handler (lib/http/api.ts), in-process: the
 * route by method and path, API Gateway's decoded path parameters, and every failure in
 * the `{message, errors}` shape.
 */
import { describe, expect, it } from 'vitest';
import { ServiceUnavailableError } from '../../lib/errors.js';
import { httpApi, json, type JsonRoute } from '../../lib/http/api.js';
import { lambdaContext } from '../../local/lambda-context.js';
import { createObservability } from '../../lib/observability.js';
import { context, httpEvent } from '../support/events.js';

const api = async () => {
  const seen: unknown[] = [];
  const routes: JsonRoute[] = [
    { method: 'GET', path: '/segments', handle: async () => json(200, { route: 'list' }) },
    {
      method: 'GET',
      path: '/segments/{segment_id}',
      handle: async (request) => {
        seen.push(request.pathParameters);
        return json(200, { route: 'one' });
      },
    },
    {
      method: 'POST',
      path: '/segments/{segment_id}',
      handle: async () => {
        throw new ServiceUnavailableError('try again');
      },
    },
    {
      method: 'DELETE',
      path: '/segments/{segment_id}',
      handle: async () => {
        throw new Error('secret internals');
      },
    },
  ];
  return {
    handler: httpApi(await createObservability('http-test', { POWERTOOLS_TRACE_ENABLED: 'false' }), routes),
    seen,
  };
};

const call = async (handler: Awaited<ReturnType<typeof api>>['handler'], event: ReturnType<typeof httpEvent>) => {
  const result = await handler(event, context('http-test'));
  return { ...result, body: JSON.parse(result.body ?? 'null') as unknown };
};

describe('the HTTP chain', () => {
  it('routes by method and path, with the path parameters API Gateway decoded', async () => {
    // Prepare
    const { handler, seen } = await api();
    const event = httpEvent('GET /segments/{segment_id}', undefined, { pathParameters: { segment_id: 'a/b c' } });
    event.rawPath = event.requestContext.http.path = '/segments/a%2Fb%20c';

    // Act
    const one = await call(handler, event);
    const list = await call(handler, httpEvent('GET /segments', undefined));

    // Assess
    expect([one.statusCode, one.body, list.body]).toEqual([200, { route: 'one' }, { route: 'list' }]);
    expect(seen).toEqual([{ segment_id: 'a/b c' }]);
  });

  it('answers a route it does not have, a client error and a defect in the error shape', async () => {
    // Prepare
    const { handler } = await api();

    // Act
    const missing = await call(
      handler,
      httpEvent('PUT /segments/{segment_id}', undefined, { pathParameters: { segment_id: 's' } }),
    );
    const unavailable = await call(
      handler,
      httpEvent('POST /segments/{segment_id}', '{}', { pathParameters: { segment_id: 's' } }),
    );
    const defect = await call(
      handler,
      httpEvent('DELETE /segments/{segment_id}', undefined, { pathParameters: { segment_id: 's' } }),
    );

    // Assess
    expect(missing).toMatchObject({
      statusCode: 404,
      body: { message: 'No route PUT /segments/{segment_id}', errors: [] },
    });
    expect(unavailable).toMatchObject({
      statusCode: 503,
      body: { message: 'try again', errors: [] },
      headers: expect.objectContaining({ 'Retry-After': '1', 'content-type': 'application/json' }),
    });
    expect(defect).toMatchObject({ statusCode: 500, body: { message: 'Internal server error', errors: [] } });
    expect(JSON.stringify(defect)).not.toContain('secret');
  });
});

describe('a request that runs out of time', () => {
  it('answers 503 with Retry-After before the function times out, where the timeout would be a 500', async () => {
    // Prepare: a route that never finishes, in a function with 700 ms left.
    const handler = httpApi(await createObservability('http-test', { POWERTOOLS_TRACE_ENABLED: 'false' }), [
      { method: 'GET', path: '/slow', handle: () => new Promise<never>(() => undefined) },
    ]);

    // Act
    const result = await handler(httpEvent('GET /slow', undefined), lambdaContext('http-test', 700));

    // Assess
    expect(result.statusCode).toBe(503);
    expect(result.headers?.['retry-after']).toBe('2');
    expect(result.headers?.['Content-Security-Policy']).toBeDefined();
    expect(JSON.parse(result.body ?? '')).toEqual({ message: expect.stringContaining('ran out of time'), errors: [] });
  });
});
