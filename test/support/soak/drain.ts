/**
 * The soak's drain after the chaos: faults off, then the queue emptied and the DLQ
 * redriven until both stay empty, within the checks' time; what it left behind.
 * Part of the chaos soak (test/support/soak.ts).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { redriveDeadLetters } from '../../../lib/sqs/redrive.js';
import { queueDepth } from '../../../local/settle.js';
import { CHECKS_TIMEOUT_MS, DRAIN_TIMEOUT_MS, PROGRESS_EVERY_MS } from './config.js';
import type { SoakRun } from './run.js';
import type { SoakStack } from './stack.js';

export interface Drained {
  drainStarted: number;
  /** The end of a wait after the chaos: its own bound, or what is left of the checks' time. */
  until(timeoutMs: number): number;
  redriven: number;
  deadLettersAtEnd: number;
}

/** Turns the faults off and waits for the queue and the DLQ to settle (redriving dead letters). */
export const drain = async (run: SoakRun, soak: SoakStack, chaosSeconds: number): Promise<Drained> => {
  const { stack } = soak;
  run.chaos.on = false;
  soak.limits.enabled = false;
  run.outage = undefined;
  Object.assign(soak.dynamoDbFaultRates, { throttle: 0, unprocessedKeys: 0, transactionConflict: 0 });
  const drainStarted = Date.now();
  const checksDeadline = drainStarted + CHECKS_TIMEOUT_MS;
  run.phaseDeadline = checksDeadline;
  /** The end of a wait after the chaos: its own bound, or what is left of the checks' time. */
  const until = (timeoutMs: number) => Math.min(Date.now() + timeoutMs, checksDeadline);
  run.log(`chaos over after ${chaosSeconds.toFixed(0)} s; draining`);
  let redriven = 0;
  let said = Date.now();
  const drainUntil = until(DRAIN_TIMEOUT_MS);
  for (let quiet = 0; quiet < 3; ) {
    if (Date.now() - said > PROGRESS_EVERY_MS) {
      said = Date.now();
      run.log(
        `draining for ${Math.round((said - drainStarted) / 1000)} s: queue ${await queueDepth(stack.clients.sqs, stack.queues.queueUrl)}, ` +
          `DLQ ${await queueDepth(stack.clients.sqs, stack.queues.deadLetterQueueUrl)}, ${redriven} redriven, ${run.requeued} requeued by the sync`,
      );
    }
    if (Date.now() > drainUntil) {
      run.mismatch(
        `the queue did not drain in ${Math.round((Date.now() - drainStarted) / 1000)} s: it holds ${await queueDepth(stack.clients.sqs, stack.queues.queueUrl)}, ` +
          `the DLQ ${await queueDepth(stack.clients.sqs, stack.queues.deadLetterQueueUrl)}`,
      );
      break;
    }
    await sleep(1_000);
    if ((await queueDepth(stack.clients.sqs, stack.queues.queueUrl)) > 0) {
      quiet = 0;
      continue;
    }
    if ((await queueDepth(stack.clients.sqs, stack.queues.deadLetterQueueUrl)) > 0) {
      const result = await redriveDeadLetters(stack.clients.sqs, stack.queues);
      redriven += result.moved;
      if (result.failed > 0) run.mismatch(`DLQ redrive: ${result.failed} message(s) could not be moved`);
      quiet = 0;
      continue;
    }
    quiet += 1;
  }
  if (redriven > 0) run.faults.add('dead letters redriven (DLQ → queue)', redriven);
  const deadLettersAtEnd = await queueDepth(stack.clients.sqs, stack.queues.deadLetterQueueUrl);
  if (deadLettersAtEnd > 0) run.mismatch(`${deadLettersAtEnd} message(s) left in the DLQ after the redrive`);
  return { drainStarted, until, redriven, deadLettersAtEnd };
};
