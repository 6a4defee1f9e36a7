import { afterEach, describe, expect, it, vi } from 'vitest';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import {
  createObservability,
  isTracingEnabled,
  observedHandler,
  traceClient,
  traceHandler,
} from '../../lib/observability.js';
import { lambdaContext } from '../../local/lambda-context.js';

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

describe('the chain every function starts from', () => {
  afterEach(() => {
    vi.unstubAllEnvs();
    vi.restoreAllMocks();
  });

  it('logs with the Lambda context, forgets the keys of one invocation before the next, and flushes its metrics', async () => {
    // Prepare: log lines at INFO, captured where the Logger writes them.
    vi.stubEnv('POWERTOOLS_LOG_LEVEL', 'INFO');
    const lines: Record<string, unknown>[] = [];
    vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
      lines.push(JSON.parse(String(chunk)) as Record<string, unknown>);
      return true;
    });
    const observability = await createObservability('chain-test', { POWERTOOLS_TRACE_ENABLED: 'false' });
    const handler = observedHandler<{ workspaceId?: string }, boolean>(observability).handler(async (event) => {
      if (event.workspaceId) observability.logger.appendKeys({ workspaceId: event.workspaceId });
      observability.logger.info('handled');
      observability.metrics.addMetric('handled', MetricUnit.Count, 1);
      return observability.metrics.hasStoredMetrics();
    });

    // Act
    const storedDuring = await handler({ workspaceId: 'ws-1' }, lambdaContext('chain-test', 1_000));
    await handler({}, lambdaContext('chain-test', 1_000));

    // Assess
    const handled = lines.filter((line) => line.message === 'handled');
    expect(handled).toHaveLength(2);
    expect(handled[0]).toMatchObject({ workspaceId: 'ws-1', function_name: 'chain-test' });
    expect(handled[1]).not.toHaveProperty('workspaceId');
    expect(storedDuring).toBe(true);
    expect(observability.metrics.hasStoredMetrics()).toBe(false);
  });
});
