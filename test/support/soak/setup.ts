/**
 * The soak's setup: two workspaces with four partner feeds, each with its cohort pool
 * (tracked and read back, aliases and devices included) and every cohort named before the
 * chaos starts; and `brazeIdOf`, how the oracle finds a pool user.
 * Part of the chaos soak (test/support/soak.ts).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { chunk } from '../../../lib/dynamodb/batch.js';
import { MAX_EXPORT_IDS, MAX_TRACK_ATTRIBUTES } from '../../../lib/users/requests.js';
import { queueDepth } from '../../../local/settle.js';
import type { LocalStack } from '../../../local/stack.js';
import { ALIAS_EVERY, DEVICE_EVERY, POOL_USERS, SETUP_TIMEOUT_MS } from './config.js';
import type { SoakHttp } from './http.js';
import type { SoakRun } from './run.js';
import { aliasKey, poolExternalId, refsOf, type Alias, type SoakWorkspace } from './workspaces.js';

/** Two workspaces (the same cohort ids under heap in both), their pools created and every cohort named. */
export const setUpWorkspaces = async (
  run: SoakRun,
  stack: LocalStack,
  { call, expectStatus, sendAsPartner }: SoakHttp,
): Promise<SoakWorkspace[]> => {
  const second = await stack.stores.workspaces.createWorkspace({ name: 'soak-b', partners: ['heap', 'amplitude'] });
  const workspaces: SoakWorkspace[] = [
    {
      label: 'demo',
      ...stack.workspace,
      feeds: new Map([
        ['heap', ['h1', 'h2', 'h3']],
        ['segment', ['s1', 's2']],
      ]),
    },
    // The same cohort ids under heap in both workspaces: isolation is checked by the same comparisons.
    {
      label: 'b',
      ...second,
      feeds: new Map([
        ['heap', ['h1', 'h2']],
        ['amplitude', ['a1', 'a2', 'a3']],
      ]),
    },
  ].map((workspace) => ({
    label: workspace.label,
    workspaceId: workspace.workspaceId,
    dataImportKey: workspace.dataImportKey,
    restApiKey: workspace.restApiKey,
    feeds: workspace.feeds,
    byExternalId: new Map(),
    byAlias: new Map(),
    aliases: [],
    devices: [],
    segments: new Map(),
    anonymous: [],
    created: 0,
  }));
  for (const workspace of workspaces) {
    const pool = Array.from({ length: POOL_USERS }, (_, index) => ({
      external_id: poolExternalId(index),
      ...(index % ALIAS_EVERY === 0 ? { user_alias: { alias_name: `alias-${index}`, alias_label: 'crm' } } : {}),
      ...(index % DEVICE_EVERY === 0 ? { device_id: `device-of-user-${index}` } : {}),
      tier: 'pool',
    }));
    for (const part of chunk(pool, MAX_TRACK_ATTRIBUTES)) {
      if (
        !expectStatus(
          'setup: /users/track',
          await call('setup', '/users/track', { body: { attributes: part }, token: workspace.restApiKey }),
          [201],
        )
      ) {
        throw new Error('the cohort pool could not be created');
      }
    }
    for (const part of chunk(pool, MAX_EXPORT_IDS)) {
      const answer = await call('setup', '/users/export/ids', {
        body: { external_ids: part.map((user) => user.external_id) },
        token: workspace.restApiKey,
      });
      if (!expectStatus('setup: /users/export/ids', answer, [201]))
        throw new Error('the cohort pool could not be read back');
      for (const user of answer.body.users as { braze_id: string; external_id: string; user_aliases: Alias[] }[]) {
        workspace.byExternalId.set(user.external_id, user.braze_id);
        for (const alias of user.user_aliases) {
          workspace.byAlias.set(aliasKey(alias), user.braze_id);
          workspace.aliases.push(alias);
        }
      }
      workspace.devices.push(
        ...part.flatMap((user) => ('device_id' in user && user.device_id ? [user.device_id] : [])),
      );
    }
    if (workspace.byExternalId.size !== POOL_USERS)
      throw new Error(`${workspace.label}: ${workspace.byExternalId.size} of ${POOL_USERS} pool users read back`);
    for (const ref of refsOf(workspace)) {
      const named = await sendAsPartner('partner names (setup)', `/partners/${ref.partner}/cohorts`, {
        partner_api_key: stack.partnerApiKey,
        client_secret: workspace.dataImportKey,
        cohort_id: ref.cohortId,
        name: `${ref.partner} ${ref.cohortId}`,
        created_at: '2021-01-21T19:20:30+05:00',
      });
      if (!named) throw new Error(`cohort ${ref.partner}/${ref.cohortId} could not be named`);
    }
  }
  // Segments may name a cohort only once the workspace knows it (the sync has applied its name).
  const setupDeadline = run.phaseDeadline;
  for (const workspace of workspaces) {
    for (;;) {
      const answer = await call('setup', '/cohorts', { token: workspace.restApiKey });
      if ((answer?.body.cohorts as unknown[] | undefined)?.length === refsOf(workspace).length) break;
      if (Date.now() > setupDeadline)
        throw new Error(
          `${workspace.label}: the cohorts were not named within ${SETUP_TIMEOUT_MS / 60_000} minutes of the start (the queue holds ${await queueDepth(stack.clients.sqs, stack.queues.queueUrl)})`,
        );
      await sleep(200);
    }
  }
  return workspaces;
};

/** A pool user's braze id in a workspace, by external id or alias: what the oracle matches. */
export const brazeIdOf =
  (workspaces: readonly SoakWorkspace[]) =>
  (workspaceId: string, identifier: { externalId?: string; alias?: Alias }) => {
    const workspace = workspaces.find((candidate) => candidate.workspaceId === workspaceId);
    if (!workspace) return undefined;
    if (identifier.externalId !== undefined) return workspace.byExternalId.get(identifier.externalId);
    return identifier.alias ? workspace.byAlias.get(aliasKey(identifier.alias)) : undefined;
  };
