/**
 * The soak's checks after the drain: the store against the oracle (every register, member
 * count and name, and what GET /cohorts shows), every flip on the stream against its event
 * and the oracle's changes, every segment's audience, size and export against set algebra
 * over the oracle, and the HTTP answers (no 5XX but the injected 503s). Each finding goes
 * into the run's checks or mismatches. Part of the chaos soak (test/support/soak.ts).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { membershipEventId } from '../../../lib/cohorts/events.js';
import { CohortMessage } from '../../../lib/cohorts/messages.js';
import { readRegisters } from '../store.js';
import { EVENTS_TIMEOUT_MS, EXPORT_TIMEOUT_MS, PROGRESS_EVERY_MS } from './config.js';
import type { Drained } from './drain.js';
import type { SoakHttp } from './http.js';
import { evaluateFilter, soakOracle, type OracleCohort } from './oracle.js';
import type { SoakRun } from './run.js';
import { brazeIdOf as brazeIdIn } from './setup.js';
import type { SoakStack } from './stack.js';
import { readStreamFlips, type StreamFlip } from './stream.js';
import { cohortKey, refsOf, type SoakWorkspace } from './workspaces.js';

/** Holds the drained stack to the oracle; the findings go into `run`. */
export const runChecks = async (
  run: SoakRun,
  soak: SoakStack,
  { call, expectStatus }: SoakHttp,
  workspaces: readonly SoakWorkspace[],
  { drainStarted, until, redriven, deadLettersAtEnd }: Drained,
): Promise<void> => {
  const { stack } = soak;
  const brazeIdOf = brazeIdIn(workspaces);
  // --- The store against the oracle ---
  const oracle = soakOracle(run.accepted, brazeIdOf);
  let registers = 0;
  let exactCounts = 0;
  let exactNames = 0;
  const allRefs = workspaces.flatMap(refsOf);
  for (const ref of allRefs) {
    const expected: OracleCohort = oracle.cohorts.get(cohortKey(ref)) ?? {
      members: new Map(),
      history: new Map(),
      serialFlips: 0,
    };
    const before = run.mismatchCount;
    const stored = await readRegisters(stack, ref);
    registers += stored.size;
    const where = `${ref.workspaceId}/${ref.partner}/${ref.cohortId}`;
    for (const brazeId of new Set([...stored.keys(), ...expected.members.keys()])) {
      if (stored.get(brazeId) !== expected.members.get(brazeId)) {
        run.mismatch(
          `membership ${where} ${brazeId}: stored ${stored.get(brazeId) ?? 'nothing'}, oracle ${expected.members.get(brazeId) ?? 'nothing'}`,
        );
      }
    }
    const expectedCount = [...expected.members.values()].filter(Boolean).length;
    const cohort = await stack.stores.memberships.getCohort(ref);
    if (cohort?.memberCount === expectedCount) exactCounts += 1;
    else run.mismatch(`member_count ${where}: stored ${cohort?.memberCount}, oracle ${expectedCount}`);
    if (cohort?.name === expected.name?.name) exactNames += 1;
    else
      run.mismatch(
        `name ${where}: stored ${JSON.stringify(cohort?.name)}, oracle (latest rename) ${JSON.stringify(expected.name?.name)}`,
      );
    if (run.mismatchCount > before) {
      // Where the requests of a cohort that mismatches went: those the store has no report of.
      for (const body of run.accepted) {
        const message = CohortMessage.parse(JSON.parse(body));
        if (message.type !== 'cohort.changed' || cohortKey(message) !== cohortKey(ref)) continue;
        if (await stack.stores.memberships.hasSyncReport(ref, message.stamp)) continue;
        run.diagnose(
          `no sync report for ${where} ${message.stamp.requestId}: ${(run.lifecycle.get(message.stamp.requestId) ?? []).join('; ')}`,
        );
      }
    }
  }
  // What the workspace sees over the API: the same counts.
  for (const workspace of workspaces) {
    const answer = await call('final check', '/cohorts', { token: workspace.restApiKey });
    for (const view of (answer?.body.cohorts ?? []) as {
      partner: string;
      cohort_id: string;
      member_count: number;
    }[]) {
      const expected = oracle.cohorts.get(
        cohortKey({ workspaceId: workspace.workspaceId, partner: view.partner, cohortId: view.cohort_id }),
      );
      const expectedCount = expected ? [...expected.members.values()].filter(Boolean).length : 0;
      if (view.member_count !== expectedCount)
        run.mismatch(
          `GET /cohorts ${workspace.label} ${view.partner}/${view.cohort_id}: member_count ${view.member_count}, oracle ${expectedCount}`,
        );
    }
  }
  run.checks.push(
    `memberships: ${registers} registers of ${allRefs.length} cohorts (2 workspaces, 3 partners) against the oracle of ${oracle.requests} accepted requests`,
    `member_count: ${exactCounts}/${allRefs.length} exact (and as GET /cohorts shows them); names: ${exactNames}/${allRefs.length} the latest rename`,
  );

  // --- Every flip has its event, every event its flip ---
  const flips = await readStreamFlips(stack);
  for (const flip of flips.filter((candidate) => candidate.endedBy !== undefined)) {
    run.mismatch(
      `${cohortKey(flip.ref)} ${flip.brazeId}: membership ended by ${flip.endedBy}, but pool users are never merged away`,
    );
  }
  const flipIds = new Map(
    flips.map((flip) => [
      membershipEventId(flip.ref, flip.brazeId, flip.endedBy === 'merge' ? `${flip.orderKey}#merged` : flip.orderKey),
      flip,
    ]),
  );
  const eventsDeadline = until(EVENTS_TIMEOUT_MS);
  run.log(
    `drained in ${Math.round((Date.now() - drainStarted) / 1000)} s; waiting for the events of ${flipIds.size} flips`,
  );
  let said = Date.now();
  while ([...flipIds.keys()].some((id) => !run.published.has(id)) && Date.now() < eventsDeadline) {
    await sleep(500);
    if (Date.now() - said > PROGRESS_EVERY_MS) {
      said = Date.now();
      run.log(
        `events: ${[...flipIds.keys()].filter((id) => !run.published.has(id)).length} of ${flipIds.size} flips still unpublished`,
      );
    }
  }
  for (const [id, flip] of flipIds) {
    const event = run.published.get(id)?.event;
    if (!event)
      run.mismatch(`flip without an event: ${cohortKey(flip.ref)} ${flip.brazeId} ${flip.effect} at ${flip.orderKey}`);
    else if (
      event.type !== `cohort.membership.${flip.effect}` ||
      event.order_stamp !== flip.orderKey ||
      event.user.braze_id !== flip.brazeId
    ) {
      run.mismatch(
        `event ${id} says ${event.type} of ${event.user.braze_id} at ${event.order_stamp}; the flip was ${flip.effect} of ${flip.brazeId} at ${flip.orderKey}`,
      );
    }
  }
  for (const [id, { event }] of run.published) {
    if (!flipIds.has(id))
      run.mismatch(
        `event without a flip: ${event.type} ${event.workspace_id}/${event.partner}/${event.cohort_id} ${event.user.braze_id} at ${event.order_stamp}`,
      );
  }
  // The flips against the oracle: each at a change the oracle has for that user with that
  // effect, alternating from an add, ending in the oracle's state. Requests that reached a
  // register out of stamp order (concurrent invocations, retries, the redrive) supersede
  // each other there, so the store flips at most as often as serial application.
  const flipsByMembership = new Map<string, StreamFlip[]>();
  for (const flip of flips) {
    const key = `${cohortKey(flip.ref)}\u0000${flip.brazeId}`;
    flipsByMembership.set(key, [...(flipsByMembership.get(key) ?? []), flip]);
  }
  let serialFlips = 0;
  let inOrderMemberships = 0;
  for (const cohort of oracle.cohorts.values()) serialFlips += cohort.serialFlips;
  const flipsPerCohort = new Map<string, number>();
  for (const flip of flips) flipsPerCohort.set(cohortKey(flip.ref), (flipsPerCohort.get(cohortKey(flip.ref)) ?? 0) + 1);
  for (const [key, count] of flipsPerCohort) {
    const expected = oracle.cohorts.get(key)?.serialFlips ?? 0;
    if (count > expected)
      run.mismatch(`${key}: ${count} flips in the store, more than the ${expected} of serial application`);
  }
  for (const [key, cohort] of oracle.cohorts) {
    for (const [brazeId, history] of cohort.history) {
      const membershipFlips = (flipsByMembership.get(`${key}\u0000${brazeId}`) ?? []).sort((a, b) =>
        a.orderKey < b.orderKey ? -1 : 1,
      );
      let member = false;
      let legal = true;
      for (const flip of membershipFlips) {
        const change = history.find((entry) => entry.orderKey === flip.orderKey);
        const effect = flip.effect === 'added';
        if (!change || change.member !== effect || member === effect) legal = false;
        member = effect;
      }
      if (member !== (cohort.members.get(brazeId) ?? false)) legal = false;
      if (!legal)
        run.mismatch(
          `flips of ${key} ${brazeId} are no history of the oracle's changes: ${membershipFlips.map((flip) => `${flip.effect}@${flip.orderKey}`).join(', ')}`,
        );
      let serial = 0;
      let state = false;
      for (const entry of history) if (entry.member !== state) (serial += 1), (state = entry.member);
      if (serial === membershipFlips.length) inOrderMemberships += 1;
    }
  }
  const memberships = [...oracle.cohorts.values()].reduce((sum, cohort) => sum + cohort.history.size, 0);
  run.checks.push(
    `events: ${run.publishedTotal} published, ${run.published.size} distinct event_ids = ${flipIds.size} flips on the cohorts table's stream ` +
      `(each flip's event found, no event without a flip; ${run.publishedTotal - run.published.size} redelivered copies)`,
    `flips against the oracle: ${flips.length} in the store, ${serialFlips} in serial application; every membership's flips a history of its ` +
      `changes ending in the oracle's state; ${inOrderMemberships}/${memberships} memberships flipped exactly as serially`,
  );

  // --- Segments: audiences, sizes and exports against the oracle ---
  let audiences = 0;
  let sizes = 0;
  let exportsChecked = 0;
  for (const workspace of workspaces) {
    const membersOf = (partner: string, cohortId: string) => {
      const cohort = oracle.cohorts.get(cohortKey({ workspaceId: workspace.workspaceId, partner, cohortId }));
      return new Set([...(cohort?.members ?? [])].filter(([, member]) => member).map(([brazeId]) => brazeId));
    };
    const universe = new Set(refsOf(workspace).flatMap((ref) => [...membersOf(ref.partner, ref.cohortId)]));
    for (const [segmentId, filter] of workspace.segments) {
      const expected = evaluateFilter(filter, membersOf, universe);
      const seen: string[] = [];
      let cursor: string | null = null;
      do {
        const query: string = new URLSearchParams({ limit: '500', ...(cursor ? { cursor } : {}) }).toString();
        const answer = await call('final check', `/segments/${segmentId}/users?${query}`, {
          token: workspace.restApiKey,
        });
        if (!expectStatus('final segment page', answer, [200])) break;
        seen.push(...(answer.body.users as { braze_id: string }[]).map((user) => user.braze_id));
        cursor = answer.body.next_cursor as string | null;
      } while (cursor !== null);
      const distinct = new Set(seen);
      const missing = [...expected].filter((brazeId) => !distinct.has(brazeId));
      const extra = [...distinct].filter((brazeId) => !expected.has(brazeId));
      if (distinct.size !== seen.length || missing.length > 0 || extra.length > 0) {
        run.mismatch(
          `segment ${segmentId} ${JSON.stringify(filter)}: ${seen.length} users paged (${distinct.size} distinct), oracle ${expected.size}; missing ${missing.length}, extra ${extra.length}`,
        );
      } else audiences += 1;
      const segment = await call('final check', `/segments/${segmentId}`, { token: workspace.restApiKey });
      const view = segment?.body.segment as { size: number | null; size_status: string } | undefined;
      if (view && (view.size_status === 'exact' || view.size_status === 'current')) {
        if (view.size !== expected.size)
          run.mismatch(`segment ${segmentId}: size ${view.size} (${view.size_status}), oracle ${expected.size}`);
        else sizes += 1;
      }
    }
    for (const segmentId of [...workspace.segments.keys()].slice(0, 2)) {
      const expected = evaluateFilter(workspace.segments.get(segmentId)!, membersOf, universe);
      const started = await call('final check', `/segments/${segmentId}/exports`, {
        method: 'POST',
        token: workspace.restApiKey,
      });
      if (!expectStatus('final export', started, [201, 202])) continue;
      let view = started.body.export as { export_id: string; status: string; users_written: number };
      const exportUntil = until(EXPORT_TIMEOUT_MS);
      while (view.status !== 'done' && Date.now() < exportUntil) {
        await sleep(250);
        const polled = await call('final check', `/segments/${segmentId}/exports/${view.export_id}`, {
          token: workspace.restApiKey,
        });
        if (!expectStatus('final export poll', polled, [200])) break;
        view = polled.body.export as typeof view;
      }
      if (view.status !== 'done' || view.users_written !== expected.size)
        run.mismatch(
          `export of segment ${segmentId}: ${view.status}, ${view.users_written} users written, oracle ${expected.size}`,
        );
      else exportsChecked += 1;
    }
  }
  const segmentCount = workspaces.reduce((sum, workspace) => sum + workspace.segments.size, 0);
  run.checks.push(
    `segments: ${audiences}/${segmentCount} audiences paged to the end = set algebra over the oracle; ${sizes} sizes reported exact or current, all equal; ` +
      `${exportsChecked} final exports wrote the oracle's count`,
  );

  // --- HTTP: no 5XX but the injected 503s ---
  const partner503 = Object.entries(run.answers)
    .filter(([kind]) => kind.startsWith('partner'))
    .reduce((sum, [, byStatus]) => sum + (byStatus['503'] ?? 0), 0);
  const refused = run.faults.counts['ingest queue refused the message (503)'] ?? 0;
  if (partner503 !== refused) run.mismatch(`partners got ${partner503} 503s; ${refused} were injected`);
  const other5xx = Object.entries(run.answers).flatMap(([kind, byStatus]) =>
    Object.entries(byStatus)
      .filter(([status]) => Number(status) >= 500 && !(status === '503' && kind.startsWith('partner')))
      .map(([status, count]) => `${kind} ${status} ×${count}`),
  );
  run.checks.push(
    `HTTP: ${partner503} 503s, each an injected queue refusal retried to a 201; other 5XX: ${other5xx.length === 0 ? 'none' : other5xx.join(', ')}`,
  );
  run.checks.push(
    `DLQ: ${deadLettersAtEnd} after ${redriven} redriven; the sync put ${run.requeued} requests back under load; drained in ${((Date.now() - drainStarted) / 1000).toFixed(0)} s`,
  );

  run.faults.add('DynamoDB throttled (limits model)', soak.limits.stats().outcomes.throttled);
  run.faults.add('transaction conflicts (limits model)', soak.limits.stats().outcomes.conflict);
  run.faults.add('DynamoDB throttled (injected at the SDK)', soak.injected?.throttled ?? 0);
  run.faults.add('transaction conflicts (injected at the SDK)', soak.injected?.transactionConflicts ?? 0);
  run.faults.add('BatchGetItem keys left unprocessed (injected)', soak.injected?.unprocessedKeys ?? 0);
};
