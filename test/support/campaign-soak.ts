/**
 * The campaign soak (issue 16): random cohort churn; random campaigns and Canvases (action-based
 * with and without delays and re-eligibility, multi-step Canvases, scheduled now or later,
 * recurring daily); launches and stops, some raced (launch twice, stop with stop or archive);
 * frequency-cap changes; receivers that answer 2XX, 400, 429 or 500, time out, or whose sender
 * dies during the request; DynamoDB throttling, transaction conflicts and partial reads on the
 * campaigns and sender functions' client (a tick that dies midway runs again); redelivered queue
 * messages and membership events published again; partner switches mid-sync and key rotations
 * with and without grace; all through the REST and partner APIs of one local stack, with the
 * campaigns' clock moved by the soak. A serial oracle computes which webhooks must arrive and
 * which must not; every arrival is held to it.
 *
 * What keeps the oracle exact: the soak runs in rounds of two phases. A round changes campaigns,
 * the cap and the switches, then the partners' cohorts (at most one change per user and cohort
 * in a round, so the sync's order of application cannot matter), then waits until the stack
 * has settled (every queue empty, every poller idle: local/settle.ts): the entry phase,
 * where delay-0 steps are sent. Only then does it move the campaigns' clock, tick, and settle
 * again: the tick phase, where due steps and runs are sent. Every arrival is stamped with its
 * phase, so every send is held to the dues of its own phase: the oracle's membership, entries
 * and cap at that moment.
 *
 * Checked, per user and phase: the webhooks that arrived (by Idempotency-Key) are among those
 * the oracle expects then (none early, none after exit, stop or a stopped journey), and exactly
 * as many as the frequency cap admits (all, with no cap; the cap counts what it admitted while
 * a cap was set, in its current window). Per key: POSTed again only after a 429, a 5XX or a
 * timeout, never after a 2XX or a 400, and never after its sender died during the request (at
 * most once: that send is a counted failure). Per campaign and step: the figures (targeted,
 * sent, delivered, failed) equal the oracle's; over all, the `frequency_cap` skips. Partner
 * requests are refused from the moment a partner is disabled, a key rotated out without grace,
 * or a grace ended; accepted in the grace and when enabled again.
 * `npm run soak -- --campaigns --minutes N [--seed S]` runs it (scripts/soak.ts);
 * test/integration/campaign-soak.test.ts runs one minute of it.
 */
import { createHash, randomBytes } from 'node:crypto';
import { SendMessageCommand } from '@aws-sdk/client-sqs';
import type { SQSEvent } from 'aws-lambda';
import { JOURNEY_GRACE_MS, type RecurringSchedule } from '../../lib/campaigns/model.js';
import { nextOccurrence } from '../../lib/campaigns/schedule.js';
import type { MembershipEvent } from '../../lib/cohorts/events.js';
import { isLoadError } from '../../lib/errors.js';
import type { SqsHandler } from '../../local/sqs-poller.js';
import { startLocalStack, type LocalStack } from '../../local/stack.js';
import type { ReceivedWebhook } from '../../local/webhook-receiver.js';
import { deliveredTwice } from './events.js';
import { type FaultInjection, injectDynamoDbFaults, seededRandom } from './faults.js';

export interface CampaignSoakOptions {
  /** Rounds go on at least this long… */
  minutes: number;
  /** …and at least this many rounds. */
  minRounds?: number;
  seed?: number;
  sqsEndpoint?: string;
  dynamoDbEndpoint?: string;
  log?: (line: string) => void;
}

export interface CampaignSoakSummary {
  seed: number;
  rounds: number;
  campaigns: number;
  webhooksChecked: number;
  mismatches: string[];
  mismatchCount: number;
  counts: Record<string, number>;
  /** What the soak forced and did not get to yet (empty when every forced fault happened). */
  owed: string[];
  elapsedSeconds: number;
}

const USERS = 24;
const COHORTS = ['c0', 'c1', 'c2'];
/** A cohort no campaign targets: key and switch probes change it, and no message depends on them. */
const PROBE_COHORT = 'probe';
const MAX_LIVE_CAMPAIGNS = 10;
const MINUTE = 60_000;
const HOUR = 3_600_000;
const DAY = 24 * HOUR;
/** Delays of action-based campaigns and Canvas steps, seconds. */
const DELAYS = [0, 600, 600, 3_600, 7_200];
/** Re-eligibility of action-based campaigns and Canvases, days (null: never). */
/** Re-eligibility as the API takes it: in whole days (the original field) or in a unit; null: never. */
const REELIGIBLE: readonly (
  | { reeligible_after_days: number | null }
  | { reeligible_after: { value: number; unit: string } }
)[] = [
  { reeligible_after_days: null },
  { reeligible_after_days: null },
  { reeligible_after_days: 0 },
  { reeligible_after_days: 1 },
  { reeligible_after: { value: 90, unit: 'minutes' } },
  { reeligible_after: { value: 3, unit: 'hours' } },
];
/** The oracle's wait after an entry (ms); null: never. */
const reeligibleMs = (choice: (typeof REELIGIBLE)[number]): number | null => {
  if ('reeligible_after' in choice)
    return choice.reeligible_after.value * (choice.reeligible_after.unit === 'minutes' ? MINUTE : HOUR);
  return choice.reeligible_after_days === null ? null : choice.reeligible_after_days * DAY;
};
/** How far the clock moves between rounds. */
const STEPS_MS = [0, 5 * MINUTE, 10 * MINUTE, HOUR, 2 * HOUR, DAY];
/** Frequency caps the soak sets now and then (null: none). */
const CAPS = [null, { max: 1, windowMs: HOUR }, { max: 2, windowMs: DAY }, { max: 3, windowMs: 2 * HOUR }];
/** The sender's attempts (the stack's retry policy below): a key is POSTed at most this often. */
const MAX_ATTEMPTS = 3;
const MAX_KEPT_MISMATCHES = 50;
/** Far above need (a held copy comes back after the 10 s lease): a stall ends with what was still queued. */
const SETTLE_TIMEOUT_MS = 120_000;
/** The webhook client's timeout here, and how long a "slow" receiver takes (longer). */
const WEBHOOK_TIMEOUT_MS = 400;
const SLOW_ANSWER_MS = 1_200;
/** The first answer a receiver gives a key: the rest answer 200. */
type FirstAnswer = 200 | 400 | 429 | 500 | 'timeout' | 'crash';
/** In this order, the first keys' answers are forced, so that each kind happens in every soak. */
const FORCED_ANSWERS: FirstAnswer[] = ['crash', 'timeout', 429, 500, 400];
/** Fault rates on the campaigns and sender functions' DynamoDB client (inside the SDK's retries). */
const FAULT_RATES = { throttle: 0.02, transactionConflict: 0.03, unprocessedKeys: 0.05 };

/**
 * `api`: an API-triggered campaign, sent by POST /campaigns/trigger/send (recipients or a broadcast);
 * `event`: an action-based campaign entered by a custom event tracked through /users/track.
 */
type Kind = 'action' | 'canvas' | 'once' | 'daily' | 'api' | 'event';
/** The custom events the soak tracks: campaigns share them (one event enters several). */
const TRIGGER_EVENTS = ['Started Trial', 'Upgraded'];
const EXIT_EVENT = 'Converted';
type Cap = { max: number; windowMs: number } | null;

interface OracleEntry {
  enteredAt: number;
  /** An event's entry: its event time (an exit event before it ends nothing). */
  eventTime?: number;
  exited: boolean;
  /** Per step: decided (sent or not) at its due time. */
  decided: boolean[];
  endsAt: number;
  reeligibleAt: number;
}

interface OracleCampaign {
  index: number;
  /** Its API path: /campaigns/{id} or /canvases/{id}. */
  path: string;
  kind: Kind;
  cohort: string;
  /** Per step, seconds after the entry (cumulative): action-based and Canvases. */
  offsets: number[];
  active: boolean;
  /** user → entries, the current one last. */
  entries: Map<string, OracleEntry[]>;
  /** once/daily: when the next run is due, if any. */
  nextRunAt?: number;
  recurring?: RecurringSchedule;
  /** Days after an entry before the next (null: never). */
  reeligibleMs: number | null;
  /** Targeted per step (every step of an entry counts at entry; a run counts its audience). */
  targeted: number;
  /** An API-triggered campaign that opted out of the frequency cap. */
  ignoresCap?: boolean;
  /** An event-triggered campaign: its trigger's event, and whether it exits on EXIT_EVENT. */
  triggerEvent?: string;
  exitsOnEvent?: boolean;
}

/** A send the oracle expects in a phase (subject to the cap in force then). */
interface Due {
  campaign: number;
  step: number;
  user: string;
  phase: number;
  at: number;
  cap: Cap;
  /** Sent whatever the cap (an API-triggered campaign that opted out), and not counted in it. */
  ignoresCap?: boolean;
}

/** What the receiver answered each key. */
interface KeyRecord {
  campaignIndex: number;
  step: number;
  user: string;
  first: FirstAnswer;
  arrivals: { clock: number; phase: number; status: number | 'timeout' }[];
}

const retried = (status: number | 'timeout') => status === 'timeout' || status === 429 || status >= 500;

export const runCampaignSoak = async (options: CampaignSoakOptions): Promise<CampaignSoakSummary> => {
  const log = options.log ?? (() => undefined);
  const seed = options.seed ?? Date.now() % 1_000_000;
  log(`seed ${seed} (replay: npm run soak -- --campaigns --minutes ${options.minutes} --seed ${seed})`);
  const random = seededRandom(seed);
  const int = (below: number) => Math.floor(random() * below);
  const pick = <T>(items: readonly T[]): T => items[int(items.length)]!;
  const chance = (p: number) => random() < p;
  const started = Date.now();

  const counts: Record<string, number> = {};
  const count = (name: string, by = 1) => {
    counts[name] = (counts[name] ?? 0) + by;
  };
  const mismatches: string[] = [];
  let mismatchCount = 0;
  const mismatch = (text: string) => {
    mismatchCount += 1;
    if (mismatches.length < MAX_KEPT_MISMATCHES) mismatches.push(text);
    log(`MISMATCH ${text}`);
  };
  // The campaigns' clock: moved by the soak only while the stack has settled.
  let now = Date.UTC(2031, 0, 6, 8, 0, 0) + int(24) * HOUR;
  /** Entry phases are even, tick phases odd: every arrival is stamped with the phase it came in. */
  let phase = 0;
  /** Redeliver queue batches to the campaigns function and the sender (SQS's at-least-once). */
  let duplicateDeliveries = false;
  const seenEvents: MembershipEvent[] = [];
  const twice = (handler: SqsHandler, seen?: (event: SQSEvent) => void): SqsHandler =>
    deliveredTwice(handler, () => duplicateDeliveries, { seen, twice: () => count('batches delivered twice') });
  /** Keys whose sender "dies" once the receiver has answered (the outcome is lost with it). */
  const dying = new Set<string>();
  let faults: FaultInjection | undefined;
  const stack: LocalStack = await startLocalStack({
    sqsEndpoint: options.sqsEndpoint,
    dynamoDbEndpoint: options.dynamoDbEndpoint,
    prefix: `csoak${randomBytes(4).toString('hex')}`,
    // `npm run soak` on a shared emulator (the test suite's) leaves nothing behind to slow what follows.
    dropTablesOnStop: true,
    partners: ['heap'],
    visibilityTimeoutSeconds: 1,
    requeueDelayBaseSeconds: 0,
    credentialCacheTtlMs: 0,
    eventsRetryDelayMs: 50,
    watchEvents: false,
    campaigns: {
      clock: () => new Date(now),
      horizonMs: 0,
      cacheTtlMs: 0,
      tickEveryMs: 0,
      leaseMs: 10_000,
      // The campaigns' clock stands still while a round settles: a dead sender's claim lapses in real time.
      leaseClock: () => new Date(),
      webhookTimeoutMs: WEBHOOK_TIMEOUT_MS,
      retry: { baseSeconds: 0, capSeconds: 0, maxAttempts: MAX_ATTEMPTS },
      // No destination breaker: every soak webhook goes to the one local receiver, which fails a
      // key's first attempt at random (~17% retryable) as if each key had its own receiver, so
      // 5 failures in a row happen by chance; the campaigns' clock stands still while a round
      // settles, so a paused receiver would never be probed. The breaker has its own tests
      // (test/unit/webhook-breaker.test.ts, test/integration/webhook-breaker.test.ts).
      breaker: false,
      configureDynamoDb: (client) => {
        faults = injectDynamoDbFaults(client, FAULT_RATES, seed);
      },
      wrapWebhooks: (client) => ({
        send: async (request) => {
          const result = await client.send(request);
          const key = String(request.headers['Idempotency-Key'] ?? '');
          if (dying.delete(key)) throw new Error('injected: the sender died during the request');
          return result;
        },
        destination: (url) => client.destination(url),
      }),
      wrapCampaignsHandler: (handler) =>
        twice(handler, (event) => {
          for (const record of event.Records) {
            const body = JSON.parse(record.body) as MembershipEvent;
            if (body.event_id) seenEvents.push(body);
          }
        }),
      wrapSenderHandler: (handler) => twice(handler),
    },
  });
  // --- The receiver: answers recorded per key; the first attempt of some keys fails ---
  const keys = new Map<string, KeyRecord>();
  const forcedAnswers = [...FORCED_ANSWERS];
  const firstAnswerOf = (key: string): FirstAnswer => {
    const forced = forcedAnswers.shift();
    if (forced !== undefined) return forced;
    // From the seed and the key, not the driver's generator: the answer does not depend on when the POST came.
    const roll = createHash('sha256').update(`${seed}\u0000${key}`).digest().readUInt32BE(0) / 2 ** 32;
    return roll < 0.1
      ? 500
      : roll < 0.14
        ? 400
        : roll < 0.18
          ? 429
          : roll < 0.21
            ? 'timeout'
            : roll < 0.23
              ? 'crash'
              : 200;
  };
  stack.campaigns.receiver.answer = (webhook: ReceivedWebhook) => {
    const key = String(webhook.headers['idempotency-key'] ?? '');
    const match = /^\/cs\/(\d+)\/(\d+)\/([^/?]+)$/.exec(webhook.path);
    if (!match || key === '') {
      mismatch(`a webhook the soak did not set up: ${webhook.method} ${webhook.path} (key ${key || 'none'})`);
      return 200;
    }
    let record = keys.get(key);
    if (!record) {
      record = {
        campaignIndex: Number(match[1]),
        step: Number(match[2]),
        user: match[3]!,
        first: firstAnswerOf(key),
        arrivals: [],
      };
      keys.set(key, record);
    }
    const last = record.arrivals.at(-1);
    if (last && !retried(last.status))
      mismatch(`key ${key} of campaign ${record.campaignIndex}, ${record.user}: POSTed again after a ${last.status}`);
    if (last && record.first === 'crash')
      mismatch(`key ${key} of campaign ${record.campaignIndex}, ${record.user}: POSTed again after its sender died`);
    // An API trigger's recipient sees its own trigger properties (`u`), never another's.
    const sent = JSON.parse(webhook.body || '{}') as { u?: string };
    if (sent.u && sent.u !== record.user)
      mismatch(`key ${key} of campaign ${record.campaignIndex}, ${record.user}: the trigger properties of ${sent.u}`);
    const answer: FirstAnswer = record.arrivals.length === 0 ? record.first : 200;
    record.arrivals.push({ clock: now, phase, status: answer === 'crash' ? 200 : answer });
    if (answer === 'timeout') return { status: 200, delayMs: SLOW_ANSWER_MS };
    if (answer === 'crash') {
      dying.add(key);
      return 200;
    }
    return answer;
  };
  const rest = async (method: string, path: string, body?: unknown, headers: Record<string, string> = {}) => {
    const response = await fetch(`${stack.url}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${stack.workspace.restApiKey}`,
        'content-type': 'application/json',
        ...headers,
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    if (response.status >= 500) mismatch(`${method} ${path}: ${response.status} ${text.slice(0, 300)}`);
    // biome-ignore lint/suspicious/noExplicitAny: answers of many shapes, each read as the soak expects and checked
    return { status: response.status, body: (text ? JSON.parse(text) : {}) as Record<string, any> };
  };
  let dataImportKey = stack.workspace.dataImportKey;
  const partner = async (path: string, body: object, key = dataImportKey) => {
    const response = await fetch(`${stack.url}/partners/heap${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ partner_api_key: stack.partnerApiKey, client_secret: key, ...body }),
    });
    await response.text();
    if (response.status >= 500) mismatch(`partner ${path}: ${response.status}`);
    return response.status;
  };
  const probe = (key = dataImportKey) =>
    partner('/cohorts/users', { cohort_id: PROBE_COHORT, cohort_changes: [{ user_ids: ['u0'] }] }, key);
  /** The minute tick, run again if it died midway (throttled past its retries), as SQS would redeliver it. */
  const tick = async () => {
    for (let attempt = 0; ; attempt += 1) {
      try {
        await stack.campaigns.tick();
        return;
      } catch (error: unknown) {
        if (!isLoadError(error) || attempt >= 20) throw error;
        count('ticks that died midway and ran again');
      }
    }
  };
  const settle = () => stack.settled(SETTLE_TIMEOUT_MS);
  try {
    // --- Setup: users, cohorts (named), a segment per cohort ---
    const users = Array.from({ length: USERS }, (_, index) => `u${index}`);
    const tracked = await rest('POST', '/users/track', {
      attributes: users.map((external_id) => ({ external_id, plan: pick(['free', 'pro']) })),
    });
    if (tracked.status !== 201) throw new Error(`users not created: ${tracked.status}`);
    for (const cohort of [...COHORTS, PROBE_COHORT])
      if (
        (await partner('/cohorts', {
          cohort_id: cohort,
          name: `Cohort ${cohort}`,
          created_at: '2030-01-01T00:00:00Z',
        })) !== 201
      )
        throw new Error(`cohort ${cohort} not named`);
    await settle();
    const segments = new Map<string, string>();
    for (const cohort of COHORTS) {
      const created = await rest('POST', '/segments', {
        name: `on ${cohort}`,
        filter: { cohort: { partner: 'heap', cohort_id: cohort, includes: true } },
      });
      if (created.status !== 201) throw new Error(`segment on ${cohort}: ${created.status}`);
      segments.set(cohort, created.body.segment.segment_id as string);
    }
    const members = new Map(COHORTS.map((cohort) => [cohort, new Set<string>()]));
    const campaigns: OracleCampaign[] = [];
    const dues: Due[] = [];
    let cap: Cap = null;
    /** Old keys in their grace: accepted until `expiresAt` (wall clock, as announced), refused after. */
    const graceKeys: { key: string; expiresAt: number }[] = [];
    const hookOf = (index: number, step: number) =>
      `${stack.campaigns.receiver.url}/cs/${index}/${step}/{{ external_id }}`;
    const due = (campaign: OracleCampaign, step: number, user: string) =>
      dues.push({
        campaign: campaign.index,
        step,
        user,
        phase,
        at: now,
        cap: campaign.ignoresCap ? null : cap,
        ...(campaign.ignoresCap ? { ignoresCap: true } : {}),
      });
    /** Forced kinds first, so every soak has each; then random. */
    const forcedKinds: Kind[] = ['canvas', 'action', 'api', 'event', 'daily', 'once'];

    const launch = async () => {
      const index = campaigns.length;
      const kind: Kind =
        forcedKinds.shift() ?? pick(['action', 'action', 'canvas', 'once', 'daily', 'api', 'api', 'event', 'event']);
      const ignoresCap = kind === 'api' && chance(0.3);
      const triggerEvent = kind === 'event' ? pick(TRIGGER_EVENTS) : undefined;
      // The first event-triggered campaign exits on EXIT_EVENT, so that every soak ends journeys by an event.
      const exitsOnEvent =
        kind === 'event' && (!campaigns.some((campaign) => campaign.kind === 'event') || chance(0.5));
      const cohort = pick(COHORTS);
      const reeligible = pick(REELIGIBLE);
      let offsets: number[] = [];
      let created: Awaited<ReturnType<typeof rest>>;
      let path: string;
      let laterMs = 0;
      let recurring: RecurringSchedule | undefined;
      const message = (step: number) => ({
        url: hookOf(index, step),
        body:
          kind === 'api'
            ? // biome-ignore lint/suspicious/noTemplateCurlyInString: Braze's Liquid syntax for a property, not a JS template
              '{"user":"{{ external_id }}","campaign":"{{ campaign.name }}","u":"{{api_trigger_properties.${u}}}"}'
            : kind === 'event'
              ? // biome-ignore lint/suspicious/noTemplateCurlyInString: Braze's Liquid syntax for a property, not a JS template
                '{"user":"{{ external_id }}","campaign":"{{ campaign.name }}","u":"{{event_properties.${u}}}"}'
              : '{"user":"{{ external_id }}","campaign":"{{ campaign.name }}"}',
      });
      if (kind === 'canvas') {
        const delays = Array.from({ length: 2 + int(2) }, () => pick(DELAYS));
        offsets = delays.map((_, step) => delays.slice(0, step + 1).reduce((sum, delay) => sum + delay, 0));
        created = await rest('POST', '/canvases', {
          name: `soak ${index} canvas`,
          segment_ids: [segments.get(cohort)],
          ...reeligible,
          steps: delays.map((delay, step) => ({ name: `step ${step}`, delay_seconds: delay, message: message(step) })),
        });
        path = `/canvases/${created.body.canvas?.canvas_id}`;
      } else {
        if (kind === 'action' || kind === 'event') offsets = [pick(DELAYS)];
        if (kind === 'api') offsets = [0];
        laterMs = kind === 'once' && chance(0.5) ? pick([HOUR, 3 * HOUR]) : 0;
        recurring =
          kind === 'daily'
            ? { frequency: 'daily', time: `${String(int(24)).padStart(2, '0')}:00`, timezone: 'UTC' }
            : undefined;
        created = await rest('POST', '/campaigns', {
          name: `soak ${index} ${kind}`,
          segment_ids: [segments.get(cohort)],
          message: message(0),
          ...(exitsOnEvent ? { exit_on_events: [EXIT_EVENT] } : {}),
          delivery:
            kind === 'action'
              ? { type: 'action_based', delay_seconds: offsets[0], ...reeligible }
              : kind === 'event'
                ? {
                    type: 'action_based',
                    trigger: { type: 'custom_event', name: triggerEvent },
                    delay_seconds: offsets[0],
                    ...reeligible,
                  }
                : kind === 'api'
                  ? { type: 'api_triggered', ...reeligible, ignore_frequency_cap: ignoresCap }
                  : {
                      type: 'scheduled',
                      ...(laterMs > 0 ? { at: new Date(now + laterMs).toISOString() } : {}),
                      ...(recurring ? { recurring } : {}),
                    },
        });
        path = `/campaigns/${created.body.campaign?.campaign_id}`;
      }
      if (created.status !== 201) {
        mismatch(`campaign ${index} (${kind}) not created: ${created.status} ${JSON.stringify(created.body)}`);
        return;
      }
      // Now and then two launches race: exactly one applies.
      const racing = chance(0.2);
      const answers = await Promise.all(
        Array.from({ length: racing ? 2 : 1 }, () => rest('POST', `${path}/launch`, {})),
      );
      const statuses = answers.map((answer) => answer.status).sort();
      if (statuses[0] !== 200 || (racing && statuses[1] !== 409)) {
        mismatch(`campaign ${index} (${kind}) launch answered ${statuses.join(', ')}`);
        return;
      }
      if (racing) count('launches raced (one 200, one 409)');
      count(`campaigns launched (${kind})`);
      campaigns.push({
        index,
        path,
        kind,
        cohort,
        offsets,
        active: true,
        entries: new Map(),
        ...(kind === 'once' ? { nextRunAt: now + laterMs } : {}),
        ...(recurring ? { recurring, nextRunAt: nextOccurrence(recurring, now - 1) } : {}),
        targeted: 0,
        reeligibleMs: reeligibleMs(reeligible),
        ...(ignoresCap ? { ignoresCap } : {}),
        ...(triggerEvent ? { triggerEvent, exitsOnEvent } : {}),
      });
    };

    /**
     * Custom events through /users/track: 1 to 4 users each perform a trigger event (the same
     * event is never two: each has its own time), now and then the call replayed (at once, or
     * after it was handled); then, in a call of their own once those are handled, some users
     * convert (EXIT_EVENT). The oracle enters each user into every active campaign on the event
     * as a membership entry is (re-eligibility, one journey at a time), expects the steps due
     * now for users in the segment, and ends the journeys of campaigns exiting on the event.
     */
    let eventClock = Date.UTC(2031, 0, 1);
    const eventTime = () => {
      eventClock += 1_000;
      return eventClock;
    };
    const trackEvents = async () => {
      if (!campaigns.some((campaign) => campaign.kind === 'event') || !chance(0.7)) return;
      const performed = Array.from({ length: 1 + int(4) }, () => ({
        user: pick(users),
        name: pick(TRIGGER_EVENTS),
        time: eventTime(),
      }));
      const body = {
        events: performed.map((one) => ({
          external_id: one.user,
          name: one.name,
          time: new Date(one.time).toISOString(),
          properties: { u: one.user },
        })),
      };
      const replay = pick(['none', 'none', 'concurrent', 'after'] as const);
      const answers = await Promise.all(
        Array.from({ length: replay === 'concurrent' ? 2 : 1 }, () => rest('POST', '/users/track', body)),
      );
      if (replay === 'after') {
        await settle();
        answers.push(await rest('POST', '/users/track', body));
      }
      if (answers.some((answer) => answer.status !== 201 || answer.body.events_processed !== performed.length)) {
        mismatch(
          `/users/track of ${performed.length} events answered ${answers.map((answer) => `${answer.status} ${JSON.stringify(answer.body)}`).join(', ')}`,
        );
        return;
      }
      count('custom events tracked', performed.length);
      if (replay !== 'none') count(`custom event calls replayed (${replay})`);
      for (const one of performed)
        for (const campaign of campaigns) {
          if (campaign.kind !== 'event' || !campaign.active || campaign.triggerEvent !== one.name) continue;
          const history = campaign.entries.get(one.user) ?? [];
          const current = history.at(-1);
          if (current && !((current.exited || current.endsAt <= now) && current.reeligibleAt <= now)) {
            count('event entries not eligible (in a journey, or not re-eligible)');
            continue;
          }
          const { reeligibleMs: wait } = campaign;
          const entry: OracleEntry = {
            enteredAt: now,
            eventTime: one.time,
            exited: false,
            decided: campaign.offsets.map(() => false),
            endsAt: now + campaign.offsets.at(-1)! * 1000 + JOURNEY_GRACE_MS,
            reeligibleAt: wait === null ? Number.POSITIVE_INFINITY : now + wait,
          };
          campaign.entries.set(one.user, [...history, entry]);
          campaign.targeted += 1;
          count('event entries');
          campaign.offsets.forEach((offset, step) => {
            if (offset > 0) return;
            entry.decided[step] = true;
            decideEventStep(campaign, entry, step, one.user);
          });
        }
      await settle();
      const converted = [...new Set(users.filter(() => chance(0.1)))];
      if (converted.length === 0) return;
      const at = eventTime();
      const answer = await rest('POST', '/users/track', {
        events: converted.map((user) => ({ external_id: user, name: EXIT_EVENT, time: new Date(at).toISOString() })),
      });
      if (answer.status !== 201) {
        mismatch(`/users/track of ${EXIT_EVENT} answered ${answer.status} ${JSON.stringify(answer.body)}`);
        return;
      }
      count('exit events tracked', converted.length);
      for (const user of converted)
        for (const campaign of campaigns) {
          if (campaign.kind !== 'event' || !campaign.active || !campaign.exitsOnEvent) continue;
          const current = campaign.entries.get(user)?.at(-1);
          if (!current || current.exited || current.endsAt <= now || (current.eventTime ?? 0) > at) continue;
          current.exited = true;
          count('journeys ended by an exit event');
        }
    };
    /** A step of an event entry at its due time: sent to a member; a user outside the segment is skipped and the entry ends (the sender exits it). */
    const decideEventStep = (campaign: OracleCampaign, entry: OracleEntry, step: number, user: string) => {
      if (!campaign.active || entry.exited) return;
      if (members.get(campaign.cohort)!.has(user)) due(campaign, step, user);
      else {
        entry.exited = true;
        count('event entries outside the segment (not sent)');
      }
    };

    /**
     * API triggers of the API-triggered campaigns: some broadcast to the segment, most name 1 to
     * 4 users (any of them, in the segment or not, some twice), now and then with an
     * Idempotency-Key and replayed (at once, or after the first was sent). The oracle enters each
     * named user as the service does (re-eligibility; a campaign's entry ends with its message)
     * and expects one message for each entered user in the segment, none for the rest.
     */
    const triggerApiCampaigns = async () => {
      for (const campaign of campaigns) {
        if (campaign.kind !== 'api' || !chance(campaign.active ? 0.6 : 0.1)) continue;
        const campaignId = campaign.path.split('/').at(-1)!;
        if (!campaign.active) {
          const refused = await rest('POST', '/campaigns/trigger/send', {
            campaign_id: campaignId,
            recipients: [{ external_user_id: pick(users) }],
          });
          if (refused.status !== 409)
            mismatch(`a trigger of stopped campaign ${campaign.index} answered ${refused.status}`);
          count('API triggers of a stopped campaign refused (409)');
          continue;
        }
        if (chance(0.2)) {
          const answer = await rest('POST', '/campaigns/trigger/send', {
            campaign_id: campaignId,
            broadcast: true,
            trigger_properties: { round: String(phase) },
          });
          if (answer.status !== 201) {
            mismatch(
              `broadcast of campaign ${campaign.index} answered ${answer.status} ${JSON.stringify(answer.body)}`,
            );
            continue;
          }
          for (const user of members.get(campaign.cohort)!) {
            due(campaign, 0, user);
            campaign.targeted += 1;
          }
          count('API broadcasts');
          continue;
        }
        const named = Array.from({ length: 1 + int(4) }, () => pick(users));
        const body = {
          campaign_id: campaignId,
          trigger_properties: { round: String(phase) },
          recipients: named.map((user) => ({ external_user_id: user, trigger_properties: { u: user } })),
        };
        const key = chance(0.5) ? `soak-${phase}-${campaign.index}` : undefined;
        const replay = key === undefined ? 'none' : pick(['none', 'concurrent', 'after'] as const);
        const headers: Record<string, string> = key === undefined ? {} : { 'Idempotency-Key': key };
        const answers = await Promise.all(
          Array.from({ length: replay === 'concurrent' ? 2 : 1 }, () =>
            rest('POST', '/campaigns/trigger/send', body, headers),
          ),
        );
        if (replay === 'after') {
          await settle();
          answers.push(await rest('POST', '/campaigns/trigger/send', body, headers));
        }
        const dispatches = new Set(answers.map((answer) => answer.body.dispatch_id));
        if (answers.some((answer) => answer.status !== 201) || dispatches.size !== 1) {
          mismatch(
            `trigger of campaign ${campaign.index} (replay ${replay}) answered ${answers.map((answer) => `${answer.status} ${answer.body.dispatch_id ?? JSON.stringify(answer.body)}`).join(', ')}`,
          );
          continue;
        }
        count('API triggers');
        if (replay !== 'none') count(`API triggers replayed (${replay})`);
        for (const user of new Set(named)) {
          const history = campaign.entries.get(user) ?? [];
          const current = history.at(-1);
          if (current && !(current.endsAt <= now && current.reeligibleAt <= now)) {
            count('API recipients not re-eligible');
            continue;
          }
          const { reeligibleMs: wait } = campaign;
          campaign.entries.set(user, [
            ...history,
            {
              enteredAt: now,
              exited: false,
              decided: [true],
              endsAt: now,
              reeligibleAt: wait === null ? Number.POSITIVE_INFINITY : now + wait,
            },
          ]);
          campaign.targeted += 1;
          if (members.get(campaign.cohort)!.has(user)) due(campaign, 0, user);
          else count('API recipients outside the segment (not sent)');
        }
      }
    };

    const stop = async (stopping: OracleCampaign) => {
      const race = pick(['alone', 'stop', 'archive'] as const);
      const answers = await Promise.all([
        rest('POST', `${stopping.path}/stop`, {}),
        ...(race === 'alone' ? [] : [rest('POST', `${stopping.path}/${race}`, {})]),
      ]);
      const statuses = answers.map((answer) => answer.status);
      // Two stops: one wins, the other finds it stopped (409). A stop and an archive: the archive
      // always applies; the stop applies or finds it archived.
      const fine =
        race === 'alone'
          ? statuses[0] === 200
          : race === 'stop'
            ? [...statuses].sort().join() === '200,409'
            : statuses[1] === 200 && (statuses[0] === 200 || statuses[0] === 409);
      if (!fine) mismatch(`campaign ${stopping.index} stop (${race}) answered ${statuses.join(', ')}`);
      stopping.active = false;
      count(race === 'alone' ? 'campaigns stopped' : `campaigns stopped, raced with ${race}`);
    };

    // --- Rounds ---
    const soakEnds = Date.now() + options.minutes * 60_000;
    let rounds = 0;
    while (Date.now() < soakEnds || rounds < (options.minRounds ?? 0)) {
      rounds += 1;
      phase = 2 * rounds;
      duplicateDeliveries = chance(0.25);
      // 1. Campaigns: launch new ones, stop some; the frequency cap changes now and then.
      const live = campaigns.filter((campaign) => campaign.active);
      if (live.length < MAX_LIVE_CAMPAIGNS && (forcedKinds.length > 0 || chance(0.5))) await launch();
      if (live.length > 0 && chance(0.12)) await stop(pick(live));
      if (rounds === 3 || rounds === 9 || chance(0.08)) {
        const next = rounds === 3 ? CAPS[1]! : rounds === 9 ? CAPS[2]! : pick(CAPS);
        const answer = await rest('PUT', '/settings/frequency-cap', {
          frequency_cap: next && { max_messages: next.max, window_seconds: next.windowMs / 1000 },
        });
        if (answer.status !== 200) mismatch(`frequency cap ${JSON.stringify(next)} answered ${answer.status}`);
        else {
          cap = next;
          count('frequency cap changed');
        }
      }
      // 2. Keys: a key rotated out without grace is refused at once; with grace, accepted until the announced expiry.
      for (const old of graceKeys.filter((grace) => Date.now() > grace.expiresAt + 1_000)) {
        const refused = await probe(old.key);
        if (refused !== 401) mismatch(`a key past its announced grace answered ${refused}, not 401`);
        count('keys refused after their grace');
        graceKeys.splice(graceKeys.indexOf(old), 1);
      }
      if (rounds === 2 || chance(0.1)) {
        const graceSeconds = rounds === 2 ? 3 : pick([0, 0, 3]);
        const rotated = await rest('POST', '/workspace/keys/data_import', { grace_seconds: graceSeconds });
        if (rotated.status !== 201) mismatch(`key rotation answered ${rotated.status}`);
        else {
          const old = dataImportKey;
          dataImportKey = rotated.body.key.key as string;
          const expiresAt = rotated.body.key.previous_key_expires_at as string | null;
          const status = await probe(old);
          if (graceSeconds === 0 && status !== 401)
            mismatch(`a delta with the key rotated out answered ${status}, not 401`);
          if (graceSeconds > 0) {
            if (!expiresAt) mismatch('a rotation with grace announced no expiry');
            else {
              if (Date.now() < Date.parse(expiresAt) - 500 && status !== 201)
                mismatch(`a delta with a key in its grace answered ${status}, not 201`);
              graceKeys.push({ key: old, expiresAt: Date.parse(expiresAt) });
            }
          }
          count(graceSeconds > 0 ? 'data import key rotated with grace' : 'data import key rotated');
        }
      }
      // 3. Cohort churn: at most one change per user and cohort in a round.
      const eventsBefore = seenEvents.length;
      const flips: { cohort: string; user: string; member: boolean }[] = [];
      for (const cohort of COHORTS) {
        if (!chance(0.7)) continue;
        const touched = users.filter(() => chance(0.2));
        const adds = touched.filter(() => chance(0.55));
        const removes = touched.filter((user) => !adds.includes(user));
        const changes = [
          ...(adds.length > 0 ? [{ user_ids: adds }] : []),
          ...(removes.length > 0 ? [{ user_ids: removes, should_remove: true }] : []),
        ];
        if (changes.length === 0) continue;
        const status = await partner('/cohorts/users', { cohort_id: cohort, cohort_changes: changes });
        if (status !== 201) {
          mismatch(`delta to ${cohort} answered ${status}`);
          continue;
        }
        count('partner deltas');
        const set = members.get(cohort)!;
        for (const user of adds.filter((candidate) => !set.has(candidate))) {
          flips.push({ cohort, user, member: true });
          set.add(user);
        }
        for (const user of removes.filter((candidate) => set.has(candidate))) {
          flips.push({ cohort, user, member: false });
          set.delete(user);
        }
      }
      // A partner switched off and on while those deltas sync: refused while off; what was accepted still applies.
      if (rounds === 4 || chance(0.15)) {
        await rest('PUT', '/workspace/partners/heap', { enabled: false });
        const refused = await probe();
        if (refused !== 401) mismatch(`a delta while heap is disabled answered ${refused}, not 401`);
        await rest('PUT', '/workspace/partners/heap', { enabled: true });
        count('partner disabled and enabled again mid-sync');
      }
      if (rounds % 7 === 5) faults?.force('throttle', 3);
      await settle();
      // Now and then the membership events of this round are published again (a duplicate SNS delivery).
      const roundEvents = seenEvents.slice(eventsBefore);
      if (chance(0.3) && roundEvents.length > 0) {
        for (const event of roundEvents.slice(-5))
          await stack.clients.sqs.send(
            new SendMessageCommand({
              QueueUrl: stack.campaigns.queues.events.queueUrl,
              MessageBody: JSON.stringify(event),
            }),
          );
        count('membership events published again', Math.min(5, roundEvents.length));
        await settle();
      }
      // The oracle: entries at this instant; steps due now are sent now (the user is still a member: one change a round).
      for (const flip of flips) {
        for (const campaign of campaigns) {
          if (
            campaign.offsets.length === 0 ||
            campaign.kind === 'api' ||
            campaign.cohort !== flip.cohort ||
            !campaign.active
          )
            continue;
          // Entering the segment enters no event-triggered campaign; leaving it ends its journeys.
          if (flip.member && campaign.kind === 'event') continue;
          const history = campaign.entries.get(flip.user) ?? [];
          const current = history.at(-1);
          if (flip.member) {
            const eligible = !current || ((current.exited || current.endsAt <= now) && current.reeligibleAt <= now);
            if (!eligible) continue;
            if (current) count('re-entries');
            const { reeligibleMs: wait } = campaign;
            const entry: OracleEntry = {
              enteredAt: now,
              exited: false,
              decided: campaign.offsets.map(() => false),
              endsAt: now + campaign.offsets.at(-1)! * 1000 + JOURNEY_GRACE_MS,
              reeligibleAt: wait === null ? Number.POSITIVE_INFINITY : now + wait,
            };
            campaign.entries.set(flip.user, [...history, entry]);
            campaign.targeted += 1;
            campaign.offsets.forEach((offset, step) => {
              if (offset > 0) return;
              entry.decided[step] = true;
              due(campaign, step, flip.user);
            });
          } else if (current && !current.exited) current.exited = true;
        }
      }
      // API triggers and custom events, on the memberships as this round left them; their sends come in this phase.
      await triggerApiCampaigns();
      await settle();
      await trackEvents();
      await settle();
      // 4. Time: the clock moves, ticks release what is due; the oracle decides each due send.
      phase = 2 * rounds + 1;
      now += pick(STEPS_MS);
      await tick();
      await settle();
      await tick();
      await settle();
      for (const campaign of campaigns) {
        if (campaign.offsets.length > 0) {
          for (const [user, history] of campaign.entries)
            for (const entry of history)
              campaign.offsets.forEach((offset, step) => {
                if (entry.decided[step] || entry.enteredAt + offset * 1000 > now) return;
                entry.decided[step] = true;
                if (campaign.kind === 'event') decideEventStep(campaign, entry, step, user);
                else if (campaign.active && !entry.exited && members.get(campaign.cohort)!.has(user))
                  due(campaign, step, user);
              });
        } else if (campaign.active && campaign.nextRunAt !== undefined && campaign.nextRunAt <= now) {
          for (const user of members.get(campaign.cohort)!) {
            due(campaign, 0, user);
            campaign.targeted += 1;
          }
          campaign.nextRunAt = campaign.recurring
            ? nextOccurrence(campaign.recurring, Math.max(campaign.nextRunAt, now))
            : undefined;
        }
      }
      if (rounds % 10 === 0)
        log(
          `round ${rounds}: ${campaigns.length} campaigns (${campaigns.filter((campaign) => campaign.active).length} active), ${keys.size} keys, ${mismatchCount} mismatches`,
        );
    }

    // --- The checks: per user and phase, the arrivals against the dues and the cap ---
    let webhooksChecked = 0;
    let cappedOut = 0;
    const groupKey = (user: string, at: number) => `${user}\u0000${String(at).padStart(8, '0')}`;
    const duesByGroup = new Map<string, Due[]>();
    for (const one of dues)
      duesByGroup.set(groupKey(one.user, one.phase), [...(duesByGroup.get(groupKey(one.user, one.phase)) ?? []), one]);
    const arrivedByGroup = new Map<string, KeyRecord[]>();
    for (const record of keys.values()) {
      const group = groupKey(record.user, record.arrivals[0]!.phase);
      arrivedByGroup.set(group, [...(arrivedByGroup.get(group) ?? []), record]);
      webhooksChecked += 1;
    }
    const admitted = new Map<string, number[]>();
    for (const group of [...new Set([...duesByGroup.keys(), ...arrivedByGroup.keys()])].sort()) {
      const [user] = group.split('\u0000') as [string];
      const wanted = duesByGroup.get(group) ?? [];
      const arrived = arrivedByGroup.get(group) ?? [];
      const where = `${user} in phase ${Number(group.split('\u0000')[1])}`;
      const open = [...wanted];
      for (const record of arrived) {
        const at = open.findIndex((one) => one.campaign === record.campaignIndex && one.step === record.step);
        if (at === -1)
          mismatch(
            `campaign ${record.campaignIndex} step ${record.step} to ${where}: arrived, the oracle expects no such send then (early, late, after exit or stop, or twice)`,
          );
        else open.splice(at, 1);
      }
      // Sends that ignore the cap all go, and the cap neither holds nor counts them.
      const free = wanted.filter((one) => one.ignoresCap).length;
      const capped = wanted.filter((one) => !one.ignoresCap);
      const limit = capped[0]?.cap;
      const at = wanted[0]?.at ?? 0;
      const history = admitted.get(user) ?? [];
      const room = limit
        ? Math.max(0, limit.max - history.filter((time) => time > at - limit.windowMs).length)
        : Number.POSITIVE_INFINITY;
      const want = free + Math.min(capped.length, room);
      if (arrived.length !== want)
        mismatch(
          `${where}: ${arrived.length} message(s) arrived, the oracle expects ${want} (${wanted.length} due${free ? `, ${free} ignoring the cap` : ''}${limit ? `, cap ${limit.max} per ${limit.windowMs / MINUTE} min, ${room} left` : ''}): ${wanted.map((one) => `${one.campaign}/${one.step}`).join(' ')}`,
        );
      if (limit) {
        const admittedNow = Math.max(0, arrived.length - free);
        admitted.set(user, [...history, ...Array.from({ length: admittedNow }, () => at)]);
        cappedOut += capped.length - admittedNow;
      }
    }
    // Per key: retried as the answers allow, at most MAX_ATTEMPTS.
    for (const [key, record] of keys) {
      const final = record.arrivals.at(-1)!;
      if (record.first !== 'crash' && retried(final.status) && record.arrivals.length < MAX_ATTEMPTS)
        mismatch(`key ${key} (campaign ${record.campaignIndex}, ${record.user}): a ${final.status} was not retried`);
      if (record.arrivals.length > MAX_ATTEMPTS)
        mismatch(`key ${key} (campaign ${record.campaignIndex}): ${record.arrivals.length} POSTs of one key`);
      if (record.arrivals.some((arrival) => arrival.phase !== record.arrivals[0]!.phase))
        mismatch(`key ${key} (campaign ${record.campaignIndex}): retried in a later phase`);
    }
    // Per campaign and step: the figures.
    let skippedForCap = 0;
    for (const campaign of campaigns) {
      const view = await rest('GET', campaign.path);
      const one = view.body.campaign ?? view.body.canvas;
      const steps =
        campaign.kind === 'canvas'
          ? (one?.steps ?? []).map((step: { figures: object }) => step.figures)
          : [one?.figures];
      for (let step = 0; step < Math.max(1, campaign.offsets.length); step += 1) {
        const figures = steps[step] as
          | { targeted: number; sent: number; delivered: number; failed: number; skipped: Record<string, number> }
          | undefined;
        const records = [...keys.values()].filter(
          (record) => record.campaignIndex === campaign.index && record.step === step,
        );
        const lost = records.filter((record) => record.first === 'crash').length;
        const delivered = records.filter(
          (record) => record.first !== 'crash' && (record.arrivals.at(-1)!.status as number) < 300,
        ).length;
        const want = {
          targeted: campaign.targeted,
          sent: records.length - lost,
          delivered,
          failed: records.length - delivered,
        };
        const got = figures && {
          targeted: figures.targeted,
          sent: figures.sent,
          delivered: figures.delivered,
          failed: figures.failed,
        };
        skippedForCap += figures?.skipped?.frequency_cap ?? 0;
        if (JSON.stringify(got) !== JSON.stringify(want))
          mismatch(
            `campaign ${campaign.index} (${campaign.kind}) step ${step} figures ${JSON.stringify(got)}, the oracle's ${JSON.stringify(want)}`,
          );
      }
    }
    if (skippedForCap !== cappedOut)
      mismatch(`${skippedForCap} sends skipped for the frequency cap in the figures, the oracle's ${cappedOut}`);
    count('sends held back by the frequency cap', cappedOut);
    for (const answer of ['crash', 'timeout', 429, 500, 400] as FirstAnswer[])
      count(
        `keys answered ${answer === 'crash' ? '200 by a sender that died' : answer} first`,
        [...keys.values()].filter((record) => record.first === answer).length,
      );
    if (faults) {
      count('DynamoDB throttles injected (campaigns, sender)', faults.throttled);
      count('transaction conflicts injected', faults.transactionConflicts);
      count('keys left unprocessed in batch reads', faults.unprocessedKeys);
    }
    const owed = [
      ...forcedAnswers.map((answer) => `a first answer ${answer}`),
      ...forcedKinds.map((kind) => `a ${kind} campaign`),
    ];
    return {
      seed,
      rounds,
      campaigns: campaigns.length,
      webhooksChecked,
      mismatches,
      mismatchCount,
      counts,
      owed,
      elapsedSeconds: (Date.now() - started) / 1000,
    };
  } finally {
    await stack.stop();
  }
};

export const formatCampaignSummary = (summary: CampaignSoakSummary): string =>
  [
    `campaign soak: ${summary.webhooksChecked} webhooks checked, ${summary.mismatchCount} mismatches, seed ${summary.seed}`,
    `  ${summary.rounds} rounds, ${summary.campaigns} campaigns, ${summary.elapsedSeconds.toFixed(0)} s`,
    ...Object.entries(summary.counts)
      .sort()
      .map(([name, value]) => `  ${name.padEnd(48)} ${value}`),
    ...(summary.owed.length > 0 ? [`  forced but not seen: ${summary.owed.join(', ')}`] : []),
    ...summary.mismatches.slice(0, 20).map((text) => `  - ${text}`),
  ].join('\n');
