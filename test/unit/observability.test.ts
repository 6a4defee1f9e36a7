import { afterEach, describe, expect, it, vi } from 'vitest';
import { createObservability, isTracingEnabled, traceClient, traceHandler } from '../../lib/observability.js';

describe('tracing', () => {
  afterEach(() => {
    vi.unstubAllEnvs();
  });

  it.each([
    ['on in Lambda', { AWS_EXECUTION_ENV: 'AWS_Lambda_nodejs22.x' }, true],
    [
      'off in Lambda with POWERTOOLS_TRACE_ENABLED=false',
      { AWS_EXECUTION_ENV: 'AWS_Lambda_nodejs22.x', POWERTOOLS_TRACE_ENABLED: 'false' },
      false,
    ],
    ['off outside Lambda', {}, false],
    ['off outside Lambda even if asked for', { POWERTOOLS_TRACE_ENABLED: 'true' }, false],
    ['off under SAM local', { AWS_EXECUTION_ENV: 'AWS_Lambda_nodejs22.x', AWS_SAM_LOCAL: 'true' }, false],
    ['off under the Amplify mock', { AWS_EXECUTION_ENV: 'AWS_Lambda_amplify-mock' }, false],
  ])('is %s', (_case, env, enabled) => {
    expect(isTracingEnabled(env)).toBe(enabled);
  });

  it('loads no tracer when tracing is off: no middleware, clients untouched', async () => {
    // Act
    const observability = await createObservability('test', { POWERTOOLS_TRACE_ENABLED: 'false' });
    const client = { send: () => undefined };

    // Assess
    expect(observability.tracer).toBeUndefined();
    expect(traceHandler(observability)).toEqual([]);
    expect(traceClient(observability, client)).toBe(client);
  });

  it('loads Powertools Tracer when tracing is on, and traces the handler', async () => {
    // Prepare: as in Lambda (the Tracer reads the environment itself).
    vi.stubEnv('AWS_EXECUTION_ENV', 'AWS_Lambda_nodejs22.x');
    vi.stubEnv('POWERTOOLS_TRACE_ENABLED', 'true');

    // Act
    const observability = await createObservability('test');

    // Assess
    expect(observability.tracer?.isTracingEnabled()).toBe(true);
    expect(traceHandler(observability)).toEqual([
      expect.objectContaining({ before: expect.any(Function), after: expect.any(Function) }),
    ]);
  });
});
