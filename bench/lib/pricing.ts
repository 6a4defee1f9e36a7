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
} as const;

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
  const total = apiGateway + lambdaIngest + lambdaSync + sqs + dynamodb + sns;
  return { apiGateway, lambdaIngest, lambdaSync, sqs, dynamodb, sns, total };
};
