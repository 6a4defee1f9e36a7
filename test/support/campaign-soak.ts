/**
 * The campaign soak (issue 16): random cohort churn, random campaigns (action-based with and
 * without a delay, scheduled now or later, recurring daily), launches and stops, receivers
 * that fail, redelivered queue messages and membership events published again, partner
 * switches and key rotations in the middle of it, all through the REST and partner APIs of
 * one local stack, with the campaigns' clock moved by the soak. A serial oracle computes
 * which webhooks must arrive and which must not; every arrival is held to it.
 *
 * What keeps the oracle exact: the soak runs in rounds. A round changes campaigns (launch,
 * stop), then the partners' cohorts (at most one change per user and cohort in a round, so
 * the sync's order of application cannot matter), then waits until the stack has settled
 * (every queue empty, every poller idle: lib/local/settle.ts); only then does it move the
 * campaigns' clock, tick, and settle again. So every membership change happens at a known
 * campaigns time, every due send is released at a known tick, and the audience of every
 * send is the oracle's membership at that moment.
 *
 * Checked, for every campaign and user: the webhooks that arrived (by Idempotency-Key) are
 * exactly those the oracle expects, none before it was due, none after the user left or the
 * campaign stopped; a key is POSTed again only after a 5XX, never after a 2XX or a 400 (at
 * most once); the figures (targeted, sent, delivered, failed) equal the oracle's; partner
 * requests are refused from the moment a partner is disabled or a key rotated out, and
 * accepted again when enabled. `npm run soak -- --campaigns --minutes N [--seed S]` runs it
 * (scripts/soak.ts); test/integration/campaign-soak.test.ts runs one minute of it.
 *
 * Not modelled (yet): the frequency cap, re-eligibility, Canvases' later steps, a sender that
 * dies mid-request (at most once makes that send a counted failure, which the oracle would
 * need to be told of), AWS throttling on the campaigns table.
 */
import { createHash, randomBytes } from 'node:crypto';
import { SendMessageCommand } from '@aws-sdk/client-sqs';
import type { SQSEvent } from 'aws-lambda';
import type { RecurringSchedule } from '../../lib/campaigns/model.js';
import { nextOccurrence } from '../../lib/campaigns/schedule.js';
import type { MembershipEvent } from '../../lib/cohorts/events.js';
import type { SqsHandler } from '../../lib/local/sqs-poller.js';
import { startLocalStack, type LocalStack } from '../../lib/local/stack.js';
import type { ReceivedWebhook } from '../../lib/local/webhook-receiver.js';
import { deliveredTwice } from './events.js';
import { seededRandom } from './faults.js';

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
  elapsedSeconds: number;
}

const USERS = 24;
const COHORTS = ['c0', 'c1', 'c2'];
const MAX_LIVE_CAMPAIGNS = 10;
const HOUR = 3_600_000;
/** Delays of action-based campaigns, seconds. */
const DELAYS = [0, 600, 600, 3_600, 7_200];
/** How far the clock moves between rounds. */
const STEPS_MS = [0, 5 * 60_000, 10 * 60_000, HOUR, 2 * HOUR, 24 * HOUR];
/** The sender's attempts (the stack's retry policy below): a key is POSTed at most this often. */
const MAX_ATTEMPTS = 3;
const MAX_KEPT_MISMATCHES = 50;
/** Far above need (a held copy comes back after the 10 s lease): a stall ends with what was still queued. */
const SETTLE_TIMEOUT_MS = 120_000;

type Kind = 'action' | 'once' | 'daily';

interface OracleCampaign {
  index: number;
  campaignId: string;
  kind: Kind;
  cohort: string;
  delaySeconds: number;
  active: boolean;
  /** action: user → entry (entered at, exited) — never re-eligible, so at most one. */
  entries: Map<string, { enteredAt: number; exited: boolean; settled: boolean }>;
  /** once/daily: when the next run is due, if any. */
  nextRunAt?: number;
  recurring?: RecurringSchedule;
  /** once/daily: the campaigns-clock instants of the runs the oracle expects (every send of a run arrives then). */
  runTimes: Set<number>;
  /** What must have arrived: user → number of sends (runs for scheduled, 1 for action). */
  expected: Map<string, number>;
  /** Figures the oracle expects. */
  targeted: number;
}

/** What the receiver answered each key: the first attempt may fail (500) or be refused (400). */
interface KeyRecord {
  campaignIndex: number;
  user: string;
  arrivals: { clock: number; status: number }[];
}

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
  /** Redeliver queue batches to the campaigns function and the sender (SQS's at-least-once). */
  let duplicateDeliveries = false;
  const seenEvents: MembershipEvent[] = [];
  const twice = (handler: SqsHandler, seen?: (event: SQSEvent) => void): SqsHandler =>
    deliveredTwice(handler, () => duplicateDeliveries, { seen, twice: () => count('batches delivered twice') });

  const stack: LocalStack = await startLocalStack({
    sqsEndpoint: options.sqsEndpoint,
    dynamoDbEndpoint: options.dynamoDbEndpoint,
    prefix: `csoak${randomBytes(4).toString('hex')}`,
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
      retry: { baseSeconds: 0, capSeconds: 0, maxAttempts: MAX_ATTEMPTS },
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
  let webhooksChecked = 0;
  const firstAnswer = new Map<string, number>();
  stack.campaigns.receiver.answer = (webhook: ReceivedWebhook) => {
    const key = String(webhook.headers['idempotency-key'] ?? '');
    const match = /^\/cs\/(\d+)\/([^/?]+)$/.exec(webhook.path);
    if (!match || key === '') {
      mismatch(`a webhook the soak did not set up: ${webhook.method} ${webhook.path} (key ${key || 'none'})`);
      return 200;
    }
    const record = keys.get(key) ?? { campaignIndex: Number(match[1]), user: match[2]!, arrivals: [] };
    keys.set(key, record);
    let status = 200;
    if (record.arrivals.length === 0) {
      // From the seed and the key, not the driver's generator: the answer does not depend on when the POST came.
      const roll = createHash('sha256').update(`${seed}\u0000${key}`).digest().readUInt32BE(0) / 2 ** 32;
      status = roll < 0.15 ? 500 : roll < 0.2 ? 400 : 200;
      firstAnswer.set(key, status);
    }
    const last = record.arrivals.at(-1);
    if (last && last.status < 500)
      mismatch(`key ${key} of campaign ${record.campaignIndex}, ${record.user}: POSTed again after a ${last.status}`);
    record.arrivals.push({ clock: now, status });
    return status;
  };

  const rest = async (method: string, path: string, body?: unknown) => {
    const response = await fetch(`${stack.url}${path}`, {
      method,
      headers: { authorization: `Bearer ${stack.workspace.restApiKey}`, 'content-type': 'application/json' },
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

  try {
    // --- Setup: users, cohorts (named), a segment per cohort ---
    const users = Array.from({ length: USERS }, (_, index) => `u${index}`);
    const tracked = await rest('POST', '/users/track', {
      attributes: users.map((external_id) => ({ external_id, plan: pick(['free', 'pro']) })),
    });
    if (tracked.status !== 201) throw new Error(`users not created: ${tracked.status}`);
    for (const cohort of COHORTS)
      if (
        (await partner('/cohorts', {
          cohort_id: cohort,
          name: `Cohort ${cohort}`,
          created_at: '2030-01-01T00:00:00Z',
        })) !== 201
      )
        throw new Error(`cohort ${cohort} not named`);
    await stack.settled(SETTLE_TIMEOUT_MS);
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
    const hook = (index: number) => `${stack.campaigns.receiver.url}/cs/${index}/{{ external_id }}`;
    const expect = (campaign: OracleCampaign, user: string) => {
      campaign.expected.set(user, (campaign.expected.get(user) ?? 0) + 1);
    };

    // --- Rounds ---
    const soakEnds = Date.now() + options.minutes * 60_000;
    let rounds = 0;
    while (Date.now() < soakEnds || rounds < (options.minRounds ?? 0)) {
      rounds += 1;
      duplicateDeliveries = chance(0.25);

      // 1. Campaigns: launch new ones, stop some.
      const live = campaigns.filter((campaign) => campaign.active);
      if (live.length < MAX_LIVE_CAMPAIGNS && chance(0.5)) {
        const index = campaigns.length;
        const kind: Kind = pick(['action', 'action', 'action', 'once', 'daily']);
        const cohort = pick(COHORTS);
        const delaySeconds = kind === 'action' ? pick(DELAYS) : 0;
        const laterMs = kind === 'once' && chance(0.5) ? pick([HOUR, 3 * HOUR]) : 0;
        const recurring: RecurringSchedule | undefined =
          kind === 'daily'
            ? { frequency: 'daily', time: `${String(int(24)).padStart(2, '0')}:00`, timezone: 'UTC' }
            : undefined;
        const delivery =
          kind === 'action'
            ? { type: 'action_based', delay_seconds: delaySeconds, reeligible_after_days: null }
            : {
                type: 'scheduled',
                ...(laterMs > 0 ? { at: new Date(now + laterMs).toISOString() } : {}),
                ...(recurring ? { recurring } : {}),
              };
        const created = await rest('POST', '/campaigns', {
          name: `soak ${index} ${kind}`,
          segment_ids: [segments.get(cohort)],
          message: { url: hook(index), body: '{"user":"{{ external_id }}","campaign":"{{ campaign.name }}"}' },
          delivery,
        });
        const launched =
          created.status === 201
            ? await rest('POST', `/campaigns/${created.body.campaign.campaign_id}/launch`)
            : created;
        if (launched.status !== 200) mismatch(`campaign ${index} (${kind}) not launched: ${launched.status}`);
        else {
          count(`campaigns launched (${kind})`);
          campaigns.push({
            index,
            campaignId: created.body.campaign.campaign_id as string,
            kind,
            cohort,
            delaySeconds,
            active: true,
            entries: new Map(),
            ...(kind === 'once' ? { nextRunAt: now + laterMs } : {}),
            ...(recurring ? { recurring, nextRunAt: nextOccurrence(recurring, now - 1) } : {}),
            expected: new Map(),
            runTimes: new Set(),
            targeted: 0,
          });
        }
      }
      if (live.length > 0 && chance(0.12)) {
        const stopping = pick(live);
        const stopped = await rest('POST', `/campaigns/${stopping.campaignId}/stop`);
        if (stopped.status !== 200) mismatch(`campaign ${stopping.index} not stopped: ${stopped.status}`);
        else {
          stopping.active = false;
          count('campaigns stopped');
        }
      }
      await stack.settled(SETTLE_TIMEOUT_MS);

      // 2. Switches and keys: a partner disabled is refused until enabled; a key rotated out is refused at once.
      if (chance(0.15)) {
        await rest('PUT', '/workspace/partners/heap', { enabled: false });
        const refused = await partner('/cohorts/users', { cohort_id: 'c0', cohort_changes: [{ user_ids: ['u0'] }] });
        if (refused !== 401) mismatch(`a delta while heap is disabled answered ${refused}, not 401`);
        await rest('PUT', '/workspace/partners/heap', { enabled: true });
        count('partner disabled and enabled again');
      }
      if (chance(0.1)) {
        const rotated = await rest('POST', '/workspace/keys/data_import', { grace_seconds: 0 });
        if (rotated.status !== 201) mismatch(`key rotation answered ${rotated.status}`);
        else {
          const old = dataImportKey;
          dataImportKey = rotated.body.key.key as string;
          const refused = await partner(
            '/cohorts/users',
            { cohort_id: 'c0', cohort_changes: [{ user_ids: ['u0'] }] },
            old,
          );
          if (refused !== 401) mismatch(`a delta with the key rotated out answered ${refused}, not 401`);
          count('data import key rotated');
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
      await stack.settled(SETTLE_TIMEOUT_MS);
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
        await stack.settled(SETTLE_TIMEOUT_MS);
      }
      // The oracle: entries at this instant; a delay of 0 sends now (the user is still a member: one change a round).
      for (const flip of flips) {
        for (const campaign of campaigns) {
          if (campaign.kind !== 'action' || campaign.cohort !== flip.cohort) continue;
          const entry = campaign.entries.get(flip.user);
          if (flip.member && campaign.active && !entry) {
            campaign.entries.set(flip.user, { enteredAt: now, exited: false, settled: false });
            campaign.targeted += 1;
            if (campaign.delaySeconds === 0) {
              expect(campaign, flip.user);
              campaign.entries.get(flip.user)!.settled = true;
            }
          } else if (!flip.member && entry && !entry.settled) entry.exited = true;
        }
      }

      // 4. Time: the clock moves, ticks release what is due; the oracle decides each due send.
      now += pick(STEPS_MS);
      await stack.campaigns.tick();
      await stack.settled(SETTLE_TIMEOUT_MS);
      await stack.campaigns.tick();
      await stack.settled(SETTLE_TIMEOUT_MS);
      for (const campaign of campaigns) {
        if (campaign.kind === 'action') {
          for (const [user, entry] of campaign.entries) {
            if (entry.settled || entry.enteredAt + campaign.delaySeconds * 1000 > now) continue;
            entry.settled = true;
            if (campaign.active && !entry.exited && members.get(campaign.cohort)!.has(user)) expect(campaign, user);
          }
        } else if (campaign.active && campaign.nextRunAt !== undefined && campaign.nextRunAt <= now) {
          campaign.runTimes.add(now);
          for (const user of members.get(campaign.cohort)!) {
            expect(campaign, user);
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

    // --- The checks ---
    for (const campaign of campaigns) {
      const arrived = new Map<string, KeyRecord[]>();
      for (const record of keys.values())
        if (record.campaignIndex === campaign.index)
          arrived.set(record.user, [...(arrived.get(record.user) ?? []), record]);
      for (const user of new Set([...arrived.keys(), ...campaign.expected.keys()])) {
        const got = arrived.get(user)?.length ?? 0;
        const want = campaign.expected.get(user) ?? 0;
        webhooksChecked += got;
        if (got !== want)
          mismatch(
            `campaign ${campaign.index} (${campaign.kind}, delay ${campaign.delaySeconds} s) to ${user}: ${got} message(s) arrived, the oracle expects ${want}`,
          );
      }
      for (const records of arrived.values())
        for (const record of records) {
          const final = record.arrivals.at(-1)!;
          if (final.status >= 500 && record.arrivals.length < MAX_ATTEMPTS)
            mismatch(`campaign ${campaign.index} to ${record.user}: a 500 was not retried`);
          if (record.arrivals.length > MAX_ATTEMPTS)
            mismatch(`campaign ${campaign.index} to ${record.user}: ${record.arrivals.length} POSTs of one key`);
          const entry = campaign.entries.get(record.user);
          if (entry && record.arrivals[0]!.clock < entry.enteredAt + campaign.delaySeconds * 1000)
            mismatch(`campaign ${campaign.index} to ${record.user}: sent before it was due`);
          // A scheduled run's sends arrive at the tick the oracle runs it: not before, not at another hour.
          if (campaign.kind !== 'action' && record.arrivals.some((arrival) => !campaign.runTimes.has(arrival.clock)))
            mismatch(
              `campaign ${campaign.index} (${campaign.kind}) to ${record.user}: sent at ${new Date(record.arrivals[0]!.clock).toISOString()}, not at a run the oracle expects`,
            );
        }
      const view = await rest('GET', `/campaigns/${campaign.campaignId}`);
      const figures = view.body.campaign?.figures as
        | { targeted: number; sent: number; delivered: number; failed: number }
        | undefined;
      const records = [...keys.values()].filter((record) => record.campaignIndex === campaign.index);
      const delivered = records.filter((record) => record.arrivals.at(-1)!.status < 300).length;
      const failed = records.length - delivered;
      const want = { targeted: campaign.targeted, sent: records.length, delivered, failed };
      const got = figures && {
        targeted: figures.targeted,
        sent: figures.sent,
        delivered: figures.delivered,
        failed: figures.failed,
      };
      if (JSON.stringify(got) !== JSON.stringify(want))
        mismatch(
          `campaign ${campaign.index} (${campaign.kind}) figures ${JSON.stringify(got)}, the oracle's ${JSON.stringify(want)}`,
        );
    }
    count('keys answered 500 first', [...firstAnswer.values()].filter((status) => status === 500).length);
    count('keys answered 400', [...firstAnswer.values()].filter((status) => status === 400).length);
    return {
      seed,
      rounds,
      campaigns: campaigns.length,
      webhooksChecked,
      mismatches,
      mismatchCount,
      counts,
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
      .map(([name, value]) => `  ${name.padEnd(44)} ${value}`),
    ...summary.mismatches.slice(0, 20).map((text) => `  - ${text}`),
  ].join('\n');
