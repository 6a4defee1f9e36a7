/**
 * `npm run bench:cold-start [-- --runs 7 --only ingest,sync --tracing off|on|both --top 8]`
 *
 * Cold start of each function as the benchmark measures it (bench/many-cohorts.ts): the
 * function is bundled with scripts/build.ts's bundleFunction, then imported in a fresh Node
 * process, `runs` times, in rounds over all bundles so that the machine's drift hits all
 * alike; the median import time is compared with that of the floor, a bundle of the SQS
 * client alone (bench/floor-handler.ts). Aim: every function ≤ 1.3 × the floor. The
 * machine must be otherwise idle: under load the figures move by tens of percent.
 *
 * Two environments:
 * - `off`: tracing off, as the benchmark and the local stack run (POWERTOOLS_TRACE_ENABLED=false);
 * - `on`: as in AWS, where `tracing: lambda: true` and the Lambda runtime's AWS_EXECUTION_ENV
 *   turn Powertools Tracer on, so the X-Ray SDK is loaded at cold start.
 * Each function is also compared with a bundle of only the SDK clients it creates at cold
 * start (`--clients no` to skip): the part of its cold start that is not its own code.
 * `--top N` lists the N largest packages of each bundle (bytes in the output, from esbuild's
 * metafile), which is where to look for the next cost.
 */
import { execFile } from 'node:child_process';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { parseArgs, promisify } from 'node:util';
import type { Metafile } from 'esbuild';
import { bundleFunction, FUNCTIONS, PLACEHOLDER_FUNCTION_ENV } from '../scripts/build.js';

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '7' },
    only: { type: 'string' },
    tracing: { type: 'string', default: 'both' },
    top: { type: 'string', default: '0' },
    clients: { type: 'string', default: 'yes' },
  },
});
const RUNS = Number(values.runs);
const TOP = Number(values.top);
const AIM = 1.3;
const modes = values.tracing === 'both' ? (['off', 'on'] as const) : ([values.tracing as 'off' | 'on'] as const);
if (!modes.every((mode) => mode === 'off' || mode === 'on')) throw new Error('--tracing must be off, on or both');

const run = promisify(execFile);
const OUT = 'bench/.cold-start';

// The functions' placeholder environment, quiet logs and no metrics.
const FUNCTION_ENV = {
  ...PLACEHOLDER_FUNCTION_ENV,
  POWERTOOLS_LOG_LEVEL: 'ERROR',
  POWERTOOLS_METRICS_DISABLED: 'true',
};

const environment = (mode: 'off' | 'on'): NodeJS.ProcessEnv => {
  const env: NodeJS.ProcessEnv = { ...process.env, ...FUNCTION_ENV };
  delete env.POWERTOOLS_TRACE_ENABLED;
  delete env.AWS_EXECUTION_ENV;
  delete env._X_AMZN_TRACE_ID;
  if (mode === 'off') env.POWERTOOLS_TRACE_ENABLED = 'false';
  else env.AWS_EXECUTION_ENV = 'AWS_Lambda_nodejs22.x';
  return env;
};

const median = (samples: number[]) => {
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
};

/** Time to import the bundle (top-level await included) in a fresh Node process. */
const importOnce = async (file: string, env: NodeJS.ProcessEnv): Promise<number> => {
  const script = `const t = performance.now(); await import(${JSON.stringify(`file://${process.cwd()}/${file}`)}); process.stdout.write(String(performance.now() - t));`;
  const { stdout } = await run(process.execPath, ['--input-type=module', '-e', script], { env });
  return Number(stdout);
};

/**
 * Bytes loaded at cold start (index.mjs and the chunks it imports statically) and bytes in
 * chunks reached only through import(), loaded when their path first runs (scripts/build.ts).
 */
const splitBytes = (metafile: Metafile, entry: string): { bytes: number; chunkBytes: number; loaded: Set<string> } => {
  const loaded = new Set<string>();
  const visit = (file: string) => {
    if (loaded.has(file)) return;
    loaded.add(file);
    for (const imported of metafile.outputs[file]!.imports)
      if (imported.kind === 'import-statement' && !imported.external) visit(imported.path);
  };
  visit(entry);
  let bytes = 0;
  let chunkBytes = 0;
  for (const [file, output] of Object.entries(metafile.outputs)) {
    if (!file.endsWith('.mjs')) continue;
    if (loaded.has(file)) bytes += output.bytes;
    else chunkBytes += output.bytes;
  }
  return { bytes, chunkBytes, loaded };
};

/** Output bytes loaded at cold start per package (or per project folder), largest first. */
const largestPackages = (metafile: Metafile, loaded: Set<string>, count: number): Array<[string, number]> => {
  const byPackage = new Map<string, number>();
  for (const [file, output] of Object.entries(metafile.outputs)) {
    if (!loaded.has(file)) continue;
    for (const [input, { bytesInOutput }] of Object.entries(output.inputs)) {
      const match = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(input);
      const name = match ? match[1]! : input.split('/').slice(0, 2).join('/');
      byPackage.set(name, (byPackage.get(name) ?? 0) + bytesInOutput);
    }
  }
  return [...byPackage.entries()].sort((a, b) => b[1] - a[1]).slice(0, count);
};

/**
 * The SDK clients each function creates at cold start (functions/<name>/handler.ts; the api
 * loads S3 on demand). A bundle of these alone is the function's own floor: what it
 * cannot load less of while it keeps its clients at module scope.
 */
const CLIENTS: Record<(typeof FUNCTIONS)[number], Array<keyof typeof CLIENT_SOURCE>> = {
  ingest: ['sqs', 'dynamodb'],
  sync: ['dynamodb', 'sqs'],
  api: ['dynamodb', 'sqs'],
  export: ['dynamodb', 's3', 'sqs'],
  currents: ['dynamodb', 'sqs'],
  events: ['dynamodb', 'sns'],
  campaigns: ['dynamodb', 'sqs'],
  sender: ['dynamodb', 'sqs'],
};
const CLIENT_SOURCE = {
  sqs: { imports: "import { SQSClient } from '@aws-sdk/client-sqs';", create: 'new SQSClient({})' },
  sns: { imports: "import { SNSClient } from '@aws-sdk/client-sns';", create: 'new SNSClient({})' },
  s3: { imports: "import { S3Client } from '@aws-sdk/client-s3';", create: 'new S3Client({})' },
  dynamodb: {
    imports:
      "import { DynamoDBClient } from '@aws-sdk/client-dynamodb';\nimport { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';",
    create: 'DynamoDBDocumentClient.from(new DynamoDBClient({}))',
  },
};
const clientsEntry = async (name: (typeof FUNCTIONS)[number]): Promise<string> => {
  const file = `${OUT}/entries/${name}-clients.ts`;
  const clients = CLIENTS[name].map((client) => CLIENT_SOURCE[client]);
  await mkdir(dirname(file), { recursive: true });
  await writeFile(
    file,
    `${clients.map((client) => client.imports).join('\n')}\nconst clients = [${clients.map((client) => client.create).join(', ')}];\nexport const handler = async () => clients.length;\n`,
  );
  return file;
};

const only = values.only?.split(',');
const functions = FUNCTIONS.filter((name) => !only || only.includes(name));
const bundles = [
  { name: 'floor', entry: 'bench/floor-handler.ts' },
  ...functions.map((name) => ({ name, entry: `functions/${name}/handler.ts` })),
  ...(values.clients === 'no'
    ? []
    : await Promise.all(
        functions.map(async (name) => ({ name: `${name} (clients only)`, entry: await clientsEntry(name) })),
      )),
];

const kib = (bytes: number) => `${(bytes / 1024).toFixed(0)} KiB`;
const results: Record<string, { bytes: number; chunkBytes: number; importMs: Record<string, number> }> = {};
try {
  const built = [];
  for (const { name, entry } of bundles) {
    const outdir = `${OUT}/${name.replace(/\W+/g, '-')}`;
    const { metafile } = await bundleFunction(name, entry, outdir);
    const { bytes, chunkBytes, loaded } = splitBytes(metafile, `${outdir}/index.mjs`);
    built.push({ name, file: `${outdir}/index.mjs`, bytes, chunkBytes });
    console.error(
      `[cold-start] ${name}: ${kib(bytes)} loaded at cold start, ${kib(chunkBytes)} in chunks loaded on demand`,
    );
    if (TOP > 0) {
      for (const [pkg, size] of largestPackages(metafile, loaded, TOP))
        console.error(`    ${kib(size).padStart(8)}  ${pkg}`);
    }
  }
  // Rounds over every bundle in turn, so that the machine's drift hits all of them alike.
  const samples = new Map<string, number[]>();
  for (let round = 0; round < RUNS; round += 1) {
    for (const mode of modes) {
      for (const { name, file } of built) {
        const key = `${name}/${mode}`;
        samples.set(key, [...(samples.get(key) ?? []), await importOnce(file, environment(mode))]);
      }
    }
    console.error(`[cold-start] round ${round + 1}/${RUNS}`);
  }
  for (const { name, bytes, chunkBytes } of built) {
    results[name] = {
      bytes,
      chunkBytes,
      importMs: Object.fromEntries(modes.map((mode) => [mode, median(samples.get(`${name}/${mode}`)!)])),
    };
  }
} finally {
  await rm(OUT, { recursive: true, force: true });
}

const floor = results.floor!;
console.log(
  `\nCold start: bundle size and import time in a fresh Node process (median of ${RUNS}), against the floor (SQS client only); aim ≤ ${AIM}×\n`,
);
const header = [
  'function',
  'loaded at cold start',
  'on demand',
  ...modes.flatMap((mode) => [`import, tracing ${mode}`, 'ratio']),
];
const rows = Object.entries(results).map(([name, { bytes, chunkBytes, importMs }]) => [
  name,
  kib(bytes),
  kib(chunkBytes),
  ...modes.flatMap((mode) => {
    const ratio = importMs[mode]! / floor.importMs[mode]!;
    return [
      `${importMs[mode]!.toFixed(1)} ms`,
      name === 'floor' ? '1.00' : `${ratio.toFixed(2)}${ratio <= AIM ? '' : ' ✗'}`,
    ];
  }),
]);
const widths = header.map((title, column) => Math.max(title.length, ...rows.map((row) => row[column]!.length)));
for (const row of [header, ...rows]) console.log(row.map((cell, column) => cell.padEnd(widths[column]!)).join('  '));
console.log(`\n${JSON.stringify({ at: new Date().toISOString(), node: process.version, runs: RUNS, results })}`);
