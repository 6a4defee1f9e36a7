/**
 * One soak run's shared state, passed explicitly between the soak's modules: its options
 * and seeded dice, the tallies and mismatches the summary reports, the phase it is in
 * (chaos on or off, the phase's deadline), what the seams saw (accepted messages,
 * published events, requeues, the cohort in an outage) and each request's lifecycle.
 * Part of the chaos soak (test/support/soak.ts).
 */
import type { MembershipEvent } from '../../../lib/cohorts/events.js';
import { seededRandom } from '../faults.js';
import { MAX_KEPT_MISMATCHES, SETUP_TIMEOUT_MS, Tally, type SoakOptions } from './config.js';

export interface SoakRun {
  readonly options: SoakOptions;
  readonly seed: number;
  readonly log: (line: string) => void;
  readonly started: number;

  // The dice, all from the seed.
  readonly random: () => number;
  chance(p: number): boolean;
  int(below: number): number;
  pick<T>(items: readonly T[]): T;
  shuffled<T>(items: readonly T[]): T[];

  // What the summary reports.
  readonly requests: Tally;
  readonly faults: Tally;
  readonly answers: Record<string, Record<string, number>>;
  readonly mismatches: string[];
  mismatchCount: number;
  mismatch(text: string): void;
  readonly checks: string[];
  /** What may explain the mismatches (where the requests of a cohort that mismatches went). */
  readonly diagnostics: string[];
  diagnose(text: string): void;

  /** Faults fire only while this is on: off for the setup and the drain. */
  readonly chaos: { on: boolean };
  /**
   * When the current phase (setup, the chaos with its overrun, the checks after it) must be
   * over: clients stop retrying past it, so no call outlives its phase's bound.
   */
  phaseDeadline: number;
  phaseOver(): boolean;

  /** The messages the cohort queue accepted from ingest (the oracle's input). */
  readonly accepted: string[];
  readonly published: Map<string, { event: MembershipEvent; copies: number }>;
  publishedTotal: number;
  /** The cohort (its `cohortKey`) whose store refuses every apply, if any. */
  outage: string | undefined;
  requeued: number;

  /** What happened to each accepted request on its way through the sync (printed for a cohort that mismatches). */
  readonly lifecycle: Map<string, string[]>;
  trace(requestId: string, what: string): void;
}

/** A run's state, its seed taken from the options or the clock, and logged first: a run that hangs or dies can still be replayed. */
export const startRun = (options: SoakOptions): SoakRun => {
  const log = options.log ?? (() => undefined);
  const seed = options.seed ?? Date.now() % 1_000_000;
  // First, so that a run that hangs or dies can still be replayed.
  log(`seed ${seed} (replay: npm run soak -- --minutes ${options.minutes} --seed ${seed})`);
  const random = seededRandom(seed);
  const int = (below: number) => Math.floor(random() * below);
  const started = Date.now();
  const run: SoakRun = {
    options,
    seed,
    log,
    started,
    random,
    chance: (p) => random() < p,
    int,
    pick: (items) => items[int(items.length)]!,
    shuffled: (items) => {
      const result = [...items];
      for (let index = result.length - 1; index > 0; index -= 1) {
        const other = int(index + 1);
        [result[index], result[other]] = [result[other]!, result[index]!];
      }
      return result;
    },
    requests: new Tally(),
    faults: new Tally(),
    answers: {},
    mismatches: [],
    mismatchCount: 0,
    mismatch: (text) => {
      run.mismatchCount += 1;
      if (run.mismatches.length < MAX_KEPT_MISMATCHES) run.mismatches.push(text);
    },
    checks: [],
    diagnostics: [],
    diagnose: (text) => {
      if (run.diagnostics.length < MAX_KEPT_MISMATCHES) run.diagnostics.push(text);
      log(text);
    },
    chaos: { on: false },
    phaseDeadline: started + SETUP_TIMEOUT_MS,
    phaseOver: () => Date.now() > run.phaseDeadline,
    accepted: [],
    published: new Map(),
    publishedTotal: 0,
    outage: undefined,
    requeued: 0,
    lifecycle: new Map(),
    trace: (requestId, what) => {
      const steps = run.lifecycle.get(requestId) ?? [];
      if (steps.length < 40) steps.push(`${((Date.now() - started) / 1000).toFixed(1)}s ${what}`);
      run.lifecycle.set(requestId, steps);
    },
  };
  return run;
};

/** The request id a queued message's stamp carries ('?' for a body that is not one). */
export const requestIdOf = (body: string) => {
  try {
    return (JSON.parse(body) as { stamp?: { requestId?: string } }).stamp?.requestId ?? '?';
  } catch {
    return '?';
  }
};
