/**
 * `npm run bench -- --scenario console-tour [--users 1000000 --cohorts 10000 --segments 1000 --campaigns 200]`
 *
 * The console's end-to-end tour (test/integration/console-e2e.test.ts: sign in, Technology
 * Partners > Heap, a synced cohort, the segment builder, export, a campaign launched and
 * delivered, a Canvas, Currents, languages, axe-core on every page) in a workspace seeded to a
 * real customer's size first (bench/lib/workspace-seed.ts, as bench/console.ts seeds it; by
 * default issue 18's goal: 1,000,000 users, 10,000 cohorts, 1,000 segments, 200 campaigns).
 * Runs vitest on that one file with CONSOLE_E2E_SCALE set, then prints how long the seeding and
 * each step of the tour took. Writes bench/results/console-tour-<time>.json and
 * console-tour-latest.json; the screenshots are in .ci-out/console-scale/.
 */
import { spawn } from 'node:child_process';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { log, machineDescription } from './lib/harness.js';
import { GOAL_SIZE, type SeedTimings } from './lib/workspace-seed.js';

const { values } = parseArgs({
  options: {
    scenario: { type: 'string', default: 'console-tour' },
    users: { type: 'string', default: String(GOAL_SIZE.users) },
    cohorts: { type: 'string', default: String(GOAL_SIZE.cohorts) },
    segments: { type: 'string', default: String(GOAL_SIZE.segments) },
    campaigns: { type: 'string', default: String(GOAL_SIZE.campaigns) },
    latest: { type: 'string', default: 'yes' },
  },
});
const size = {
  users: Number(values.users),
  cohorts: Number(values.cohorts),
  segments: Number(values.segments),
  campaigns: Number(values.campaigns),
};
const SCREENSHOTS = '.ci-out/console-scale';
const REPORT = `${SCREENSHOTS}/vitest.json`;

/** What vitest's JSON reporter says of each test (the part read here). */
interface VitestReport {
  success: boolean;
  startTime: number;
  testResults: {
    startTime: number;
    endTime: number;
    assertionResults: { title: string; status: string; duration: number | null; failureMessages: string[] }[];
  }[];
}

await mkdir(SCREENSHOTS, { recursive: true });
// A run that fails before seeding must not report the last run's figures.
await Promise.all([REPORT, `${SCREENSHOTS}/seeding.json`].map((path) => rm(path, { force: true })));
log(
  `the console tour at ${size.users.toLocaleString('en-US')} users, ${size.cohorts.toLocaleString('en-US')} cohorts, ${size.segments.toLocaleString('en-US')} segments, ${size.campaigns} campaigns`,
);
const exitCode = await new Promise<number>((resolve, reject) => {
  const vitest = spawn(
    'npx',
    [
      'vitest',
      'run',
      'test/integration/console-e2e.test.ts',
      '--reporter=default',
      '--reporter=json',
      `--outputFile.json=${REPORT}`,
    ],
    {
      stdio: 'inherit',
      env: {
        ...process.env,
        CONSOLE_E2E_SCALE: [size.users, size.cohorts, size.segments, size.campaigns].join(','),
        CONSOLE_SCREENSHOTS: SCREENSHOTS,
      },
    },
  );
  vitest.on('error', reject);
  vitest.on('exit', (code) => resolve(code ?? 1));
});

const report = JSON.parse(await readFile(REPORT, 'utf8')) as VitestReport;
const seeding = JSON.parse(await readFile(`${SCREENSHOTS}/seeding.json`, 'utf8').catch(() => '{}')) as Partial<
  SeedTimings & { size: typeof size }
>;
const file = report.testResults[0];
const steps = (file?.assertionResults ?? []).map((test) => ({
  step: test.title,
  status: test.status,
  seconds: (test.duration ?? 0) / 1000,
  ...(test.failureMessages.length > 0 ? { failure: test.failureMessages[0]!.split('\n')[0] } : {}),
}));
const result = {
  at: new Date().toISOString(),
  scenario: 'console-tour',
  machine: machineDescription(),
  parameters: size,
  passed: exitCode === 0 && report.success,
  seeding,
  steps,
  tourSeconds: steps.reduce((sum, step) => sum + step.seconds, 0),
  // From vitest's start to the file's end: building the console, the stack, seeding, the tour.
  wholeSeconds: file ? (file.endTime - report.startTime) / 1000 : undefined,
};
const { machine } = result;
console.log(
  `\nConsole tour at scale, ${result.at} — ${machine.cpus} × ${machine.cpu}, ${machine.memoryGb} GiB, Node ${machine.node}`,
);
console.log(
  `${size.users.toLocaleString('en-US')} users, ${size.cohorts.toLocaleString('en-US')} cohorts, ${size.segments.toLocaleString('en-US')} segments, ${size.campaigns} campaigns: ${result.passed ? 'PASSED' : 'FAILED'}\n`,
);
for (const [part, seconds] of Object.entries(seeding))
  if (typeof seconds === 'number')
    console.log(`seeding, ${part.replace(/Seconds$/, '').padEnd(69)} ${seconds.toFixed(1).padStart(7)} s`);
console.log('\nstep of the tour                                                            seconds  status');
for (const step of steps)
  console.log(
    `${step.step.slice(0, 75).padEnd(75)} ${step.seconds.toFixed(1).padStart(7)}  ${step.status}${step.failure ? `: ${step.failure}` : ''}`,
  );
console.log(`${'the tour, all steps'.padEnd(75)} ${result.tourSeconds.toFixed(1).padStart(7)}`);
await mkdir('bench/results', { recursive: true });
const stampName = `console-tour-${result.at.replace(/[:.]/g, '-')}`;
await writeFile(`bench/results/${stampName}.json`, JSON.stringify(result, null, 2));
if (values.latest !== 'no') await writeFile('bench/results/console-tour-latest.json', JSON.stringify(result, null, 2));
console.log(`\nSaved bench/results/${stampName}.json`);
process.exitCode = result.passed ? 0 : 1;
