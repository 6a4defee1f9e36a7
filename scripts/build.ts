/**
 * One esbuild bundle per function: dist/<function>/index.mjs and the chunks it loads on
 * demand (ESM, Node 22, minified, with source maps). The AWS SDK is bundled rather than
 * taken from the runtime, so the pinned versions are the ones that run.
 */
import { build } from 'esbuild';
import { cp, rm } from 'node:fs/promises';
import { buildConsole } from './console.js';

export const FUNCTIONS = ['ingest', 'sync', 'api', 'export', 'currents', 'events', 'campaigns', 'sender'] as const;

/**
 * What the functions read from their environment at cold start, as placeholders: enough
 * to import a bundle in a fresh Node process (nothing is called during the import).
 */
export const PLACEHOLDER_FUNCTION_ENV = {
  WORKSPACES_TABLE: 'w',
  USERS_TABLE: 'u',
  COHORTS_TABLE: 'c',
  COHORT_QUEUE_URL: 'http://127.0.0.1:1/q',
  MEMBERSHIP_EVENTS_TOPIC_ARN: 'arn:aws:sns:us-east-1:000000000000:t',
  EXPORTS_BUCKET: 'b',
  EXPORT_QUEUE_URL: 'http://127.0.0.1:1/e',
  CURRENTS_QUEUE_URL: 'http://127.0.0.1:1/c',
  CAMPAIGNS_TABLE: 'cp',
  WEBHOOK_SEND_QUEUE_URL: 'http://127.0.0.1:1/s',
  CAMPAIGN_WORK_QUEUE_URL: 'http://127.0.0.1:1/w',
  KEY_PEPPER_SECRET_ARN: 'arn:aws:secretsmanager:us-east-1:000000000000:secret:p',
  CONNECTOR_TOKEN_SECRET_ARN: 'arn:aws:secretsmanager:us-east-1:000000000000:secret:t',
  AWS_REGION: 'us-east-1',
} as const;

export const bundleFunction = async (name: string, entry = `functions/${name}/handler.ts`, outdir = `dist/${name}`) => {
  await rm(outdir, { recursive: true, force: true });
  return build({
    entryPoints: { index: entry },
    outdir,
    outExtension: { '.js': '.mjs' },
    bundle: true,
    platform: 'node',
    target: 'node22',
    format: 'esm',
    // Modules reached only through import() go to chunks of their own, loaded when that
    // path first runs: the X-Ray SDK when tracing is on, the S3 client on the api's export
    // routes, the SDK's rarely used credential providers. In one file they would still be
    // parsed at every cold start.
    splitting: true,
    minify: true,
    sourcemap: true,
    metafile: true,
    legalComments: 'none',
    // Some dependencies are CommonJS and call require(): give ESM bundles one.
    banner: {
      js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);",
    },
  });
};

if (import.meta.url === `file://${process.argv[1]}`) {
  for (const name of FUNCTIONS) {
    const result = await bundleFunction(name);
    const bytes = Object.values(result.metafile.outputs).reduce((sum, output) => sum + (output.bytes ?? 0), 0);
    console.log(`dist/${name}/index.mjs  ${(bytes / 1024).toFixed(0)} KiB (with source map)`);
  }
  // The console, served by the api function from its bundle (dist/api/console: serverless.yml packages dist/api/**).
  await cp(await buildConsole(), 'dist/api/console', { recursive: true });
  console.log('dist/console, copied to dist/api/console');
}
