/**
 * The operator CLI, run as an operator runs it: a child process (`node --import tsx
 * scripts/admin.ts`, what `npm run admin --` runs) against a local stack on the shared
 * emulators, or with no AWS credentials at all. Every failure must be one line on stderr
 * with a non-zero status and no stack trace; every command's --json output must parse.
 * Independent runs go in parallel: each costs about a second of tsx start-up.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { SendMessageCommand } from '@aws-sdk/client-sqs';
import { DeleteCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PARTNER_MESSAGES } from '../../lib/contract/partner.js';
import { describeStack, type LocalStack } from '../../local/stack.js';
import { runCli } from '../../scripts/admin/cli.js';
import { program } from '../../scripts/admin/program.js';
import { partnerClient, request } from '../support/client.js';
import { rejectedDeadLetter } from '../support/events.js';
import { eventually, startTestStack } from '../support/stack.js';

const escapeRegExp = (text: string): string => text.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the CLI as `npm run admin -- …` does, in a child process; never rejects. */
const cli = (args: string[], env: NodeJS.ProcessEnv = process.env): Promise<Run> =>
  new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', 'scripts/admin.ts', ...args],
      { env, timeout: 30_000 },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : -1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });

/** The same program in this process, for the parser's many cases (the child process costs a tsx start-up each). */
const inProcess = async (args: string[]): Promise<Run> => {
  const stdout: string[] = [];
  const stderr: string[] = [];
  const code = await runCli(
    program,
    args,
    (text) => stdout.push(`${text}\n`),
    (text) => stderr.push(`${text}\n`),
  );
  return { code, stdout: stdout.join(''), stderr: stderr.join('') };
};

/** An environment with no AWS credentials or region anywhere (no profile files, no instance metadata). */
const noAws = async (): Promise<NodeJS.ProcessEnv> => {
  const env = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('AWS_')));
  return { ...env, HOME: await mkdtemp(join(tmpdir(), 'no-aws-')), AWS_EC2_METADATA_DISABLED: 'true' };
};

/** One line on stderr, this status, nothing on stdout, no stack trace. */
const expectOneLineFailure = (run: Run, code: number, message: string | RegExp) => {
  expect({ code: run.code, stdout: run.stdout }).toEqual({ code, stdout: '' });
  expect(run.stderr).toMatch(/^error: [^\n]+\n$/);
  expect(run.stderr).toMatch(message);
  expect(run.stderr).not.toMatch(/\n\s+at /);
};

const json = (run: Run): Record<string, unknown> => {
  expect({ code: run.code, stderr: run.stderr }).toEqual({ code: 0, stderr: '' });
  return JSON.parse(run.stdout) as Record<string, unknown>;
};

/** The file `--local --stack-file` reads: where the stack's emulators and secrets are. */
const writeStackFile = async (on: LocalStack, prefix: string): Promise<string> => {
  const file = join(await mkdtemp(join(tmpdir(), prefix)), 'stack.json');
  await writeFile(file, JSON.stringify(describeStack(on)));
  return file;
};
/** A command line pointed at the stack a stack file describes, as `npm run admin -- … --local` runs it. */
const onLocal = (args: string[], file: string) => [...args, '--local', '--stack-file', file];

let stack: LocalStack;
let stackFile: string;
/** The CLI on the test stack, as `npm run admin -- --local …`. */
const admin = (...args: string[]) => cli(onLocal(args, stackFile));

beforeAll(async () => {
  stack = await startTestStack({ poll: false });
  stackFile = await writeStackFile(stack, 'admin-');
});
afterAll(() => stack?.stop());

describe('a command line the CLI cannot run', () => {
  it('is refused in one line that says what to do, before anything is touched (status 2)', async () => {
    // Act: as an operator would, the cases the issue names; the parser's other refusals in-process (same code).
    const [command, option, graceText, graceNegative, partner] = await Promise.all([
      cli(['frob']),
      cli(['workspace', 'show', '--workspace', 'w', '--bogus']),
      cli(['workspace', 'rotate-key', '--workspace', 'w', '--kind', 'rest', '--grace-seconds', 'abc']),
      cli(['workspace', 'rotate-key', '--workspace', 'w', '--kind', 'rest', '--grace-seconds', '-5']),
      cli(['partner', 'enable', '--partner', 'nope']),
    ]);
    const [none, subcommand, otherOption, missing, tooLong, flagValue, both] = await Promise.all([
      inProcess([]),
      inProcess(['workspace', 'frob']),
      inProcess(['partner', 'register', '--partner', 'heap', '--grace-seconds', '60']),
      inProcess(['workspace', 'show', '--workspace']),
      inProcess(['workspace', 'rotate-key', '--workspace', 'w', '--kind', 'rest', '--grace-seconds', '604801']),
      inProcess(['dlq', 'count', '--json=yes']),
      inProcess(['dlq', 'count', '--local', '--stage', 'prod']),
    ]);

    // Assess
    expectOneLineFailure(command, 2, "unknown command 'frob' (`npm run admin -- --help` lists the commands)");
    expectOneLineFailure(option, 2, 'unknown option --bogus');
    const graceRange = '--grace-seconds must be a whole number from 0 to 604800 (seconds, 7 days at most)';
    expectOneLineFailure(graceText, 2, `${graceRange}; got 'abc'`);
    expectOneLineFailure(graceNegative, 2, `${graceRange}; got '-5'`);
    expectOneLineFailure(
      partner,
      2,
      "--partner must be heap, segment, amplitude, mixpanel, census, hightouch, kubit or treasuredata; got 'nope'",
    );
    expectOneLineFailure(none, 2, 'no command given (`npm run admin -- --help` lists the commands)');
    expectOneLineFailure(
      subcommand,
      2,
      "unknown command 'workspace frob': workspace takes create, show, partners or rotate-key",
    );
    expectOneLineFailure(
      otherOption,
      2,
      '--grace-seconds is not an option of partner register (see `npm run admin -- partner register --help`)',
    );
    expectOneLineFailure(missing, 2, '--workspace needs a value: --workspace <id>');
    expectOneLineFailure(tooLong, 2, `${graceRange}; got '604801'`);
    expectOneLineFailure(flagValue, 2, '--json takes no value');
    expectOneLineFailure(both, 2, '--stage is for AWS, --local for the local stack: drop one of them');
  });

  it('refuses an http Currents URL for AWS before reaching it (the sender there refuses http), and takes it for the local stack', async () => {
    // Act
    const refused = await cli(
      [
        'currents',
        'create',
        '--workspace',
        'w',
        '--url',
        'http://heap.example/currents',
        '--events',
        'users.behaviors.CustomEvent',
        '--region',
        'eu-west-1',
      ],
      await noAws(),
    );
    const local = json(
      await admin(
        'currents',
        'create',
        '--workspace',
        stack.workspace.workspaceId,
        '--url',
        'http://127.0.0.1:9/currents',
        '--events',
        'users.behaviors.CustomEvent',
        '--json',
      ),
    );

    // Assess
    expectOneLineFailure(
      refused,
      2,
      "--url must be https on stage dev in eu-west-1 (the Currents sender refuses http outside the local stack); got 'http://heap.example/currents'",
    );
    expect(local.connector).toMatchObject({ url: 'http://127.0.0.1:9/currents' });
  });

  it('says how to reach AWS or the local stack when neither is there (status 1), the stack trace only with --debug', async () => {
    // Prepare
    const env = await noAws();
    const staleStackFile = join(await mkdtemp(join(tmpdir(), 'stale-')), 'stack.json');
    // What `npm start` left behind after it stopped: nothing listens on its endpoints any more.
    await writeFile(
      staleStackFile,
      JSON.stringify({
        ...describeStack(stack),
        sqsEndpoint: 'http://127.0.0.1:9',
        dynamoDbEndpoint: 'http://127.0.0.1:9',
      }),
    );

    // A stack file naming a secrets file that is gone (the stack's data was reset or moved).
    const noSecretsStackFile = join(dirname(staleStackFile), 'no-secrets.json');
    await writeFile(
      noSecretsStackFile,
      JSON.stringify({ ...describeStack(stack), secretsFile: join(dirname(staleStackFile), 'gone.json') }),
    );

    // Act
    const [noCredentials, noCredentialsForSecrets, noRegion, debug, notStarted, stale, noSecrets] = await Promise.all([
      cli(['workspace', 'show', '--workspace', 'w', '--region', 'eu-west-1'], env),
      // Creating a workspace reads the stage's key-hash pepper from Secrets Manager first.
      cli(['workspace', 'create', '--name', 'n', '--partners', 'heap', '--region', 'eu-west-1'], env),
      cli(['dlq', 'count'], env),
      cli(['workspace', 'show', '--workspace', 'w', '--region', 'eu-west-1', '--debug'], env),
      cli(['dlq', 'count', '--local', '--stack-file', join(tmpdir(), 'no-such-dir', 'stack.json')]),
      cli(['dlq', 'count', '--local', '--stack-file', staleStackFile]),
      cli(['workspace', 'create', '--name', 'n', '--partners', 'heap', '--local', '--stack-file', noSecretsStackFile]),
    ]);

    // Assess
    const configure =
      'pass --local to act on the local stack (`npm start`), or configure AWS credentials (AWS_PROFILE, `aws configure` or `aws sso login`) and a region (--region, AWS_REGION or the profile’s)';
    expectOneLineFailure(noCredentials, 1, `error: no AWS credentials found: ${configure}\n`);
    expectOneLineFailure(noCredentialsForSecrets, 1, `error: no AWS credentials found: ${configure}\n`);
    expectOneLineFailure(noRegion, 1, `error: no AWS region given: ${configure}\n`);
    expect(debug.code).toBe(1);
    expect(debug.stderr.split('\n')[0]).toBe(`error: no AWS credentials found: ${configure}`);
    expect(debug.stderr).toMatch(/^CredentialsProviderError: .*\n\s+at /m);
    expectOneLineFailure(notStarted, 1, /no local stack found \(.*stack\.json\): run `npm start` first/);
    expectOneLineFailure(stale, 1, 'the local stack does not answer (ECONNREFUSED;');
    expectOneLineFailure(
      noSecrets,
      1,
      /^error: the local stack's secrets are missing \(No secrets file .*gone\.json .*\): start it with `npm start`, or pass the --stack-file of the running one\n$/,
    );
  });
});

describe('help', () => {
  it('lists the commands, and describes a command and each of its options', async () => {
    // Act
    const [overview, byFlag, byWord] = await Promise.all([
      cli(['--help']),
      cli(['workspace', 'rotate-key', '--help']),
      cli(['help', 'workspace', 'rotate-key']),
    ]);
    const short = await inProcess(['dlq', 'purge', '-h']);

    // Assess
    expect(overview.code).toBe(0);
    for (const command of program.commands) expect(overview.stdout).toContain(`  ${command.name} `);
    expect(overview.stdout).toContain('Exit status: 0 done; 1 failed');
    expect(byFlag).toEqual(byWord);
    expect(byFlag.stdout).toMatch(
      /^Usage: npm run admin -- workspace rotate-key --workspace <id> --kind <data_import\|rest> \[--grace-seconds <seconds>\] \[--force\]\n/,
    );
    expect(byFlag.stdout).toContain('  --grace-seconds <seconds>  how long the old key keeps working, 0 to 604800');
    expect(short.stdout).toContain('Usage: npm run admin -- dlq purge [--queue <queue>] [--force]');
  });

  it('exists for every command and names every option with its meaning', async () => {
    for (const command of program.commands) {
      // Prepare
      const out: string[] = [];

      // Act (in-process: the same code as the child process, without 19 tsx start-ups)
      const code = await runCli(program, [...command.name.split(' '), '--help'], (text) => out.push(text));

      // Assess
      expect(code).toBe(0);
      const help = out.join('\n');
      expect(help).toContain(`Usage: npm run admin -- ${command.name}`);
      expect(help).toContain(command.summary);
      for (const [name, spec] of Object.entries({ ...program.globalOptions, ...command.options }))
        expect(help).toMatch(new RegExp(`\\n  --${name}( <[^>]+>)? +${escapeRegExp(spec.description)}`));
    }
  });
});

describe('on the local stack', () => {
  it('creates a workspace whose printed keys work; rotates a key with a grace, and refuses to without one', async () => {
    // Act
    const created = json(await admin('workspace', 'create', '--name', 'acme', '--partners', 'heap', '--json'));
    const dataImportKey = created.data_import_key as string;
    const restApiKey = created.rest_api_key as string;
    const workspace = created.workspace as Record<string, unknown>;
    const workspaceId = workspace.workspace_id as string;

    // Assess
    expect(workspace).toEqual({
      workspace_id: workspaceId,
      name: 'acme',
      partners: ['heap'],
      created_at: expect.any(String),
    });
    expect((await partnerClient(stack, { dataImportKey, restApiKey }).changeCohort('c', [])).status).toBe(201);
    expect((await request(`${stack.url}/cohorts`, { headers: { authorization: `Bearer ${restApiKey}` } })).status).toBe(
      200,
    );

    // Act: without a grace and without --force, nothing changes; an unknown workspace is said to be one.
    const [refused, unknown, shown] = await Promise.all([
      admin('workspace', 'rotate-key', '--workspace', workspaceId, '--kind', 'data_import'),
      admin('workspace', 'rotate-key', '--workspace', 'nope', '--kind', 'rest', '--grace-seconds', '60'),
      admin('workspace', 'show', '--workspace', workspaceId),
    ]);

    // Assess
    expectOneLineFailure(
      refused,
      2,
      'error: with no grace the old data_import key stops working at once and its users get 401 until they have the new one: pass --grace-seconds <seconds> (e.g. 3600) to keep it working meanwhile, or --force to cut it off now\n',
    );
    expect((await partnerClient(stack, { dataImportKey, restApiKey }).changeCohort('c', [])).status).toBe(201);
    expectOneLineFailure(unknown, 1, /error: no workspace nope in the local stack: check the id/);
    expect(shown).toEqual({
      code: 0,
      stdout: `workspace_id: ${workspaceId}\nname: acme\npartners: heap\ncreated_at: ${workspace.created_at}\n`,
      stderr: '',
    });

    // Act: with a grace both keys work; then cut off with --force, only the newest does.
    const graced = json(
      await admin(
        'workspace',
        'rotate-key',
        '--workspace',
        workspaceId,
        '--kind',
        'data_import',
        '--grace-seconds',
        '600',
        '--json',
      ),
    );
    const forced = await admin(
      'workspace',
      'rotate-key',
      '--workspace',
      workspaceId,
      '--kind',
      'data_import',
      '--force',
    );

    // Assess
    expect(graced).toEqual({
      workspace_id: workspaceId,
      kind: 'data_import',
      key: expect.stringMatching(/^\S{32,}$/),
      old_key_works_until: expect.stringMatching(/Z$/),
    });
    const newestKey = /^New data_import key: (\S+)\n/.exec(forced.stdout)?.[1];
    expect(forced.stdout).toBe(
      `New data_import key: ${newestKey}\nThe old key no longer works (ingest instances may accept it for up to 30 s more).\n`,
    );
    const send = (key: string) => partnerClient(stack, { dataImportKey: key, restApiKey }).changeCohort('c', []);
    expect((await send(newestKey!)).status).toBe(201);
    expect((await send(graced.key as string)).body.message).toBe(PARTNER_MESSAGES.invalidClientSecret);
    // The first key was still in the grace it was given: a rotation without grace (a key that leaked) ends it too.
    expect((await send(dataImportKey)).body.message).toBe(PARTNER_MESSAGES.invalidClientSecret);
  });

  it('refuses to drop a partner from a workspace without --force', async () => {
    // Act
    const [refused, added] = await Promise.all([
      admin('workspace', 'partners', '--workspace', stack.workspace.workspaceId, '--partners', 'segment'),
      admin('workspace', 'partners', '--workspace', stack.workspace.workspaceId, '--partners', 'heap,segment'),
    ]);

    // Assess
    expectOneLineFailure(
      refused,
      2,
      `error: this would stop workspace ${stack.workspace.workspaceId} accepting heap: their requests would get 401 at once; list them too, or pass --force\n`,
    );
    expect(added.stdout).toBe(`Workspace ${stack.workspace.workspaceId} now accepts: heap, segment\n`);
    expect((await partnerClient(stack).changeCohort('c', [])).status).toBe(201);
  });

  it('registers a partner once: a repeat keeps its key, only --force replaces it (and cuts the old one off)', async () => {
    // Prepare: census was never registered; heap is, with the stack's partner key.
    await stack.clients.documents.send(
      new DeleteCommand({ TableName: stack.tables.workspaces, Key: { pk: 'PARTNER#census' } }),
    );
    const asHeap = (partnerApiKey: string) =>
      request(`${stack.url}/partners/heap/cohorts/users`, {
        body: {
          partner_api_key: partnerApiKey,
          client_secret: stack.workspace.dataImportKey,
          cohort_id: 'c',
          cohort_changes: [],
        },
      });

    try {
      // Act
      const [again, againJson, notRegistered] = await Promise.all([
        admin('partner', 'register', '--partner', 'heap'),
        admin('partner', 'register', '--partner', 'heap', '--json'),
        admin('partner', 'enable', '--partner', 'census'),
      ]);

      // Assess
      expect(again).toEqual({
        code: 0,
        stdout:
          'Partner heap is registered already (enabled); its key is unchanged. --force would issue a new key and cut off the one heap uses now.\n',
        stderr: '',
      });
      expect(json(againJson)).toEqual({ partner: 'heap', status: 'exists', enabled: true });
      expect((await asHeap(stack.partnerApiKey)).status).toBe(201);
      expectOneLineFailure(
        notRegistered,
        1,
        'error: partner census is not registered in the local stack: `npm run admin -- partner register --partner census --local` registers it and prints its key\n',
      );

      // Act
      const census = json(await admin('partner', 'register', '--partner', 'census', '--disabled', '--json'));
      const replaced = json(await admin('partner', 'register', '--partner', 'heap', '--force', '--json'));
      const listed = json(await admin('partner', 'list', '--json'));

      // Assess
      expect(census).toEqual({
        partner: 'census',
        status: 'created',
        enabled: false,
        partner_api_key: expect.any(String),
      });
      expect(replaced).toEqual({
        partner: 'heap',
        status: 'replaced',
        enabled: true,
        partner_api_key: expect.any(String),
      });
      expect((await asHeap(stack.partnerApiKey)).body.message).toBe(PARTNER_MESSAGES.invalidPartnerKey);
      expect((await asHeap(replaced.partner_api_key as string)).status).toBe(201);
      expect(listed.partners).toEqual(
        expect.arrayContaining([
          { partner: 'heap', registered: true, enabled: true },
          { partner: 'census', registered: true, enabled: false },
        ]),
      );
    } finally {
      // The other tests send as heap with the stack's key.
      await stack.stores.workspaces.registerPartner('heap', { partnerApiKey: stack.partnerApiKey });
    }
  });

  it('counts, redrives and purges the dead-letter queues; a purge needs --force', async () => {
    // Prepare
    for (const body of ['{"dead":1}', '{"dead":2}'])
      await stack.clients.sqs.send(
        new SendMessageCommand({ QueueUrl: stack.queues.deadLetterQueueUrl, MessageBody: body }),
      );
    await eventually(
      async () =>
        (await admin('dlq', 'count', '--queue', 'cohort-changes')).stdout.startsWith('cohort-changes DLQ: 2 ')
          ? true
          : undefined,
      10_000,
      'the DLQ count',
    );

    // Act
    const counted = json(await admin('dlq', 'count', '--json'));
    const redriven = await admin('dlq', 'redrive', '--max', '1');
    await stack.clients.sqs.send(
      new SendMessageCommand({ QueueUrl: stack.queues.deadLetterQueueUrl, MessageBody: '{"dead":3}' }),
    );
    const refused = await admin('dlq', 'purge');
    const purged = json(await admin('dlq', 'purge', '--force', '--json'));

    // Assess
    expect(counted.dead_letter_queues).toEqual([
      { queue: 'cohort-changes', name: expect.stringMatching(/-cohort-changes-dlq$/), messages: 2, in_flight: 0 },
      { queue: 'segment-exports', name: expect.stringMatching(/-segment-exports-dlq$/), messages: 0, in_flight: 0 },
      { queue: 'currents', name: expect.stringMatching(/-currents-dlq$/), messages: 0, in_flight: 0 },
    ]);
    expect(redriven.stdout).toBe('Moved 1 message(s) from the cohort-changes DLQ back to cohort-changes.\n');
    expectOneLineFailure(
      refused,
      2,
      /^error: this would delete the 2 message\(s\) in the cohort-changes DLQ for good \(cohort changes accepted \(201\) but never applied to the cohorts\): `npm run admin -- dlq redrive --queue cohort-changes --local` applies them instead; pass --force to delete them\n$/,
    );
    expect(purged).toEqual({ queue: 'cohort-changes', purged: 2 });
    await eventually(
      async () =>
        (await admin('dlq', 'count', '--queue', 'cohort-changes')).stdout === 'cohort-changes DLQ: 0 message(s)\n'
          ? true
          : undefined,
      10_000,
      'an empty DLQ',
    );
  });

  it('manages Currents connectors, shown as the API shows them; a delete needs --force', async () => {
    // Prepare
    const workspaceId = stack.workspace.workspaceId;
    const created = json(
      await admin(
        'currents',
        'create',
        '--workspace',
        workspaceId,
        '--url',
        'https://heap.example/currents',
        '--token',
        't0ken',
        '--events',
        'users.behaviors.CustomEvent,users.behaviors.Purchase',
        '--json',
      ),
    );
    const connectorId = (created.connector as Record<string, string>).connector_id!;

    // Act
    const paused = json(
      await admin('currents', 'pause', '--workspace', workspaceId, '--connector', connectorId, '--json'),
    );
    const [listed, listedText, refused, deadLetters, unknown] = await Promise.all([
      admin('currents', 'list', '--workspace', workspaceId, '--json'),
      admin('currents', 'list', '--workspace', workspaceId),
      admin('currents', 'delete', '--workspace', workspaceId, '--connector', connectorId),
      admin('currents', 'dead-letters', '--workspace', workspaceId, '--connector', connectorId, '--json'),
      admin('currents', 'pause', '--workspace', workspaceId, '--connector', 'nope'),
    ]);
    const api = await request<{ connector: unknown }>(`${stack.url}/currents/${connectorId}`, {
      headers: { authorization: `Bearer ${stack.workspace.restApiKey}` },
    });

    // Assess
    const shown = (json(listed).connectors as Record<string, unknown>[]).find(
      (connector) => connector.connector_id === connectorId,
    );
    expect(shown).toEqual(api.body.connector);
    expect(shown).toMatchObject({
      url: 'https://heap.example/currents',
      paused: true,
      events: ['users.behaviors.CustomEvent', 'users.behaviors.Purchase'],
    });
    expect(paused.connector).toEqual(shown);
    expect(listed.stdout + listedText.stdout).not.toContain('t0ken');
    expect(listedText.stdout).toContain(`connector_id: ${connectorId}\nurl: https://heap.example/currents\n`);
    expect(listedText.stdout).toContain('\ncreated_at: ');
    for (const camel of ['connectorId', 'eventTypes', 'createdAt', 'lastSuccessAt', 'lastError'])
      expect(listedText.stdout).not.toContain(camel);
    expectOneLineFailure(
      refused,
      2,
      `error: this would delete connector ${connectorId} for good: events queued for it are discarded;`,
    );
    expect(json(deadLetters)).toEqual({ dead_letters: [] });
    expectOneLineFailure(unknown, 1, `error: no Currents connector nope in workspace ${workspaceId}: `);

    // Prepare: an event the receiver refused.
    await stack.currents.connectors.putDeadLetters(workspaceId, connectorId, [rejectedDeadLetter()]);

    // Act
    const [dropped, apiDropped] = await Promise.all([
      admin('currents', 'dead-letters', '--workspace', workspaceId, '--connector', connectorId, '--json'),
      request<{ dead_letters: unknown[] }>(`${stack.url}/currents/${connectorId}/dead-letters`, {
        headers: { authorization: `Bearer ${stack.workspace.restApiKey}` },
      }),
    ]);
    const replayed = json(
      await admin('currents', 'replay', '--workspace', workspaceId, '--connector', connectorId, '--json'),
    );
    const droppedAfter = json(
      await admin('currents', 'dead-letters', '--workspace', workspaceId, '--connector', connectorId, '--json'),
    );

    // Assess: shown as the API shows it, then queued again and gone from the dead letters.
    expect(json(dropped).dead_letters).toEqual(apiDropped.body.dead_letters);
    expect(json(dropped).dead_letters).toEqual([
      expect.objectContaining({ event_id: 'a3bb189e-8bf9-4888-9912-ace4e6543002', status: 400 }),
    ]);
    expect(replayed).toEqual({ connector_id: connectorId, requeued: 1 });
    expect(droppedAfter).toEqual({ dead_letters: [] });

    // Act
    const deleted = await admin(
      'currents',
      'delete',
      '--workspace',
      workspaceId,
      '--connector',
      connectorId,
      '--force',
    );
    const again = await admin('currents', 'delete', '--workspace', workspaceId, '--connector', connectorId, '--force');

    // Assess
    expect(deleted.stdout).toBe(`Connector ${connectorId} deleted.\n`);
    expectOneLineFailure(again, 1, `no Currents connector ${connectorId} in workspace ${workspaceId}`);
  });

  it('prints JSON only on stdout with `npm run -s admin -- … --json`', async () => {
    // Act
    const run = await new Promise<Run>((resolve) => {
      execFile(
        'npm',
        [
          'run',
          '-s',
          'admin',
          '--',
          'workspace',
          'show',
          '--workspace',
          stack.workspace.workspaceId,
          '--json',
          '--local',
          '--stack-file',
          stackFile,
        ],
        (error, stdout, stderr) => resolve({ code: error ? Number(error.code) : 0, stdout, stderr }),
      );
    });

    // Assess
    expect(json(run)).toEqual({
      workspace: {
        workspace_id: stack.workspace.workspaceId,
        name: stack.workspace.name,
        partners: expect.any(Array),
        created_at: expect.any(String),
      },
    });
  });
});

/**
 * The README's "Operating it" and docs/operations.md's "The admin CLI" examples, run as
 * shown (with --local): each `npm run admin -- …` line is followed by what it prints, as
 * `# ` lines (on stderr, with status 2, when they start `error: `). `…` stands for anything;
 * `<name>` in an output captures a value that later commands use in place of `<name>`.
 */
const examples = (markdown: string, heading: string): { command: string; output: string[] }[] => {
  // The section: from its heading to the next of its level or above, outside code blocks.
  const lines = markdown.split('\n');
  const first = lines.indexOf(heading);
  if (first < 0) throw new Error(`no section ${heading}`);
  const level = heading.indexOf(' ');
  const found: { command: string; output: string[] }[] = [];
  let block: 'none' | 'starting' | 'example' | 'other' = 'none';
  for (const line of lines.slice(first + 1)) {
    if (block === 'none') {
      if (new RegExp(`^#{1,${level}} `).test(line)) break;
      if (line === '```bash') block = 'starting';
      else if (line.startsWith('```')) block = 'other';
      continue;
    }
    if (line.startsWith('```')) {
      block = 'none';
      continue;
    }
    if (block === 'other') continue;
    if (block === 'starting') {
      // A bash block that does not start with an admin command is not an example (a pipe to jq).
      block = line.startsWith('npm run admin -- ') ? 'example' : 'other';
      if (block === 'other') continue;
    }
    if (line.startsWith('npm run admin -- '))
      found.push({ command: line.slice('npm run admin -- '.length), output: [] });
    else if (line.startsWith('# ')) found.at(-1)!.output.push(line.slice(2));
    else if (line.trim() !== '') throw new Error(`not an admin example: ${line}`);
  }
  return found;
};

const runExamples = async (run: (...args: string[]) => Promise<Run>, file: string, heading: string) => {
  const captured = new Map<string, string>();
  const shown = examples(await readFile(file, 'utf8'), heading);
  expect(shown.length).toBeGreaterThan(0);
  // Only a <name> that a command uses is a value to capture; any other is text (`--grace-seconds <seconds>`).
  const used = new Set(shown.flatMap(({ command }) => [...command.matchAll(/<([a-z_]+)>/g)].map((match) => match[1]!)));
  for (const { command, output } of shown) {
    const args = command
      .replace(/<([a-z_]+)>/g, (placeholder, name: string) => captured.get(name) ?? placeholder)
      .split(/\s+/);
    const result = await run(...args);
    // An example of a refusal shows the one line on stderr.
    const failure = output[0]?.startsWith('error: ') === true;
    if (failure)
      expect({ command, code: result.code, stdout: result.stdout }).toEqual({ command, code: 2, stdout: '' });
    else expect({ command, code: result.code, stderr: result.stderr }).toEqual({ command, code: 0, stderr: '' });
    const lines = (failure ? result.stderr : result.stdout).replace(/\n$/, '').split('\n');
    expect({ command, lines: lines.length }).toEqual({ command, lines: output.length });
    output.forEach((expected, index) => {
      const names: string[] = [];
      const pattern = expected
        .split(/(…|<[a-z_]+>)/)
        .map((part) => {
          if (part === '…') return '.*';
          const placeholder = /^<([a-z_]+)>$/.exec(part);
          if (!placeholder || !used.has(placeholder[1]!)) return escapeRegExp(part);
          if (captured.has(placeholder[1]!)) return escapeRegExp(captured.get(placeholder[1]!)!);
          names.push(placeholder[1]!);
          return '([0-9A-Za-z_-]+)';
        })
        .join('');
      const match = new RegExp(`^${pattern}$`).exec(lines[index]!);
      expect({ command, line: lines[index] }).toEqual({
        command,
        line: expect.stringMatching(new RegExp(`^${pattern}$`)),
      });
      for (const [at, name] of names.entries()) captured.set(name, match![at + 1]!);
    });
  }
};

describe('the documented examples', () => {
  let documented: LocalStack;
  let documentedStackFile: string;
  // In-process, the same code as `npm run admin` (whose process-level behaviour the tests above check), in a
  // fraction of the time: a dozen tsx start-ups would take longer than the rest of this file.
  const adminOnDocumented = (...args: string[]) => inProcess(onLocal(args, documentedStackFile));
  beforeAll(async () => {
    // A stack of its own: the examples count an empty DLQ.
    documented = await startTestStack({ poll: false });
    documentedStackFile = await writeStackFile(documented, 'admin-docs-');
  });
  afterAll(() => documented?.stop());

  it('print what README.md and docs/operations.md show', async () => {
    await runExamples(adminOnDocumented, 'README.md', '## Operating it');
    await runExamples(adminOnDocumented, 'docs/operations.md', '## The admin CLI');
  });
});
