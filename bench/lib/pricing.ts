/**
 * AWS list prices (us-east-1, on-demand, as published in 2025; check
 * aws.amazon.com/{lambda,sqs,dynamodb,api-gateway}/pricing before relying on them).
 * Free tiers are ignored: this is the marginal cost.
 */
export const PRICES = {
  region: 'us-east-1',
  /** Lambda on arm64 (Graviton), per GB-second and per request. */
  lambdaGbSecond: 0.0000133334,
  lambdaRequest: 0.2 / 1e6,
  /** SQS standard queue, per request (each 64 KB chunk of a payload is one request). */
  sqsRequest: 0.4 / 1e6,
  /** DynamoDB on-demand (price cut of November 2024): per write and read request unit. */
  dynamoWriteUnit: 0.625 / 1e6,
  dynamoReadUnit: 0.125 / 1e6,
  /** API Gateway HTTP API, per request (first 300 million a month). */
  httpApiRequest: 1.0 / 1e6,
  /**
   * SNS standard topic, per publish request (each 64 KB chunk of its payload is one
   * request); a PublishBatch of up to 10 messages is one request ("reduce the costs …
   * by a factor of up to 10", Amazon SNS Developer Guide, "Amazon SNS message batching").
   * Deliveries to SQS and Lambda subscribers are free.
   */
  snsRequest: 0.5 / 1e6,
  /** CloudWatch Logs, standard class: per GB ingested (Lambda's logs; storage at $0.03/GB-month is left out). */
  logsIngestedGb: 0.5,
  /** X-Ray, per trace recorded (Lambda active tracing, serverless.yml `tracing.lambda`). */
  xrayTrace: 5.0 / 1e6,
} as const;

/**
 * Bytes a function logs, measured from Powertools' own output (a sample of each line with a
 * Lambda context, in the shape the functions log at INFO, serverless.yml's level): the ingest
 * function's "cohort changes accepted" 431 B, the sync's "cohort changes synced" 704 B per
 * record, a metrics (EMF) blob 564 B per invocation; Lambda's START, END and REPORT lines
 * ≈ 400 B per invocation.
 */
export const LOG_BYTES = { ingestLine: 431, syncLine: 704, metricsBlob: 564, platformLines: 400 } as const;
/**
 * X-Ray's default sampling rule: the first request each second and 5% of the rest. The
 * reservoir's 1 a second is left out of a cost per change (it depends on how long the sync
 * runs: a 5-minute first sync adds ≤ 300 traces, $0.0015), so this is the 5%.
 */
export const TRACED_SHARE = 0.05;

/**
 * DynamoDB units per ingest request: credentials come from a per-instance cache (a warm
 * instance reads them once per 30 s) and the rate counter is claimed in blocks of up to 100
 * (one conditional UpdateItem per ~100 requests): measured 0.010 calls per request
 * (bench/ingest-cost.ts).
 */
export const INGEST_UNITS_PER_REQUEST = { read: 0, write: 0.01 } as const;

export interface CostInputs {
  identifiersPerRequest: number;
  messageBytes: number;
  recordsPerBatch: number;
  ingestMs: number;
  ingestMemoryGb: number;
  syncMsPerRequest: number;
  syncMemoryGb: number;
  /** Per 1,000 changes, measured in the sync. */
  syncWriteUnitsPer1000: number;
  syncReadUnitsPer1000: number;
  /** Per ingest request: credential reads and rate-counter writes (INGEST_UNITS_PER_REQUEST). */
  ingestReadUnits: number;
  ingestWriteUnits: number;
  /** Billed SNS publish requests (64 KB chunks of PublishBatch calls) per 1,000 changes. */
  snsRequestsPer1000: number;
  /** The events function (on the table's stream): invocations and their milliseconds per 1,000 changes, measured. */
  eventsInvocationsPer1000: number;
  eventsMsPer1000: number;
  eventsMemoryGb: number;
}

/** Dollars per million changes, by service; formula in docs/performance.md. */
export const costPerMillionChanges = (inputs: CostInputs) => {
  const requests = 1e6 / inputs.identifiersPerRequest;
  const invocations = requests / inputs.recordsPerBatch;
  const chunks = Math.max(1, Math.ceil(inputs.messageBytes / 65_536));
  const apiGateway = requests * PRICES.httpApiRequest;
  const lambdaIngest =
    requests * (PRICES.lambdaRequest + (inputs.ingestMs / 1000) * inputs.ingestMemoryGb * PRICES.lambdaGbSecond);
  const lambdaSync =
    invocations * PRICES.lambdaRequest +
    requests * (inputs.syncMsPerRequest / 1000) * inputs.syncMemoryGb * PRICES.lambdaGbSecond;
  // Send (per chunk), and the event source's receive and delete, one call per batch each.
  const sqs = (requests * chunks + invocations * 2) * PRICES.sqsRequest;
  const dynamodb =
    (1e6 / 1000) *
      (inputs.syncWriteUnitsPer1000 * PRICES.dynamoWriteUnit + inputs.syncReadUnitsPer1000 * PRICES.dynamoReadUnit) +
    requests * (inputs.ingestWriteUnits * PRICES.dynamoWriteUnit + inputs.ingestReadUnits * PRICES.dynamoReadUnit);
  const sns = (1e6 / 1000) * inputs.snsRequestsPer1000 * PRICES.snsRequest;
  const eventsInvocations = (1e6 / 1000) * inputs.eventsInvocationsPer1000;
  const lambdaEvents =
    eventsInvocations * PRICES.lambdaRequest +
    ((1e6 / 1000) * inputs.eventsMsPer1000 * inputs.eventsMemoryGb * PRICES.lambdaGbSecond) / 1000;
  // The stream's GetRecords calls by Lambda's event source mapping are free (DynamoDB pricing, "DynamoDB Streams").
  const allInvocations = requests + invocations + eventsInvocations;
  const logBytes =
    requests * (LOG_BYTES.ingestLine + LOG_BYTES.syncLine) +
    allInvocations * LOG_BYTES.platformLines +
    allInvocations * LOG_BYTES.metricsBlob;
  const logs = (logBytes / 1e9) * PRICES.logsIngestedGb;
  const traces = allInvocations * TRACED_SHARE * PRICES.xrayTrace;
  const total = apiGateway + lambdaIngest + lambdaSync + lambdaEvents + sqs + dynamodb + sns + logs + traces;
  return { apiGateway, lambdaIngest, lambdaSync, lambdaEvents, sqs, dynamodb, sns, logs, traces, total };
};
