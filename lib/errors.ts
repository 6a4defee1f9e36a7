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
