import { describe, expect, it } from 'vitest';
import {
  ConditionalCheckFailedException,
  ProvisionedThroughputExceededException,
  TransactionCanceledException,
  TransactionConflictException,
} from '@aws-sdk/client-dynamodb';
import { isLoadError, isThrottle, LoadError, OutOfTimeError } from '../../lib/errors.js';

const metadata = { $metadata: {} };
const cancelled = (...codes: string[]) =>
  new TransactionCanceledException({
    message: 'cancelled',
    ...metadata,
    CancellationReasons: codes.map((Code) => ({ Code })),
  });

describe('isLoadError', () => {
  it('takes throttling, conflicts and running out of time for load', () => {
    expect(isLoadError(new ProvisionedThroughputExceededException({ message: 'x', ...metadata }))).toBe(true);
    expect(isLoadError(new TransactionConflictException({ message: 'x', ...metadata }))).toBe(true);
    expect(isLoadError(Object.assign(new Error('x'), { name: 'ThrottlingException' }))).toBe(true);
    expect(isLoadError(cancelled('None', 'TransactionConflict', 'None'))).toBe(true);
    expect(isLoadError(cancelled('ThrottlingError', 'None'))).toBe(true);
    expect(isLoadError(new OutOfTimeError('late'))).toBe(true);
    expect(isLoadError(new LoadError('keys still unprocessed'))).toBe(true);
    // Server errors DynamoDB documents as retryable (and DynamoDB Local's lock-wait timeout).
    expect(isLoadError(Object.assign(new Error('lock'), { name: 'InternalServerError' }))).toBe(true);
  });

  it('does not take a failed condition, a validation error or a plain error for load', () => {
    expect(isLoadError(cancelled('ConditionalCheckFailed', 'TransactionConflict'))).toBe(false);
    expect(isLoadError(cancelled('ValidationError'))).toBe(false);
    expect(isLoadError(cancelled('None'))).toBe(false);
    expect(isLoadError(new ConditionalCheckFailedException({ message: 'x', ...metadata }))).toBe(false);
    expect(isLoadError(new Error('boom'))).toBe(false);
    expect(isLoadError('a string')).toBe(false);
  });
});

describe('isThrottle (the signal the sync sends less on)', () => {
  it('takes throughput refusals, alone or as a transaction cancellation reason', () => {
    expect(isThrottle(new ProvisionedThroughputExceededException({ message: 'x', ...metadata }))).toBe(true);
    expect(isThrottle(Object.assign(new Error('x'), { name: 'ThrottlingException' }))).toBe(true);
    expect(isThrottle(cancelled('None', 'ThrottlingError'))).toBe(true);
    expect(isThrottle(cancelled('ProvisionedThroughputExceeded'))).toBe(true);
  });

  it('does not take a conflict, a failed condition or anything else for throttling', () => {
    expect(isThrottle(new TransactionConflictException({ message: 'x', ...metadata }))).toBe(false);
    expect(isThrottle(cancelled('None', 'TransactionConflict'))).toBe(false);
    expect(isThrottle(cancelled('ConditionalCheckFailed'))).toBe(false);
    expect(isThrottle(new OutOfTimeError('late'))).toBe(false);
    expect(isThrottle('a string')).toBe(false);
  });
});
