/**
 * The sender's ports and results (docs/campaigns.md, "The sender"): what createSender is
 * given (the campaigns store's calls it makes, memberships, users, the webhook client, the
 * clock, its tunables), what it answers per message, and what one claimed message comes to
 * before anything is recorded (shared by lib/campaigns/sender.ts and send-rate.ts).
 */
import type { CampaignStore, MembershipChecks, SendOutcome, SendQueue } from './ports.js';
import type { UserProfile } from '../users/ports.js';
import type { BreakerChange, BreakerSettings } from '../webhooks/breaker.js';
import type { WebhookClient } from '../webhooks/requests.js';
import type { SendMessage } from './messages.js';

export interface SenderPorts {
  campaigns: Pick<
    CampaignStore,
    | 'get'
    | 'claimSends'
    | 'markRetrying'
    | 'releaseSend'
    | 'finishSends'
    | 'getEntry'
    | 'exit'
    | 'getFrequencyCap'
    | 'admit'
    | 'reserveSlots'
  >;
  memberships: MembershipChecks;
  /** Where a paced message that came too late goes again, with its new slot (absent: the limit is held at release only). */
  sends?: SendQueue;
  users: { getProfile(workspaceId: string, brazeId: string): Promise<UserProfile | undefined> };
  webhooks: WebhookClient & { destination?(url: string): Promise<object | { refused: string }> };
  clock: () => Date;
  /**
   * What claims' leases are measured on (default `clock`): a lease guards against a sender
   * that died, which real time reveals. Tests that hold the campaigns' clock still pass the
   * wall clock here, so a dead sender's claim still lapses.
   */
  leaseClock?: () => Date;
  random?: () => number;
  /** Retry delays (defaults: lib/webhooks/policy.ts); tests make them 0. */
  retry?: { baseSeconds?: number; capSeconds?: number; maxAttempts?: number };
  /** How long a claim holds a message (default 2 min: longer than one attempt, shorter than the queue's visibility timeout). */
  leaseMs?: number;
  /** How long definitions and the cap setting are reused (default 5 s; tests 0). */
  cacheTtlMs?: number;
  /** Webhooks in flight per batch (default 10). */
  concurrency?: number;
  /** Start a message only with this much of the function's time left (default 13 s). */
  startMarginMs?: number;
  /**
   * The destination breaker (docs/campaigns.md, "Destination breaker"; defaults:
   * lib/webhooks/breaker.ts), on `clock`, in this sender's memory; false: none. The defer
   * delays are what SQS holds a paused destination's message for (tests shorten them).
   */
  breaker?:
    | false
    | (Partial<BreakerSettings> & { deferBaseSeconds?: number; deferCapSeconds?: number; deferReceiveLimit?: number });
  /** Told when a destination is paused or resumed (the handler logs and counts it). */
  onDestinationChange?: (change: BreakerChange) => void;
}

export type SendResult =
  /** Settled; `repacedTo`: not sent, queued again for this send-rate slot. */
  | { kind: 'done'; outcome?: SendOutcome; repacedTo?: string }
  /**
   * Hand the message back: it comes again after this many seconds. `deferred`: not sent, its
   * destination paused (its attempt not used).
   */
  | { kind: 'retry'; delaySeconds: number; reason: string; deferred?: true }
  /** Not settled (DynamoDB failed around it): the record fails, and its message comes back after the visibility timeout. */
  | { kind: 'error'; error: unknown };

/** What one claimed message comes to before anything is recorded. */
export type Decision =
  | { kind: 'final'; outcome: SendOutcome }
  | { kind: 'retry'; delaySeconds: number; reason: string }
  /** Claimed but not sent (out of time, or a read failed before the request): the claim is given back. */
  | { kind: 'release'; reason: string; error?: unknown }
  /** Claimed but not sent, its destination paused: the claim is given back and the message comes again later. */
  | { kind: 'defer'; delaySeconds: number; reason: string }
  /** Claimed but not sent, too late for its send-rate slot: the claim is given back and the message queued again for a new slot. */
  | { kind: 'repace'; message: SendMessage; delaySeconds: number }
  /** Failed after the request went out: its outcome is unknown, so the claim is kept (at most once). */
  | { kind: 'error'; error: unknown };
