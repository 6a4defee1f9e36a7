/**
 * The README's "API, with curl" section, run as a reader would: every curl command of it,
 * in order, through bash and curl, against a fresh local stack, with the stack's keys for
 * the placeholders the reader fills in from `npm start`. Each answer must be what the README
 * shows under the command (test/support/readme-examples.ts says how `…` elides what varies).
 * A GET is asked again until it matches (the sync, the size job and Currents deliveries are
 * asynchronous: a reader would look again too); anything else is sent once.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalStack } from '../../local/stack.js';
import { startTestStack } from '../support/stack.js';
import { bashBlocks, findField, mismatches, type ReadmeStep, stepsOf } from '../support/readme-examples.js';

const SECTION = 'API, with curl';
const blocks = bashBlocks(readFileSync(new URL('../../README.md', import.meta.url), 'utf8'), SECTION);
const runBlocks = blocks.filter((block) => block.marker === undefined);
const steps: ReadmeStep[] = runBlocks.flatMap(stepsOf);

/**
 * How long a GET may take to show what the README shows (a sync, a size job, a Currents
 * delivery). It only bounds a hang: a step that shows it sooner moves on at once. 45 s was
 * missed once by a size job in a clean-clone CI run beside other work (load 9 on 2 cores).
 */
const SETTLE_MS = 150_000;

// curl prints the status after the body; a minimal environment (no proxy variables) reaches the loopback stack.
const PRELUDE = `curl() { command curl --max-time 30 -w '\\n%{http_code}' "$@"; }`;
const runCurl = async (command: string, variables: Record<string, string>) => {
  const { stdout } = await promisify(execFile)('bash', ['-c', `${PRELUDE}\n${command}`], {
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...variables },
  });
  const newline = stdout.lastIndexOf('\n');
  const text = stdout.slice(0, newline);
  return { status: Number(stdout.slice(newline + 1)), text, body: text ? (JSON.parse(text) as unknown) : undefined };
};

describe(`README: ${SECTION}`, () => {
  let stack: LocalStack;
  let exportsRoot: string;
  const variables: Record<string, string> = {};
  let lastBody: unknown;

  beforeAll(async () => {
    // Exports land under a `.local/exports` of their own, as the README's location shows.
    exportsRoot = await mkdtemp(join(tmpdir(), 'readme-'));
    stack = await startTestStack({
      exportsFolder: join(exportsRoot, '.local', 'exports'),
      // A size job starts at once (AWS: 30 s after the cohort's last sync, the README says "half a minute").
      segmentSizePolicy: { syncWriteWindowMs: 0, minRecomputeIntervalMs: 0, jobLeaseMs: 600_000 },
    });
    Object.assign(variables, {
      URL: stack.url,
      PARTNER_KEY: stack.partnerApiKey,
      SECRET: stack.workspace.dataImportKey,
      REST: stack.workspace.restApiKey,
      CONNECTOR: stack.currents.demoConnectorId,
      HOOKS: stack.campaigns.receiver.url,
    });
  });
  afterAll(async () => {
    await stack?.stop();
    if (exportsRoot) await rm(exportsRoot, { recursive: true, force: true });
  });

  it('runs every bash block of the section, but the setup and those marked as not run', () => {
    // Assess: a block is run, or says why not; the walk-through is all there.
    for (const block of blocks) {
      expect(block.marker === undefined || block.marker === 'setup' || /^not run \(.+\)$/.test(block.marker)).toBe(
        true,
      );
    }
    expect(blocks.filter((block) => block.marker === 'setup')).toHaveLength(1);
    expect(steps.filter((step) => step.kind === 'command').length).toBeGreaterThanOrEqual(20);
    expect(steps.filter((step) => step.kind === 'command' && step.answer).length).toBeGreaterThanOrEqual(15);
  });

  it('sets exactly the variables a reader copies from what npm start prints', () => {
    // Prepare
    const setup = blocks.find((block) => block.marker === 'setup')!;

    // Act
    const assigned = [...setup.text.matchAll(/^([A-Z_]+)=/gm)].map((match) => match[1]);

    // Assess: the test fills in each of them, and npm start prints each.
    expect(assigned.sort()).toEqual(Object.keys(variables).sort());
    const printed = readFileSync(new URL('../../scripts/local-stack.ts', import.meta.url), 'utf8');
    for (const label of [
      'REST endpoint',
      'Partner API key',
      'Data import key',
      'REST API key',
      'connector',
      'webhooks to',
    ]) {
      expect(printed).toContain(label);
    }
  });

  for (const step of steps) {
    const title =
      step.kind === 'capture'
        ? `README line ${step.line}: ${step.name} is the ${step.field} of the answer above`
        : `README line ${step.line}: ${step.method} ${/\$URL(\S*)/.exec(step.command)?.[1] ?? '?'} answers ${
            step.answer ? `${step.answer.status} as shown` : '2xx'
          }`;
    it(title, { timeout: SETTLE_MS + 15_000 }, async () => {
      if (step.kind === 'capture') {
        // Act
        const value = findField(lastBody, step.field);

        // Assess
        expect(typeof value, `${step.field} in ${JSON.stringify(lastBody)}`).toBe('string');
        variables[step.name] = value as string;
        return;
      }
      // Act: a GET again until it shows what the README shows; anything else once.
      const started = Date.now();
      for (;;) {
        const answer = await runCurl(step.command, variables);
        const problems = step.answer
          ? [
              ...(answer.status === step.answer.status ? [] : [`status ${answer.status}, shown ${step.answer.status}`]),
              ...mismatches(step.answer.body, answer.body),
            ]
          : answer.status >= 200 && answer.status < 300
            ? []
            : [`status ${answer.status}, expected 2xx`];
        if (problems.length === 0 || step.method !== 'GET' || Date.now() - started > SETTLE_MS) {
          // Assess
          expect(
            problems,
            `${step.command}\nanswered ${answer.status} ${answer.text}\nREADME shows: ${step.answer?.text ?? '2xx'}`,
          ).toEqual([]);
          lastBody = answer.body;
          return;
        }
        await new Promise((resolve) => setTimeout(resolve, 250));
      }
    });
  }
});
