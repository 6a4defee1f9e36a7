/**
 * The chaos soak's knobs and its result: the options a run takes, every rate, probability
 * and bound of the soak (each with why it is what it is), and the summary it returns.
 * Part of the chaos soak (test/support/soak.ts).
 */

export interface SoakOptions {
  /** The chaos lasts at least this long… */
  minutes: number;
  /**
   * …and until partners have had at least this many cohort deltas accepted (default 0), so
   * that a slower machine soaks as much work, not less, in a longer time.
   */
  minPartnerDeltas?: number;
  seed?: number;
  /** Reuse running emulators (the integration tests' shared ones); otherwise the stack starts its own. */
  sqsEndpoint?: string;
  dynamoDbEndpoint?: string;
  /** Progress lines while it runs (stderr in the script). */
  log?: (line: string) => void;
  /**
   * Let the stack's poller run its concurrent sync invocations on the stack's one sync
   * handler, as it does today. That loses failed records (the handler's Powertools
   * BatchProcessor is shared by concurrent invocations: one clears the failures another
   * has not reported yet, so they are deleted); by default the soak gives each concurrent
   * invocation a handler instance of its own, as each Lambda execution environment has.
   */
  sharedSyncHandler?: boolean;
}

/** Cohort pool per workspace: every user a delta may name. */
export const POOL_USERS = 240;
/** Every 3rd pool user has an alias (label `crm`), every 4th a device (which never matches: its user is identified). */
export const ALIAS_EVERY = 3;
export const DEVICE_EVERY = 4;
/** Local visibility timeout: a batch that dies comes back after it; 5 receives (infra/queues.yml) move a record to the DLQ. */
export const VISIBILITY_TIMEOUT_SECONDS = 5;
/** The sync's emulated concurrent invocations. */
export const SYNC_CONCURRENCY = 3;
/** First delay of a request the sync puts back under load (AWS: 10 s), short so that the soak drains quickly. */
export const REQUEUE_DELAY_BASE_SECONDS = 1;
/** Limits model's divisor in a storm: 400 WCU/s for the table, 10 per partition key, so the soak's load binds. */
export const STORM_SCALE = 100;
/** In a severe storm, on top of the limits model. */
export const SEVERE_STORM_FAULT_RATES = { throttle: 0.5, unprocessedKeys: 0.3, transactionConflict: 0.3 };

/** Probabilities per sync invocation, per ingest send, per events publish. */
export const P_SYNC_DIES_MID_BATCH = 0.08;
export const P_SYNC_DIES_AFTER_BATCH = 0.04;
export const P_QUEUE_REFUSES = 0.03;
export const P_PUBLISH_REFUSED = 0.04;
export const P_PUBLISH_DIES_AFTER = 0.02;
/** Protocol-level faults on every call of the sync's DynamoDB client (test/support/faults.ts). */
export const DYNAMODB_FAULT_RATES = { throttle: 0.02, unprocessedKeys: 0.05, transactionConflict: 0.03 };

/** Partner's backoff (contract: 5XX and 429 with exponential backoff and jitter). */
export const PARTNER_BACKOFF_BASE_MS = 100;
export const PARTNER_BACKOFF_CAP_MS = 5_000;
/** A workspace client's tries of a request the API answered "busy" (503 with Retry-After). */
export const BUSY_ATTEMPTS = 5;
export const PARTNER_MAX_ATTEMPTS = 12;
/**
 * Bounds on waits that progress by events (the queue draining, the events arriving, an
 * outage's records reaching the DLQ): far above what a slow machine of this kind needs,
 * there only so that a run that stalls ends with a mismatch saying what was pending.
 */
export const DRAIN_TIMEOUT_MS = 10 * 60_000;
export const SETUP_TIMEOUT_MS = 3 * 60_000;
export const EVENTS_TIMEOUT_MS = 5 * 60_000;
export const EXPORT_TIMEOUT_MS = 3 * 60_000;
export const OUTAGE_TIMEOUT_MS = 5 * 60_000;
/**
 * The chaos lasts until the partners have sent their share of work, but no longer than
 * this past its minutes: a stack that has stalled ends the chaos with a mismatch saying so
 * (and how far the partners got), not a soak that never ends.
 */
export const CHAOS_OVERRUN_MS = 5 * 60_000;
/** Everything after the chaos (the drain, the events, the final checks and exports) together. */
export const CHECKS_TIMEOUT_MS = 15 * 60_000;
/** One HTTP call: the local gateway answers within its function's timeout (30 s at most), so only a hang reaches this. */
export const CALL_TIMEOUT_MS = 60_000;
/** How often a wait after the chaos says what it is waiting for. */
export const PROGRESS_EVERY_MS = 30_000;
/** When the first throttling storm starts, after the chaos does (later ones: at random). */
export const FIRST_STORM_AFTER_MS = 3_000;

export interface SoakSummary {
  minutes: number;
  seed: number;
  /** Logical requests by kind (a partner request retried three times is one here). */
  requests: Record<string, number>;
  /** HTTP answers by kind and status, retries included. */
  answers: Record<string, Record<string, number>>;
  faults: Record<string, number>;
  checks: string[];
  mismatches: string[];
  mismatchCount: number;
  /** Lifecycles of the requests behind the mismatches: accepted, received, failed, requeued, died… */
  diagnostics: string[];
  deadLettersAtEnd: number;
  elapsedSeconds: { chaos: number; drain: number; total: number };
}

export const MAX_KEPT_MISMATCHES = 50;

export class Tally {
  readonly counts: Record<string, number> = {};
  add(name: string, by = 1) {
    this.counts[name] = (this.counts[name] ?? 0) + by;
  }
}
