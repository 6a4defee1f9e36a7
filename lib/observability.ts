import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
// Types only: the Tracer module pulls in the X-Ray SDK (~50 ms of cold start), so it is
// imported at run time only when tracing is on (createObservability).
import type { Tracer } from '@aws-lambda-powertools/tracer';
import { captureLambdaHandler } from '@aws-lambda-powertools/tracer/middleware';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import middy, { type MiddlewareObj } from '@middy/core';

export const METRICS_NAMESPACE = 'HeapBrazeCohortImport';

export interface Observability {
  logger: Logger;
  metrics: Metrics;
  /** Present only when tracing is on (isTracingEnabled): use traceHandler and traceClient rather than this. */
  tracer?: Tracer;
}

/**
 * Powertools Tracer's own rule: tracing is on in a Lambda execution environment
 * (AWS_EXECUTION_ENV; not SAM local, not the Amplify mock) unless
 * POWERTOOLS_TRACE_ENABLED is `false`. `_X_AMZN_TRACE_ID` cannot decide it at cold start:
 * the runtime sets it per invocation, after the module is loaded.
 */
export const isTracingEnabled = (env: NodeJS.ProcessEnv = process.env): boolean => {
  if (env.POWERTOOLS_TRACE_ENABLED?.toLowerCase() === 'false') return false;
  const executionEnv = env.AWS_EXECUTION_ENV ?? '';
  return executionEnv !== '' && executionEnv !== 'AWS_Lambda_amplify-mock' && (env.AWS_SAM_LOCAL ?? '') === '';
};

/**
 * One set per function, created at cold start. Level, sampling and so on come from
 * POWERTOOLS_* variables. The X-Ray SDK is loaded only when tracing is on.
 */
export const createObservability = async (
  serviceName: string,
  env: NodeJS.ProcessEnv = process.env,
): Promise<Observability> => {
  const logger = new Logger({ serviceName });
  // Metrics' own logger at ERROR: most invocations (a tick, a batch of no-ops) add no metric, and Powertools
  // warns "No application metrics to publish" at every one of them, in CloudWatch as on `npm start`.
  const metrics = new Metrics({
    namespace: METRICS_NAMESPACE,
    serviceName,
    logger: logger.createChild({ logLevel: 'ERROR' }),
  });
  if (!isTracingEnabled(env)) return { logger, metrics };
  const { Tracer } = await import('@aws-lambda-powertools/tracer');
  return { logger, metrics, tracer: new Tracer({ serviceName }) };
};

/**
 * Middleware for `.use()`: the handler's segment (Powertools captureLambdaHandler) when
 * tracing is on, none otherwise (middy takes a list, and refuses an empty middleware).
 */
export const traceHandler = (observability: Observability): MiddlewareObj[] =>
  observability.tracer ? [captureLambdaHandler(observability.tracer) as MiddlewareObj] : [];

/** An AWS SDK v3 client whose calls become subsegments when tracing is on; the client itself otherwise. */
export const traceClient = <Client>(observability: Observability, client: Client): Client =>
  observability.tracer ? observability.tracer.captureAWSv3Client(client) : client;

/**
 * The middy chain every function starts from: the handler's trace segment (when tracing
 * is on), the Lambda context on every log line with the keys an invocation appended reset
 * before the next, and the invocation's metrics flushed at its end (also when it throws).
 * A function adds its own middleware and `.handler()`.
 */
export const observedHandler = <Event, Result>(observability: Observability, plugin?: middy.PluginObject) =>
  middy<Event, Result>(plugin)
    .use(traceHandler(observability))
    .use(injectLambdaContext(observability.logger, { resetKeys: true }))
    .use(logMetrics(observability.metrics));
