/**
 * The benches' cost per million changes (bench/lib/pricing.ts) against hand arithmetic, line
 * by line: every unit AWS bills, the events function, logs and traces included.
 */
import { describe, expect, it } from 'vitest';
import { costPerMillionChanges, LOG_BYTES, PRICES, TRACED_SHARE } from '../../bench/lib/pricing.js';

const inputs = {
  identifiersPerRequest: 1_000,
  messageBytes: 30_000,
  recordsPerBatch: 10,
  ingestMs: 12,
  ingestMemoryGb: 0.5,
  syncMsPerRequest: 1_000,
  syncMemoryGb: 1,
  syncWriteUnitsPer1000: 2_024,
  syncReadUnitsPer1000: 1_500,
  ingestReadUnits: 0,
  ingestWriteUnits: 0.01,
  snsRequestsPer1000: 101,
  eventsInvocationsPer1000: 10,
  eventsMsPer1000: 2_000,
  eventsMemoryGb: 0.5,
};

describe('costPerMillionChanges', () => {
  it('prices every line from its inputs: 1,000 requests, 100 sync and 10,000 events invocations', () => {
    const cost = costPerMillionChanges(inputs);

    expect(cost.apiGateway).toBeCloseTo(1_000 * PRICES.httpApiRequest, 10);
    expect(cost.lambdaIngest).toBeCloseTo(1_000 * (PRICES.lambdaRequest + 0.012 * 0.5 * PRICES.lambdaGbSecond), 10);
    expect(cost.lambdaSync).toBeCloseTo(100 * PRICES.lambdaRequest + 1_000 * 1 * 1 * PRICES.lambdaGbSecond, 10);
    // 10,000 invocations; 2 s per 1,000 changes → 2,000 s at 0.5 GB.
    expect(cost.lambdaEvents).toBeCloseTo(10_000 * PRICES.lambdaRequest + 2_000 * 0.5 * PRICES.lambdaGbSecond, 10);
    expect(cost.sqs).toBeCloseTo((1_000 + 200) * PRICES.sqsRequest, 10);
    expect(cost.dynamodb).toBeCloseTo(
      1_000 * (2_024 * PRICES.dynamoWriteUnit + 1_500 * PRICES.dynamoReadUnit) + 1_000 * 0.01 * PRICES.dynamoWriteUnit,
      10,
    );
    expect(cost.sns).toBeCloseTo(101_000 * PRICES.snsRequest, 10);
    const invocations = 1_000 + 100 + 10_000;
    const logBytes =
      1_000 * (LOG_BYTES.ingestLine + LOG_BYTES.syncLine) +
      invocations * (LOG_BYTES.platformLines + LOG_BYTES.metricsBlob);
    expect(cost.logs).toBeCloseTo((logBytes / 1e9) * PRICES.logsIngestedGb, 10);
    expect(cost.traces).toBeCloseTo(invocations * TRACED_SHARE * PRICES.xrayTrace, 10);
    const lines = [
      cost.apiGateway,
      cost.lambdaIngest,
      cost.lambdaSync,
      cost.lambdaEvents,
      cost.sqs,
      cost.dynamodb,
      cost.sns,
      cost.logs,
      cost.traces,
    ];
    expect(cost.total).toBeCloseTo(
      lines.reduce((sum, line) => sum + line, 0),
      12,
    );
  });

  it('bills a message over 64 KB as one SQS request per 64 KB chunk', () => {
    const small = costPerMillionChanges(inputs);
    const large = costPerMillionChanges({ ...inputs, messageBytes: 65_537 });
    expect(large.sqs - small.sqs).toBeCloseTo(1_000 * PRICES.sqsRequest, 10);
  });
});
