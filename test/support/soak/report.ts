/**
 * The soak's summary as the script prints it (`npm run soak`): requests, answers, faults,
 * the checks after the drain and the mismatches. Part of the chaos soak (test/support/soak.ts).
 */
import type { SoakSummary } from './config.js';

const number = (value: number) => value.toLocaleString('en-US');

export const formatSummary = (summary: SoakSummary, shown = 10): string => {
  const lines: string[] = [];
  const width = 58;
  const row = (name: string, value: string) => `  ${name.padEnd(width)} ${value}`;
  lines.push(
    `Chaos soak: ${summary.minutes} min of chaos (seed ${summary.seed}), drained in ${summary.elapsedSeconds.drain.toFixed(0)} s, ${summary.elapsedSeconds.total.toFixed(0)} s in all`,
    '',
    'Requests sent (logical; partner retries counted apart)',
  );
  for (const [kind, count] of Object.entries(summary.requests).sort()) lines.push(row(kind, number(count)));
  lines.push('', 'HTTP answers by status');
  for (const [kind, byStatus] of Object.entries(summary.answers).sort()) {
    lines.push(
      row(
        kind,
        Object.entries(byStatus)
          .map(([status, count]) => `${status} ×${number(count)}`)
          .join(', '),
      ),
    );
  }
  lines.push('', 'Faults injected');
  for (const [kind, count] of Object.entries(summary.faults).sort()) lines.push(row(kind, number(count)));
  lines.push('', 'Checked after the drain');
  for (const check of summary.checks) lines.push(`  ${check}`);
  lines.push('', `Mismatches: ${summary.mismatchCount}`);
  for (const text of summary.mismatches.slice(0, shown)) lines.push(`  - ${text}`);
  if (summary.mismatchCount > shown) lines.push(`  … and ${summary.mismatchCount - shown} more`);
  if (summary.diagnostics.length > 0)
    lines.push('', 'Requests behind the mismatches', ...summary.diagnostics.slice(0, shown).map((text) => `  ${text}`));
  return lines.join('\n');
};
