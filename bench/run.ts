/**
 * `npm run bench [-- --scenario many-cohorts|big-cohort ...]`: the benchmark scenarios.
 *   many-cohorts (default): many cohorts of 1,000, against raw ceilings; ingest, cold start, cost (bench/many-cohorts.ts)
 *   big-cohort: one cohort of N users under a model of AWS's limits, with the AWS projection (bench/big-cohort.ts)
 *   campaign: a scheduled campaign's webhooks/s against the raw ceiling, import-to-webhook latency (bench/campaign.ts)
 *   segments: segment sizes and audience pages at 1M users (bench/segments.ts)
 *   console: list API pages and console pages in Chromium at 10,000 cohorts and 1,000 segments (bench/console.ts)
 *   console-tour: the console's e2e tour in a workspace of 1M users, 10,000 cohorts, 1,000 segments, 200 campaigns (bench/console-tour.ts)
 */
import { parseArgs } from 'node:util';

const { values } = parseArgs({ options: { scenario: { type: 'string', default: 'many-cohorts' } }, strict: false });
const SCENARIOS: Record<string, () => Promise<unknown>> = {
  'many-cohorts': () => import('./many-cohorts.js'),
  'big-cohort': () => import('./big-cohort.js'),
  segments: () => import('./segments.js'),
  campaign: () => import('./campaign.js'),
  console: () => import('./console.js'),
  'console-tour': () => import('./console-tour.js'),
};
const scenario = SCENARIOS[String(values.scenario)];
if (!scenario) {
  console.error(`Unknown scenario ${String(values.scenario)}; one of: ${Object.keys(SCENARIOS).join(', ')}`);
  process.exit(2);
}
await scenario();
