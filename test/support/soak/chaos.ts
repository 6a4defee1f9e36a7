/**
 * The soak's chaos: for its minutes (and until the partners have sent their share), the
 * load runs beside the chaos schedule — duplicate deliveries, throttling storms (AWS's
 * limits model, some severe), a cohort store's outages until its records are dead-lettered —
 * and a progress line every 30 s. Part of the chaos soak (test/support/soak.ts).
 */
import { SendMessageBatchCommand } from '@aws-sdk/client-sqs';
import { setTimeout as sleep } from 'node:timers/promises';
import { queueDepth } from '../../../local/settle.js';
import {
  CHAOS_OVERRUN_MS,
  DYNAMODB_FAULT_RATES,
  FIRST_STORM_AFTER_MS,
  OUTAGE_TIMEOUT_MS,
  POOL_USERS,
  SEVERE_STORM_FAULT_RATES,
  STORM_SCALE,
  VISIBILITY_TIMEOUT_SECONDS,
} from './config.js';
import type { SoakHttp } from './http.js';
import { soakLoad } from './load.js';
import type { SoakRun } from './run.js';
import type { SoakStack } from './stack.js';
import { cohortKey, poolExternalId, refsOf, type SoakWorkspace } from './workspaces.js';

/** Runs the chaos to its end; the seconds it lasted. */
export const runChaos = async (
  run: SoakRun,
  soak: SoakStack,
  http: SoakHttp,
  workspaces: readonly SoakWorkspace[],
): Promise<number> => {
  const { stack } = soak;
  const { sendAsPartner } = http;
  const chaosStarted = Date.now();
  const chaosEnds = chaosStarted + run.options.minutes * 60_000;
  run.phaseDeadline = chaosEnds + CHAOS_OVERRUN_MS;
  const minPartnerDeltas = run.options.minPartnerDeltas ?? 0;
  /** Until the time is up and the partners have sent their share of work: a slower machine soaks longer, not less. */
  let chaosOver = false;
  const running = () => {
    if (chaosOver) return false;
    const deltas = run.requests.counts['partner cohort deltas'] ?? 0;
    if (Date.now() >= chaosEnds && deltas >= minPartnerDeltas) chaosOver = true;
    else if (Date.now() >= chaosEnds + CHAOS_OVERRUN_MS) {
      chaosOver = true;
      run.mismatch(
        `the partners sent ${deltas} of their ${minPartnerDeltas} deltas in ${Math.round((Date.now() - chaosStarted) / 1000)} s: ` +
          `the stack stalled (${run.accepted.length} accepted; the progress lines say where)`,
      );
    }
    return !chaosOver;
  };
  run.chaos.on = true;
  Object.assign(soak.dynamoDbFaultRates, DYNAMODB_FAULT_RATES);

  const { partnerFeed, restClient } = soakLoad(run, stack, http, running);

  /** Copies of already-accepted messages, sent again to the cohort queue in shuffled order: SQS's at-least-once, reordered. */
  const duplicator = async () => {
    let rounds = 0;
    // At least one round, whatever the timing: the chaos always has accepted messages to copy.
    while (running() || (rounds === 0 && run.accepted.length > 0)) {
      await sleep(500 + run.int(1_500));
      if (run.accepted.length === 0) continue;
      rounds += 1;
      const copies = run.shuffled(
        Array.from({ length: 1 + run.int(10) }, () =>
          run.chance(0.5)
            ? run.accepted[run.accepted.length - 1 - run.int(Math.min(50, run.accepted.length))]!
            : run.pick(run.accepted),
        ),
      );
      const sent = await stack.clients.sqs.send(
        new SendMessageBatchCommand({
          QueueUrl: stack.queues.queueUrl,
          Entries: copies.map((body, index) => ({ Id: String(index), MessageBody: body })),
        }),
      );
      run.faults.add('duplicate deliveries (accepted messages re-sent, shuffled)', sent.Successful?.length ?? 0);
    }
  };

  /**
   * DynamoDB at AWS's limits (÷STORM_SCALE) for a few seconds at a time: throttling and
   * transaction conflicts. One storm in three is severe: on top, half of all calls are
   * throttled and a third of the transactions conflict, so that the store's own retries
   * give up and the sync puts requests back on the queue.
   */
  const storms = async () => {
    for (let storm = 0; running(); storm += 1) {
      // The first a few seconds in, so that every soak has one; the others at random.
      await sleep(storm === 0 ? FIRST_STORM_AFTER_MS : (5 + run.int(15)) * 1_000);
      if (!running()) break;
      const severe = run.chance(1 / 3);
      soak.limits.enabled = true;
      if (severe) Object.assign(soak.dynamoDbFaultRates, SEVERE_STORM_FAULT_RATES);
      // Whatever the model and the dice make of the load meanwhile, each storm throttles, holds back keys and conflicts.
      for (const kind of ['throttle', 'unprocessedKeys', 'transactionConflict'] as const) soak.injected?.force(kind);
      run.faults.add(
        severe
          ? `severe throttling storms (AWS limits model ÷${STORM_SCALE}, and more)`
          : `throttling storms (AWS limits model ÷${STORM_SCALE})`,
      );
      await sleep((4 + run.int(8)) * 1_000);
      soak.limits.enabled = false;
      if (severe && run.chaos.on) Object.assign(soak.dynamoDbFaultRates, DYNAMODB_FAULT_RATES);
    }
  };

  /**
   * One cohort's store refuses every apply until its records have gone to the DLQ (5
   * receives, a visibility timeout apart, behind whatever backlog there is), then
   * recovers; the dead letters are redriven at the end, older than what followed them.
   * The outage sends a delta of its own to the cohort, so that a record always reaches
   * the DLQ, however the partners' random picks fall.
   */
  const outages = async () => {
    const shortest = VISIBILITY_TIMEOUT_SECONDS * (stack.queues.maxReceiveCount + 1) * 1_000;
    const allRefs = workspaces.flatMap(refsOf);
    let next = chaosStarted + Math.min(10_000, run.options.minutes * 6_000);
    while (running()) {
      await sleep(Math.max(0, Math.min(next, chaosEnds) - Date.now()));
      if (Date.now() + shortest > chaosEnds) break;
      const ref = run.pick(allRefs);
      run.outage = cohortKey(ref);
      const began = Date.now();
      run.faults.add('cohort store outages (until records are dead-lettered)');
      run.log(`outage of ${ref.partner}/${ref.cohortId} (${ref.workspaceId})`);
      const workspace = workspaces.find((candidate) => candidate.workspaceId === ref.workspaceId)!;
      await sendAsPartner('partner cohort deltas', `/partners/${ref.partner}/cohorts/users`, {
        partner_api_key: stack.partnerApiKey,
        client_secret: workspace.dataImportKey,
        cohort_id: ref.cohortId,
        cohort_changes: [{ user_ids: [poolExternalId(run.int(POOL_USERS))] }],
      });
      // It may outlast the chaos: the drain starts once its records are in the DLQ.
      while (
        Date.now() - began < shortest ||
        (await queueDepth(stack.clients.sqs, stack.queues.deadLetterQueueUrl)) === 0
      ) {
        if (Date.now() - began > OUTAGE_TIMEOUT_MS || Date.now() > chaosEnds + CHAOS_OVERRUN_MS) {
          run.mismatch(
            `outage of ${ref.partner}/${ref.cohortId}: nothing reached the DLQ in ${Math.round((Date.now() - began) / 1000)} s ` +
              `(the queue holds ${await queueDepth(stack.clients.sqs, stack.queues.queueUrl)})`,
          );
          break;
        }
        await sleep(1_000);
      }
      run.outage = undefined;
      run.log(`outage over after ${Math.round((Date.now() - began) / 1000)} s`);
      next = Date.now() + 60_000 + run.int(120_000);
    }
  };

  const progress = async () => {
    while (running()) {
      await sleep(Math.min(30_000, Math.max(1_000, chaosEnds - Date.now())));
      const depth = await queueDepth(stack.clients.sqs, stack.queues.queueUrl).catch(() => NaN);
      run.log(
        `${Math.round((Date.now() - chaosStarted) / 1000)} s: ${run.accepted.length} accepted, queue ${depth}, ${run.publishedTotal} events, ` +
          `${Object.values(run.faults.counts).reduce((sum, count) => sum + count, 0)} faults, ${run.mismatchCount} mismatches`,
      );
    }
  };

  await Promise.all([
    ...workspaces.flatMap((workspace) =>
      [...workspace.feeds].map(([partner, cohortIds]) => partnerFeed(workspace, partner, cohortIds)),
    ),
    ...workspaces.flatMap((workspace) => [restClient(workspace), restClient(workspace)]),
    duplicator(),
    storms(),
    outages(),
    progress(),
  ]);
  return (Date.now() - chaosStarted) / 1000;
};
