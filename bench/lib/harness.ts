/** What every benchmark scenario shares: pools, statistics, a partner that retries as the contract says. */
export const now = () => performance.now();
export const log = (message: string) => console.error(`[bench] ${message}`);

export const percentile = (samples: readonly number[], p: number) => {
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
};
export const mean = (samples: readonly number[]) => samples.reduce((sum, value) => sum + value, 0) / samples.length;

/** Runs `count` tasks with at most `parallel` in flight. */
export const pool = async (count: number, parallel: number, task: (index: number) => Promise<void>) => {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(parallel, count) }, async () => {
      while (next < count) await task(next++);
    }),
  );
};

/**
 * POSTs a partner request as a partner does: 5XX and 429 are retried with exponential
 * backoff and full jitter (contract); anything else but 201 fails the benchmark.
 * Returns how many retries it took.
 */
export const postAsPartner = async (url: string, body: string, what: string): Promise<number> => {
  for (let attempt = 0; ; attempt += 1) {
    const response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    if (response.status === 201) return attempt;
    const text = await response.text();
    if ((response.status < 500 && response.status !== 429) || attempt >= 8) throw new Error(`${what}: ${response.status} ${text}`);
    await new Promise((resolve) => setTimeout(resolve, Math.random() * Math.min(10_000, 250 * 2 ** attempt)));
  }
};

/** Counts SNS publishes and the 64 KB chunks AWS bills a PublishBatch by (SNS pricing: each 64 KB chunk is one request). */
export const countPublishes = (sns: { middlewareStack: { add: (middleware: never, options: never) => void } }) => {
  const counts = { calls: 0, messages: 0, billedRequests: 0 };
  const middleware = (next: (args: unknown) => Promise<unknown>) => async (args: { input: { PublishBatchRequestEntries?: { Message?: string }[]; Message?: string } }) => {
    const entries = args.input.PublishBatchRequestEntries ?? [{ Message: args.input.Message }];
    const bytes = entries.reduce((sum, entry) => sum + Buffer.byteLength(entry.Message ?? ''), 0);
    counts.calls += 1;
    counts.messages += entries.length;
    counts.billedRequests += Math.max(1, Math.ceil(bytes / 65_536));
    return next(args);
  };
  sns.middlewareStack.add(middleware as never, { step: 'initialize', name: 'countPublishes' } as never);
  return counts;
};
