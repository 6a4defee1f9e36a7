import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { Tracer } from '@aws-lambda-powertools/tracer';

export const METRICS_NAMESPACE = 'HeapBrazeCohortImport';

export interface Observability {
  logger: Logger;
  metrics: Metrics;
  tracer: Tracer;
}

/** One set per function, created at cold start. Level, sampling and so on come from POWERTOOLS_* variables. */
export const createObservability = (serviceName: string): Observability => {
  const logger = new Logger({ serviceName });
  return {
    logger,
    metrics: new Metrics({ namespace: METRICS_NAMESPACE, serviceName, logger }),
    tracer: new Tracer({ serviceName }),
  };
};
