/**
 * `npm run bench -- --scenario campaign [--users 100000 --samples 20 --writers 16]`
 *
 * Campaigns on the local stack, against the raw ceiling of the same receiver:
 * - a scheduled campaign to a segment of N users (seeded straight into the tables under the
 *   stores' own keys): from the tick to the last webhook received, in messages/s; then, in
 *   the same run, N POSTs of the same size to the same receiver from a tight loop through
 *   the same HTTP client, as many in flight as the sender has (pollers × batch); the ratio
 *   of the two is the figure (goal ≥ 0.8);
 * - an action-based campaign (no delay): time from a partner's cohort import (the POST) to
 *   the webhook received, one user at a time, p50 and p99.
 * Writes bench/results/campaign-<time>.json and campaign-latest.json.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { cpus, totalmem } from 'node:os';
import { parseArgs } from 'node:util';
import { startLocalStack } from '../lib/local/stack.js';
import { profileKey, USER_COUNT_LANES, userCountKey, workspaceIndexKeys } from '../lib/dynamodb/user-store.js';
import {
  cohortKey,
  cohortListKey,
  cohortSortKey,
  laneSortKey,
  memberSortKey,
  registerKey,
} from '../lib/dynamodb/membership-store.js';
import { registerShardOf } from '../lib/dynamodb/shards.js';
import { SafeHttpClient } from '../lib/webhooks/safe-http.js';
import { bulkWrite, log, now, percentile, pool } from './lib/harness.js';

process.env.POWERTOOLS_LOG_LEVEL ??= 'ERROR';
process.env.POWERTOOLS_METRICS_DISABLED ??= 'true';
process.env.POWERTOOLS_TRACE_ENABLED ??= 'false';

const { values } = parseArgs({
  options: {
    scenario: { type: 'string', default: 'campaign' },
    users: { type: 'string', default: '100000' },
    samples: { type: 'string', default: '20' },
    writers: { type: 'string', default: '16' },
    senders: { type: 'string', default: '4' },
  },
});
const USERS = Number(values.users);
const SAMPLES = Number(values.samples);
const WRITERS = Number(values.writers);
/** Sender pollers (emulated concurrent invocations), each taking batches of 10. */
const SENDERS = Number(values.senders);
const IN_FLIGHT = SENDERS * 10;
const BODY = '{"to":"{{ external_id }}","campaign":"{{ campaign.name }}"}';

const waitFor = async (check: () => boolean, timeoutMs: number, what: string) => {
  const started = now();
  while (!check()) {
    if (now() - started > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
};

log(`campaign: ${USERS.toLocaleString('en-US')} users, ${SENDERS} sender pollers (${IN_FLIGHT} webhooks in flight)`);
const stack = await startLocalStack({
  prefix: `cmp${Date.now().toString(36)}`,
  poll: true,
  visibilityTimeoutSeconds: 180,
  watchEvents: false,
  exportsFolder: 'bench/.exports',
  campaigns: { tickEveryMs: 0, senderConcurrency: SENDERS, cacheTtlMs: 5_000 },
});

try {
  const workspaceId = stack.workspace.workspaceId;
  const documents = stack.clients.documents;
  const receiver = stack.campaigns.receiver;
  const headers = { authorization: `Bearer ${stack.workspace.restApiKey}`, 'content-type': 'application/json' };
  const call = async <T>(path: string, body?: unknown): Promise<T> => {
    const response = await fetch(`${stack.url}${path}`, {
      method: body === undefined ? 'GET' : 'POST',
      headers,
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const answer = (await response.json()) as T;
    if (response.status >= 300) throw new Error(`${path}: ${response.status} ${JSON.stringify(answer)}`);
    return answer;
  };

  // --- seeding: N profiles and one cohort holding them all --------------------------------
  const seededAt = new Date().toISOString();
  const brazeIds = randomBytes(12 * USERS)
    .toString('hex')
    .match(/.{24}/g)!;
  const cohort = { workspaceId, partner: 'heap', cohortId: 'bench-audience' };
  function* userItems() {
    for (let i = 0; i < USERS; i += 1) {
      const brazeId = brazeIds[i]!;
      yield {
        pk: profileKey(workspaceId, brazeId),
        ...workspaceIndexKeys(workspaceId, brazeId),
        brazeId,
        workspaceId,
        externalId: `bench-${i}`,
        aliases: [],
        deviceIds: [],
        customAttributes: {},
        createdAt: seededAt,
        updatedAt: seededAt,
      };
    }
    for (let lane = 0; lane < USER_COUNT_LANES; lane += 1) {
      const share = Math.floor(USERS / USER_COUNT_LANES) + (lane < USERS % USER_COUNT_LANES ? 1 : 0);
      yield { pk: userCountKey(workspaceId, lane), users: share, lastCreatedAt: seededAt };
    }
  }
  function* cohortItems() {
    for (const brazeId of brazeIds)
      yield {
        pk: registerKey(cohort, registerShardOf(brazeId)),
        sk: memberSortKey(brazeId),
        brazeId,
        member: true,
        orderKey: '0',
        effect: 'added',
        updatedAt: seededAt,
      };
    yield {
      pk: cohortListKey(workspaceId),
      sk: cohortSortKey(cohort),
      partner: 'heap',
      cohortId: cohort.cohortId,
      name: 'Bench audience',
      firstSeenAt: seededAt,
      lastSyncedAt: seededAt,
    };
    yield { pk: cohortKey(cohort), sk: laneSortKey(0), members: USERS };
  }
  await bulkWrite(documents, stack.tables.users, userItems(), WRITERS, 'users');
  await bulkWrite(documents, stack.tables.cohorts, cohortItems(), WRITERS, 'memberships');

  const segment = await call<{ segment: { segment_id: string } }>('/segments', {
    name: 'Bench audience',
    filter: { cohort: { partner: 'heap', cohort_id: cohort.cohortId, includes: true } },
  });

  // --- a scheduled campaign to the whole segment ------------------------------------------
  const scheduled = await call<{ campaign: { campaign_id: string } }>('/campaigns', {
    name: 'Bench promo',
    segment_ids: [segment.segment.segment_id],
    message: { url: `${receiver.url}/scheduled`, headers: { 'content-type': 'application/json' }, body: BODY },
    delivery: { type: 'scheduled' },
  });
  await call(`/campaigns/${scheduled.campaign.campaign_id}/launch`, {});
  const scheduledCount = () => receiver.received.filter((webhook) => webhook.path === '/scheduled').length;
  const campaignStarted = now();
  await stack.campaigns.tick();
  await waitFor(() => scheduledCount() >= USERS, 3_600_000, 'the scheduled campaign');
  const campaignMs = now() - campaignStarted;
  const campaignRate = USERS / (campaignMs / 1000);
  log(`scheduled campaign: ${USERS} webhooks in ${(campaignMs / 1000).toFixed(1)} s (${campaignRate.toFixed(0)}/s)`);

  // --- the raw ceiling: the same POSTs from a tight loop, same client, same concurrency ---
  const client = new SafeHttpClient({ allowHttp: true, allowList: [`127.0.0.1:${receiver.port}`] });
  const body = JSON.stringify({ to: 'bench-0', campaign: 'Bench promo' });
  const rawStarted = now();
  await pool(USERS, IN_FLIGHT, async () => {
    const result = await client.send({
      url: `${receiver.url}/raw`,
      method: 'POST',
      headers: { 'content-type': 'application/json', 'Idempotency-Key': 'raw' },
      body,
    });
    if (result.kind !== 'response' || result.status !== 200) throw new Error(`raw POST: ${JSON.stringify(result)}`);
  });
  const rawMs = now() - rawStarted;
  client.close();
  const rawRate = USERS / (rawMs / 1000);
  log(`raw ceiling: ${USERS} POSTs in ${(rawMs / 1000).toFixed(1)} s (${rawRate.toFixed(0)}/s)`);

  // --- action-based: import to webhook, one user at a time --------------------------------
  await fetch(`${stack.url}/partners/heap/cohorts`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      partner_api_key: stack.partnerApiKey,
      client_secret: stack.workspace.dataImportKey,
      cohort_id: 'bench-trigger',
      name: 'Bench trigger',
      created_at: new Date().toISOString(),
    }),
  }).then((response) => {
    if (response.status !== 201) throw new Error(`naming the trigger cohort: ${response.status}`);
  });
  let triggerSegment: { segment: { segment_id: string } } | undefined;
  for (let attempt = 0; !triggerSegment; attempt += 1) {
    try {
      triggerSegment = await call('/segments', {
        name: 'Bench trigger',
        filter: { cohort: { partner: 'heap', cohort_id: 'bench-trigger', includes: true } },
      });
    } catch (error: unknown) {
      // The sync names the cohort asynchronously: a segment on it is a 400 until then.
      if (attempt > 600) throw error;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
  const action = await call<{ campaign: { campaign_id: string } }>('/campaigns', {
    name: 'Bench trigger',
    segment_ids: [triggerSegment.segment.segment_id],
    message: { url: `${receiver.url}/action/{{ external_id }}`, body: BODY },
    delivery: { type: 'action_based' },
  });
  await call(`/campaigns/${action.campaign.campaign_id}/launch`, {});
  // Users the partner can match (the seeded ones have no identifier index items: segments never read them).
  await call('/users/track', {
    attributes: Array.from({ length: SAMPLES }, (_, sample) => ({ external_id: `latency-${sample}` })),
  });
  const latencies: number[] = [];
  for (let sample = 0; sample < SAMPLES; sample += 1) {
    const externalId = `latency-${sample}`;
    const posted = Date.now();
    const response = await fetch(`${stack.url}/partners/heap/cohorts/users`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        partner_api_key: stack.partnerApiKey,
        client_secret: stack.workspace.dataImportKey,
        cohort_id: 'bench-trigger',
        cohort_changes: [{ user_ids: [externalId] }],
      }),
    });
    if (response.status !== 201) throw new Error(`import: ${response.status}`);
    await waitFor(
      () => receiver.received.some((webhook) => webhook.path === `/action/${externalId}`),
      60_000,
      `the webhook of ${externalId}`,
    );
    latencies.push(receiver.received.find((webhook) => webhook.path === `/action/${externalId}`)!.at - posted);
  }
  const p50 = percentile(latencies, 50);
  const p99 = percentile(latencies, 99);
  log(`action-based: import → webhook p50 ${p50} ms, p99 ${p99} ms over ${SAMPLES} imports`);

  const result = {
    scenario: 'campaign',
    at: new Date().toISOString(),
    machine: { cpus: cpus().length, memoryGiB: Math.round(totalmem() / 2 ** 30) },
    users: USERS,
    inFlight: IN_FLIGHT,
    scheduled: { seconds: campaignMs / 1000, messagesPerSecond: Math.round(campaignRate) },
    raw: { seconds: rawMs / 1000, postsPerSecond: Math.round(rawRate) },
    ratio: Number((campaignRate / rawRate).toFixed(3)),
    goal: 0.8,
    actionBased: { samples: SAMPLES, p50Ms: p50, p99Ms: p99 },
  };
  console.log(JSON.stringify(result, null, 2));
  await mkdir('bench/results', { recursive: true });
  const stamp = result.at.replace(/[:.]/g, '-');
  await writeFile(`bench/results/campaign-${stamp}.json`, `${JSON.stringify(result, null, 2)}\n`);
  await writeFile('bench/results/campaign-latest.json', `${JSON.stringify(result, null, 2)}\n`);
} finally {
  await stack.stop();
}
