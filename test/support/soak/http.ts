/**
 * HTTP as the soak's partners and workspace clients speak it: a client's call (a busy 503
 * retried after its Retry-After), a partner's request retried with exponential backoff and
 * full jitter until accepted (the contract), and what an answer must be; every answer
 * counted by kind and status in the run. Part of the chaos soak (test/support/soak.ts).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { LocalStack } from '../../../local/stack.js';
import {
  BUSY_ATTEMPTS,
  CALL_TIMEOUT_MS,
  PARTNER_BACKOFF_BASE_MS,
  PARTNER_BACKOFF_CAP_MS,
  PARTNER_MAX_ATTEMPTS,
} from './config.js';
import type { SoakRun } from './run.js';

export interface HttpAnswer {
  status: number;
  body: Record<string, unknown>;
  text: string;
}

export type SoakHttp = ReturnType<typeof soakHttp>;

/** The run's HTTP clients on the stack's gateway. */
export const soakHttp = (run: SoakRun, stack: LocalStack) => {
  const recordAnswer = (kind: string, status: string) => {
    const byStatus = (run.answers[kind] ??= {});
    byStatus[status] = (byStatus[status] ?? 0) + 1;
  };
  /**
   * A workspace client's call, as a careful client makes it: a 503 that says the service is
   * busy (the API answers it when a request runs out of time on a starved machine) is retried
   * after its Retry-After, a few times, and counted; any other 5XX is a mismatch.
   */
  const call = async (
    kind: string,
    path: string,
    init: { method?: string; body?: unknown; token?: string } = {},
  ): Promise<HttpAnswer | undefined> => {
    for (let attempt = 1; ; attempt += 1) {
      const answer = await callOnce(kind, path, init, attempt < BUSY_ATTEMPTS && !run.phaseOver());
      if (answer !== 'busy') return answer;
      await sleep(2_000);
    }
  };
  const callOnce = async (
    kind: string,
    path: string,
    init: { method?: string; body?: unknown; token?: string },
    mayRetryBusy: boolean,
  ): Promise<HttpAnswer | 'busy' | undefined> => {
    try {
      const response = await fetch(`${stack.url}${path}`, {
        method: init.method ?? (init.body === undefined ? 'GET' : 'POST'),
        headers: {
          'content-type': 'application/json',
          ...(init.token ? { authorization: `Bearer ${init.token}` } : {}),
        },
        body: init.body === undefined ? undefined : JSON.stringify(init.body),
        signal: AbortSignal.timeout(CALL_TIMEOUT_MS),
      });
      const text = await response.text();
      if (
        mayRetryBusy &&
        response.status === 503 &&
        !kind.startsWith('partner') &&
        response.headers.get('retry-after') !== null &&
        /ran out of time/.test(text)
      ) {
        recordAnswer(kind, '503 busy, retried');
        return 'busy';
      }
      recordAnswer(kind, String(response.status));
      let body: Record<string, unknown> = {};
      try {
        body = text ? (JSON.parse(text) as Record<string, unknown>) : {};
      } catch {
        run.mismatch(`${kind} ${path}: ${response.status} with a body that is not JSON: ${text.slice(0, 200)}`);
      }
      if (response.status >= 500 && !(response.status === 503 && kind.startsWith('partner'))) {
        run.mismatch(`${kind} ${path}: ${response.status} ${text.slice(0, 300)}`);
      }
      return { status: response.status, body, text };
    } catch (error: unknown) {
      recordAnswer(kind, 'no answer');
      run.mismatch(`${kind} ${path}: no answer (${error instanceof Error ? error.message : String(error)})`);
      return undefined;
    }
  };
  /** A partner request until it is accepted: 5XX and 429 again with exponential backoff and full jitter (contract). */
  const sendAsPartner = async (kind: string, path: string, body: unknown): Promise<boolean> => {
    run.requests.add(kind);
    for (let attempt = 0; attempt < PARTNER_MAX_ATTEMPTS; attempt += 1) {
      if (attempt > 0 && run.phaseOver()) {
        run.mismatch(`${kind} ${path}: still refused after ${attempt} attempts when the phase's time ran out`);
        return false;
      }
      if (attempt > 0) run.requests.add('partner retries');
      const answer = await call(kind, path, { body });
      if (answer?.status === 201) return true;
      if (answer?.status === 503 && !/nothing was accepted/.test(String(answer.body.message)))
        run.mismatch(`${kind}: a 503 that does not say nothing was accepted: ${answer.text}`);
      if (answer && answer.status < 500 && answer.status !== 429) {
        run.mismatch(`${kind} ${path}: ${answer.status} ${answer.text.slice(0, 300)}`);
        return false;
      }
      await sleep(run.random() * Math.min(PARTNER_BACKOFF_CAP_MS, PARTNER_BACKOFF_BASE_MS * 2 ** attempt));
    }
    run.mismatch(`${kind} ${path}: still refused after ${PARTNER_MAX_ATTEMPTS} attempts`);
    return false;
  };
  const expectStatus = (
    kind: string,
    answer: HttpAnswer | undefined,
    expected: readonly number[],
  ): answer is HttpAnswer => {
    if (!answer) return false;
    if (!expected.includes(answer.status)) {
      if (answer.status < 500)
        run.mismatch(
          `${kind}: ${answer.status} where ${expected.join(' or ')} was expected: ${answer.text.slice(0, 300)}`,
        );
      return false;
    }
    if (Array.isArray(answer.body.errors) && answer.body.errors.length > 0)
      run.mismatch(`${kind}: per-item errors for valid items: ${JSON.stringify(answer.body.errors).slice(0, 300)}`);
    return true;
  };

  return { call, sendAsPartner, expectStatus };
};
