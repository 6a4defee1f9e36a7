/**
 * `npm run soak -- --campaigns --minutes N [--seed S]`: the campaign soak
 * (test/support/campaign-soak.ts) instead; it prints `campaign soak: <n> webhooks checked,
 * <m> mismatches, seed <S>` and exits 1 on any mismatch.
 *
 * `npm run soak -- --minutes N [--seed S] [--shared-sync-handler]`: the chaos soak
 * (test/support/soak.ts) against a local stack of its own (its own SQS emulator and
 * DynamoDB Local). Prints what was sent, what was injected and what was checked; exits 1
 * on any mismatch. `--shared-sync-handler` runs the concurrent sync invocations on the
 * stack's one handler, as local/stack.ts does (it loses failed records).
 */
import { parseArgs } from 'node:util';

// Before the stack starts (Powertools reads them when each function is created): the
// soak's own summary is the output; the functions' logs of injected failures are not.
process.env.POWERTOOLS_LOG_LEVEL ??= 'SILENT';
process.env.POWERTOOLS_METRICS_DISABLED ??= 'true';
process.env.POWERTOOLS_TRACE_ENABLED ??= 'false';

const { values } = parseArgs({
  options: {
    minutes: { type: 'string', default: '1' },
    seed: { type: 'string' },
    'shared-sync-handler': { type: 'boolean', default: false },
    campaigns: { type: 'boolean', default: false },
  },
});
const minutes = Number(values.minutes);
if (!(minutes > 0)) {
  console.error(
    'usage: npm run soak -- [--campaigns] --minutes N [--seed S] [--shared-sync-handler]   (N > 0; --campaigns: the campaign soak)',
  );
  process.exit(2);
}

const { formatSummary, runSoak } = await import('../test/support/soak.js');

// The local pollers print every failed batch; under injected faults that is the point, not news.
const printError = console.error;
let quieted = 0;
console.error = (...args: unknown[]) => {
  if (typeof args[0] === 'string' && /^\[(sync|events|export|currents|campaigns|sender)\] /.test(args[0])) {
    quieted += 1;
    return;
  }
  printError(...args);
};

if (values.campaigns) {
  const { formatCampaignSummary, runCampaignSoak } = await import('../test/support/campaign-soak.js');
  const campaignSummary = await runCampaignSoak({
    minutes,
    seed: values.seed === undefined ? undefined : Number(values.seed),
    log: (line) => console.error(`[campaign soak] ${line}`),
  });
  console.log(formatCampaignSummary(campaignSummary));
  process.exit(campaignSummary.mismatchCount === 0 ? 0 : 1);
}

const summary = await runSoak({
  minutes,
  seed: values.seed === undefined ? undefined : Number(values.seed),
  sharedSyncHandler: values['shared-sync-handler'],
  log: (line) => printError(`[soak] ${line}`),
});
console.log(formatSummary(summary));
printError(`[soak] ${quieted} failed-batch lines of the local pollers were not printed (injected faults)`);
process.exit(summary.mismatchCount === 0 && summary.deadLettersAtEnd === 0 ? 0 : 1);
