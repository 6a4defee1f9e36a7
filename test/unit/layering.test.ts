/**
 * The layering rules (biome.json, `noRestrictedImports`) fail on a probe: a file in each
 * domain folder that imports an adapter or the network is refused, the same import from an
 * adapter folder is not, and the webhook adapter itself may use the network; a file anywhere
 * in lib/ that imports functions/ or local/ (the wiring and the local stack, which sit above
 * lib) is refused, while they import lib freely. Biome's overrides replace a rule's options
 * rather than merge them, so the domain folders' override repeats the lib-wide pattern: the
 * probes in every domain folder fail if it is dropped. Run on a copy of the configuration in
 * a temporary tree, so the repository's own files are never touched.
 */
import { execFile } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);
const BIOME = resolve('node_modules/.bin/biome');
const DOMAIN = ['cohorts', 'segments', 'users', 'currents', 'contract', 'campaigns', 'workspaces', 'webhooks'];
const FORBIDDEN = [
  "import { DynamoMembershipStore } from '../dynamodb/membership-store.js';",
  "import { SafeHttpClient } from '../webhooks/safe-http.js';",
  "import { SQSClient } from '@aws-sdk/client-sqs';",
  "import { request } from 'node:https';",
  "import { lookup } from 'node:dns/promises';",
];
/** What sits above lib/, imported from a folder of lib/ (one level down). */
const ABOVE = [
  "import { wireApi } from '../../functions/api/wire.js';",
  "import { createSyncHandler } from '../../functions/sync/app.js';",
  "import { startLocalStack } from '../../local/stack.js';",
];
/** Every folder of lib/ as it is now, so that a new one is covered without editing this list. */
const LIB_FOLDERS = readdirSync('lib', { withFileTypes: true })
  .filter((entry) => entry.isDirectory())
  .map((entry) => entry.name);
const MESSAGES = ['Domain code takes ports', 'lib/ imports nothing above it'];

let tree: string;
beforeAll(() => {
  tree = mkdtempSync(join(tmpdir(), 'layering-'));
  cpSync('biome.json', join(tree, 'biome.json'));
  cpSync('.gitignore', join(tree, '.gitignore'));
});
afterAll(() => rmSync(tree, { recursive: true, force: true }));

/**
 * Lints probe files (path → its one import) in one run of Biome: the paths whose import the
 * rule refused, with the rule's message.
 */
const refused = async (probes: Record<string, string>): Promise<Set<string>> => {
  for (const [path, line] of Object.entries(probes)) {
    const file = join(tree, path);
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, `${line}\n\nexport const probe = 1;\n`);
  }
  let output = '';
  try {
    await run(BIOME, ['lint', '--only=style/noRestrictedImports', '--max-diagnostics=none', ...Object.keys(probes)], {
      cwd: tree,
    });
  } catch (error: unknown) {
    output = `${(error as { stdout?: string }).stdout ?? ''}${(error as { stderr?: string }).stderr ?? ''}`;
  } finally {
    for (const path of Object.keys(probes)) rmSync(join(tree, path));
  }
  if (output && !MESSAGES.some((message) => output.includes(message)))
    throw new Error(`Biome failed otherwise: ${output}`);
  return new Set(Object.keys(probes).filter((path) => output.includes(`${path}:`)));
};

describe('the layering rule', () => {
  it('refuses an adapter or network import in every domain folder', async () => {
    const probes = Object.fromEntries(
      DOMAIN.flatMap((folder) => FORBIDDEN.map((line, index) => [`lib/${folder}/probe-${index}.ts`, line])),
    );
    const found = await refused(probes);
    expect(
      Object.keys(probes)
        .filter((path) => !found.has(path))
        .map((path) => `${path}: ${probes[path]}`),
    ).toEqual([]);
  });

  it('lets adapters and the webhook client use them', async () => {
    const found = await refused({
      'lib/dynamodb/probe.ts': FORBIDDEN[2]!,
      'lib/webhooks/safe-http.ts': FORBIDDEN[3]!,
      'lib/campaigns/probe.ts': "import { judge } from '../webhooks/policy.js';",
    });
    expect([...found]).toEqual([]);
  });

  it('refuses an import of functions/ or local/ anywhere in lib/', async () => {
    const probes = {
      ...Object.fromEntries(
        LIB_FOLDERS.flatMap((folder) => ABOVE.map((line, index) => [`lib/${folder}/probe-above-${index}.ts`, line])),
      ),
      // A file at lib/'s top level, and the webhook adapter (outside the domain rule).
      'lib/probe-above.ts': "import { wireApi } from '../functions/api/wire.js';",
      'lib/webhooks/safe-http.ts': ABOVE[2]!,
    };
    const found = await refused(probes);
    expect(LIB_FOLDERS).toEqual(expect.arrayContaining([...DOMAIN, 'dynamodb', 'sqs']));
    expect(
      Object.keys(probes)
        .filter((path) => !found.has(path))
        .map((path) => `${path}: ${probes[path as keyof typeof probes]}`),
    ).toEqual([]);
  });

  it('lets functions/ and local/ import lib/ and each other', async () => {
    const found = await refused({
      'functions/api/probe.ts': "import { DynamoMembershipStore } from '../../lib/dynamodb/membership-store.js';",
      'local/probe.ts': "import { wireApi } from '../functions/api/wire.js';",
      'scripts/probe.ts': "import { startLocalStack } from '../local/stack.js';",
    });
    expect([...found]).toEqual([]);
  });
});
