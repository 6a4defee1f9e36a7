/**
 * The chaos soak (issue 9). Against one local stack, for N minutes at once: partners send
 * cohort deltas and renames over HTTP (retrying 5XX and 429 as the contract says), REST
 * clients track, identify, build segments, page them and export them, and faults are
 * injected at random. Then, once the queue, the DLQ (after a redrive) and the events have
 * drained, the store is held to the serial oracle (every register and member count of
 * every cohort, every name), every membership flip to its event, every segment audience
 * to set algebra over the oracle, and every HTTP answer to what was expected.
 *
 * `npm run soak -- --minutes N` (scripts/soak.ts) prints the summary; the integration test
 * (test/integration/soak.test.ts) runs one minute of it.
 *
 * What keeps the oracle exact while so much runs at once:
 * - deltas name only the cohort pool (created before the soak starts, never merged away)
 *   and identifiers that match nobody whatever happens (unknown ids and aliases, devices of
 *   identified users): no match depends on when the sync ran;
 * - users created during the soak (tracked, anonymous, identified, merged) are never named
 *   by a delta; merges go into pool users, which keep their braze_id;
 * - the oracle applies exactly the messages the queue accepted from ingest (captured by
 *   the `wrapQueue` seam after SQS took them), in order-stamp order, each request's
 *   changes in array order.
 *
 * Events are held to the store's own record of what it applied, the cohorts table's stream
 * (read here independently), and those flips to the oracle: requests that reach a
 * membership out of stamp order supersede each other, so the store may flip it fewer times
 * than serial application would, never more, and only at the oracle's changes.
 *
 * The sync runs as `SYNC_CONCURRENCY` concurrent invocations, each on a handler instance of
 * its own, as Lambda runs them (see `sharedSyncHandler` for why not the stack's own).
 *
 * The soak's modules, in test/support/soak/: config.ts (the knobs and the summary), run.ts
 * (one run's shared state, passed to every module), stack.ts (the stack and its fault
 * seams), http.ts (clients and the partner's backoff), workspaces.ts and setup.ts (the
 * workspaces and their seeding), load.ts (partners' feeds, REST clients), chaos.ts (the
 * chaos schedule: duplicates, storms, outages), drain.ts, oracle.ts, stream.ts and
 * checks.ts (the checks after the drain), report.ts (the printed summary).
 */
import { runChaos } from './soak/chaos.js';
import { runChecks } from './soak/checks.js';
import { POOL_USERS, type SoakOptions, type SoakSummary } from './soak/config.js';
import { drain } from './soak/drain.js';
import { soakHttp } from './soak/http.js';
import { startRun } from './soak/run.js';
import { setUpWorkspaces } from './soak/setup.js';
import { startSoakStack } from './soak/stack.js';
import { refsOf } from './soak/workspaces.js';

export type { SoakOptions, SoakSummary } from './soak/config.js';
export { soakOracle } from './soak/oracle.js';
export { formatSummary } from './soak/report.js';

export const runSoak = async (options: SoakOptions): Promise<SoakSummary> => {
  const run = startRun(options);
  const soak = await startSoakStack(run);
  const http = soakHttp(run, soak.stack);
  try {
    const workspaces = await setUpWorkspaces(run, soak.stack, http);
    run.log(
      `setup done in ${((Date.now() - run.started) / 1000).toFixed(1)} s: 2 workspaces, ${workspaces.reduce((sum, w) => sum + refsOf(w).length, 0)} cohorts, ${POOL_USERS} pool users each; chaos for ${run.options.minutes} min (seed ${run.seed})`,
    );

    const chaosSeconds = await runChaos(run, soak, http, workspaces);
    const drained = await drain(run, soak, chaosSeconds);
    await runChecks(run, soak, http, workspaces, drained);

    return {
      minutes: options.minutes,
      seed: run.seed,
      requests: run.requests.counts,
      answers: run.answers,
      faults: run.faults.counts,
      checks: run.checks,
      mismatches: run.mismatches,
      mismatchCount: run.mismatchCount,
      diagnostics: run.diagnostics,
      deadLettersAtEnd: drained.deadLettersAtEnd,
      elapsedSeconds: {
        chaos: chaosSeconds,
        drain: (Date.now() - drained.drainStarted) / 1000,
        total: (Date.now() - run.started) / 1000,
      },
    };
  } finally {
    run.chaos.on = false;
    await soak.stop();
  }
};
