/**
 * The soak's load while the chaos lasts: each partner's feed of cohort deltas and renames
 * (identifiers that match a pool user, or nobody whatever happens), and a workspace's REST
 * clients (tracking new, pool and anonymous users, identifying, building, paging and
 * exporting segments, reading cohorts). Part of the chaos soak (test/support/soak.ts).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { LocalStack } from '../../../local/stack.js';
import { EXPORT_TIMEOUT_MS, POOL_USERS } from './config.js';
import type { HttpAnswer, SoakHttp } from './http.js';
import type { SoakRun } from './run.js';
import { poolExternalId, refsOf, type Alias, type SegmentFilter, type SoakWorkspace } from './workspaces.js';

/** The partners' and the REST clients' loops, each until `running()` says the chaos is over. */
export const soakLoad = (
  run: SoakRun,
  stack: LocalStack,
  { call, expectStatus, sendAsPartner }: SoakHttp,
  running: () => boolean,
) => {
  const cohortDelta = (workspace: SoakWorkspace) => {
    const changes = Array.from({ length: 1 + run.int(3) }, () => {
      const userIds: string[] = [];
      const aliases: Alias[] = [];
      const deviceIds: string[] = [];
      for (let count = 1 + run.int(40); count > 0; count -= 1) {
        const roll = run.random();
        if (roll < 0.68) userIds.push(poolExternalId(run.int(POOL_USERS)));
        else if (roll < 0.84) aliases.push(run.pick(workspace.aliases));
        else if (roll < 0.9) userIds.push(`ghost-${run.int(1_000)}`);
        // An alias nobody has: an unknown name, or a pool alias's name under another label.
        else if (roll < 0.95)
          aliases.push(
            run.chance(0.5)
              ? { alias_name: `ghost-alias-${run.int(1_000)}`, alias_label: 'crm' }
              : { alias_name: `alias-${run.int(POOL_USERS)}`, alias_label: 'email' },
          );
        // A device of an identified user (contract rule 3: never matched), or nobody's.
        else deviceIds.push(run.chance(0.7) ? run.pick(workspace.devices) : `ghost-device-${run.int(1_000)}`);
      }
      return {
        user_ids: userIds,
        ...(aliases.length > 0 ? { aliases } : {}),
        ...(deviceIds.length > 0 ? { device_ids: deviceIds } : {}),
        ...(run.chance(0.4) ? { should_remove: true } : {}),
      };
    });
    return changes;
  };

  const partnerFeed = async (workspace: SoakWorkspace, partner: string, cohortIds: string[]) => {
    let version = 0;
    while (running()) {
      const cohortId = run.pick(cohortIds);
      const keys = {
        partner_api_key: stack.partnerApiKey,
        client_secret: workspace.dataImportKey,
        cohort_id: cohortId,
      };
      if (run.chance(0.05)) {
        version += 1;
        await sendAsPartner('partner renames', `/partners/${partner}/cohorts`, {
          ...keys,
          name: `${partner} ${cohortId} v${version}`,
          created_at: new Date().toISOString(),
        });
      } else {
        await sendAsPartner('partner cohort deltas', `/partners/${partner}/cohorts/users`, {
          ...keys,
          cohort_changes: cohortDelta(workspace),
        });
      }
      await sleep(150 + run.int(350));
    }
  };

  /** Two clients share a workspace's segments: one may delete a segment the other is reading (404, expected). */
  const deletedMeanwhile = (workspace: SoakWorkspace, segmentId: string, answer: HttpAnswer | undefined) =>
    answer?.status === 404 && !workspace.segments.has(segmentId);

  const randomFilter = (workspace: SoakWorkspace): SegmentFilter => {
    const refs = refsOf(workspace);
    const includes = (includes = true): SegmentFilter => {
      const ref = run.pick(refs);
      return { cohort: { partner: ref.partner, cohort_id: ref.cohortId, includes } };
    };
    switch (run.int(4)) {
      case 0:
        return includes();
      case 1:
        return { all: [includes(), includes(false)] };
      case 2:
        return { any: [includes(), includes()] };
      default:
        return { all: [includes(), { any: [includes(), includes()] }] };
    }
  };

  const restClient = async (workspace: SoakWorkspace) => {
    const token = workspace.restApiKey;
    while (running()) {
      const roll = run.random();
      if (roll < 0.14) {
        // New users, never named by a delta.
        run.requests.add('/users/track (new users)');
        const attributes = Array.from({ length: 1 + run.int(8) }, () => ({
          external_id: `tracked-${workspace.label}-${(workspace.created += 1)}`,
          plan: run.pick(['free', 'pro']),
          visits: run.int(100),
        }));
        expectStatus(
          '/users/track',
          await call('/users/track', '/users/track', { body: { attributes }, token }),
          [201],
        );
      } else if (roll < 0.28) {
        // Attributes, events and purchases of pool users (events go on to Currents).
        run.requests.add('/users/track (attributes, events, purchases)');
        const externalId = poolExternalId(run.int(POOL_USERS));
        const time = new Date().toISOString();
        expectStatus(
          '/users/track',
          await call('/users/track', '/users/track', {
            body: {
              attributes: [{ external_id: externalId, last_seen_soak: time, score: run.int(1_000) }],
              events: [{ external_id: externalId, name: 'soaked', time, properties: { round: run.int(10) } }],
              purchases: run.chance(0.3)
                ? [{ external_id: externalId, product_id: 'sku-1', currency: 'USD', price: 9.99, quantity: 1, time }]
                : undefined,
            },
            token,
          }),
          [201],
        );
      } else if (roll < 0.4) {
        // Anonymous profiles, as an SDK creates them.
        run.requests.add('/users/track (anonymous profiles)');
        const devices = Array.from(
          { length: 1 + run.int(4) },
          () => `anon-${workspace.label}-${(workspace.created += 1)}`,
        );
        if (
          expectStatus(
            '/users/track',
            await call('/users/track', '/users/track', {
              body: { attributes: devices.map((device_id) => ({ device_id, source: 'sdk' })) },
              token,
            }),
            [201],
          )
        ) {
          workspace.anonymous.push(...devices);
        }
      } else if (roll < 0.5 && workspace.anonymous.length > 0) {
        // Identify: into a new external id (in place), or merged into a pool user.
        run.requests.add('/users/identify');
        const devices = workspace.anonymous.splice(0, 1 + run.int(4));
        const devicesToIdentify = devices.map((device_id) => ({
          device_id,
          external_id: run.chance(0.5) ? poolExternalId(run.int(POOL_USERS)) : `identified-${device_id}`,
        }));
        const answer = await call('/users/identify', '/users/identify', {
          body: { devices_to_identify: devicesToIdentify },
          token,
        });
        if (expectStatus('/users/identify', answer, [201])) {
          run.requests.add('identify: merged into a pool user', Number(answer.body.merged ?? 0));
          run.requests.add('identify: identified in place', Number(answer.body.identified ?? 0));
        }
      } else if (roll < 0.62) {
        run.requests.add('segment create');
        if (workspace.segments.size >= 6) {
          const [segmentId] = run.shuffled([...workspace.segments.keys()]);
          workspace.segments.delete(segmentId!);
          run.requests.add('segment delete');
          expectStatus(
            'segment delete',
            await call('segment delete', `/segments/${segmentId}`, { method: 'DELETE', token }),
            [200],
          );
        }
        const filter = randomFilter(workspace);
        const answer = await call('segment create', '/segments', {
          body: { name: `soak ${run.int(1e6)}`, filter },
          token,
        });
        if (expectStatus('segment create', answer, [201]))
          workspace.segments.set((answer.body.segment as { segment_id: string }).segment_id, filter);
      } else if (roll < 0.72 && workspace.segments.size > 0) {
        run.requests.add('segment read');
        const segmentId = run.pick([...workspace.segments.keys()]);
        const answer = await call('segment read', `/segments/${segmentId}`, { token });
        if (!deletedMeanwhile(workspace, segmentId, answer)) expectStatus('segment read', answer, [200]);
        expectStatus('segment list', await call('segment list', '/segments', { token }), [200]);
      } else if (roll < 0.84 && workspace.segments.size > 0) {
        run.requests.add('segment page');
        const segmentId = run.pick([...workspace.segments.keys()]);
        let cursor: string | null = null;
        for (let page = 0; page < 4; page += 1) {
          const query: string = new URLSearchParams({ limit: '25', ...(cursor ? { cursor } : {}) }).toString();
          const answer = await call('segment page', `/segments/${segmentId}/users?${query}`, { token });
          if (deletedMeanwhile(workspace, segmentId, answer)) break;
          if (!expectStatus('segment page', answer, [200])) break;
          cursor = answer.body.next_cursor as string | null;
          if (cursor === null) break;
        }
      } else if (roll < 0.9 && workspace.segments.size > 0) {
        run.requests.add('export');
        const segmentId = run.pick([...workspace.segments.keys()]);
        const answer = await call('export start', `/segments/${segmentId}/exports`, { method: 'POST', token });
        if (deletedMeanwhile(workspace, segmentId, answer)) continue;
        if (!expectStatus('export start', answer, [201, 202])) continue;
        let exportView = answer.body.export as { export_id: string; status: string };
        const pollStarted = Date.now();
        const pollUntil = Math.min(pollStarted + EXPORT_TIMEOUT_MS, run.phaseDeadline);
        while (exportView.status !== 'done' && Date.now() < pollUntil) {
          await sleep(250);
          const status = await call('export poll', `/segments/${segmentId}/exports/${exportView.export_id}`, {
            token,
          });
          if (!expectStatus('export poll', status, [200])) break;
          exportView = status.body.export as typeof exportView;
        }
        if (exportView.status !== 'done')
          run.mismatch(
            `export ${exportView.export_id} of segment ${segmentId} not done in ${Math.round((Date.now() - pollStarted) / 1000)} s (${exportView.status})`,
          );
      } else {
        run.requests.add('cohorts read');
        const ref = run.pick(refsOf(workspace));
        expectStatus('cohorts read', await call('cohorts read', '/cohorts', { token }), [200]);
        expectStatus(
          'cohorts read',
          await call('cohorts read', `/cohorts/${ref.partner}/${ref.cohortId}`, { token }),
          [200],
        );
        expectStatus(
          'cohorts read',
          await call('cohorts read', '/users/export/ids', {
            body: { external_ids: Array.from({ length: 5 }, () => poolExternalId(run.int(POOL_USERS))) },
            token,
          }),
          [201],
        );
      }
      await sleep(run.int(150));
    }
  };

  return { partnerFeed, restClient };
};
