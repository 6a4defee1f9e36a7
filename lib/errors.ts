/**
 * Errors a client may see. Each carries its HTTP status and the public message
 * (verbatim from the partner contract where the contract has one), plus optional
 * details for the `errors` array. `logMessage` is what goes to the logs when the
 * public message would leak a secret (the contract's "Partner not enabled" 401
 * echoes the client secret on the wire; our logs never do).
 */
export class ServiceError extends Error {
  readonly statusCode: number;
  readonly errors: string[];
  readonly logMessage: string;
  readonly headers: Record<string, string>;

  constructor(
    statusCode: number,
    message: string,
    options: { errors?: string[]; logMessage?: string; headers?: Record<string, string>; cause?: unknown } = {},
  ) {
    super(message, { cause: options.cause });
    this.name = 'ServiceError';
    this.statusCode = statusCode;
    this.errors = options.errors ?? [];
    this.logMessage = options.logMessage ?? message;
    this.headers = options.headers ?? {};
  }
}

/** A concurrent change won: nothing of this request was applied (read again, then retry). */
export class ConflictError extends ServiceError {
  constructor(message: string) {
    super(409, message);
    this.name = 'ConflictError';
  }
}

export class ValidationError extends ServiceError {
  constructor(message: string, errors: string[] = []) {
    super(400, message, { errors });
    this.name = 'ValidationError';
  }
}

export class AuthenticationError extends ServiceError {
  constructor(message: string, logMessage?: string) {
    super(401, message, { logMessage });
    this.name = 'AuthenticationError';
  }
}

export class NotFoundError extends ServiceError {
  constructor(message: string) {
    super(404, message);
    this.name = 'NotFoundError';
  }
}

export class PayloadTooLargeError extends ServiceError {
  constructor(message: string, errors: string[] = []) {
    super(413, message, { errors });
    this.name = 'PayloadTooLargeError';
  }
}

/** The queue (or another dependency) refused: the client should retry with backoff. */
export class ServiceUnavailableError extends ServiceError {
  constructor(message: string, cause?: unknown) {
    super(503, message, { cause, headers: { 'Retry-After': '1' } });
    this.name = 'ServiceUnavailableError';
  }
}

/** Work that could not finish because of load (e.g. keys DynamoDB kept answering unprocessed): worth retrying later. */
export class LoadError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'LoadError';
  }
}

/** A sync record still running when its function is about to time out. */
export class OutOfTimeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'OutOfTimeError';
  }
}

/** DynamoDB's answers that mean "more than the table serves": send less. */
const THROTTLE_ERROR_NAMES = new Set([
  'ProvisionedThroughputExceededException',
  'ThrottlingException',
  'RequestLimitExceeded',
]);
/**
 * DynamoDB's answers that mean "not now", not "this request is wrong": too much load, and
 * the server errors its API reference lists as retryable (InternalServerError: HTTP 500;
 * DynamoDB Local also answers it when a transaction waited too long for a lock under load,
 * "This request will succeed in actual DynamoDB API"), once the SDK's own retries are spent.
 */
const TRANSIENT_SERVER_ERROR_NAMES = new Set(['InternalServerError', 'ServiceUnavailable']);
const LOAD_ERROR_NAMES = new Set([
  ...THROTTLE_ERROR_NAMES,
  ...TRANSIENT_SERVER_ERROR_NAMES,
  'TransactionConflictException',
]);

/** A server error DynamoDB documents as retryable: whether the write happened is unknown. */
export const isTransientServerError = (error: unknown): boolean =>
  error instanceof Error && TRANSIENT_SERVER_ERROR_NAMES.has(error.name);
const LOAD_CANCELLATION_CODES = new Set([
  'TransactionConflict',
  'ThrottlingError',
  'ProvisionedThroughputExceeded',
  'None',
]);

/**
 * Whether DynamoDB refused for throughput (an exception, or a transaction cancelled because
 * an item was throttled): the signal to send less, where a conflict only means "not now".
 */
export const isThrottle = (error: unknown): boolean => {
  if (!(error instanceof Error)) return false;
  if (THROTTLE_ERROR_NAMES.has(error.name)) return true;
  if (error.name !== 'TransactionCanceledException') return false;
  const reasons = (error as { CancellationReasons?: { Code?: string }[] }).CancellationReasons ?? [];
  return reasons.some((reason) => reason.Code === 'ThrottlingError' || reason.Code === 'ProvisionedThroughputExceeded');
};

/**
 * Whether an error is load (throttling, transaction conflicts, running out of time)
 * rather than a defect of the work: load is worth retrying later, however many times.
 * A cancelled transaction is load only if no item's condition failed.
 */
export const isLoadError = (error: unknown): boolean => {
  if (!(error instanceof Error)) return false;
  if (error instanceof OutOfTimeError || error instanceof LoadError || LOAD_ERROR_NAMES.has(error.name)) return true;
  if (error.name !== 'TransactionCanceledException') return false;
  const reasons = (error as { CancellationReasons?: { Code?: string }[] }).CancellationReasons ?? [];
  return (
    reasons.some((reason) => reason.Code !== 'None') &&
    reasons.every((reason) => LOAD_CANCELLATION_CODES.has(reason.Code ?? 'None'))
  );
};
