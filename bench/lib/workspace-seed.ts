/**
 * A workspace at a real customer's size, seeded the fastest way each part allows: users and
 * cohorts' list items straight into DynamoDB Local (BatchWriteItem, as a finished sync leaves
 * them: each list item with its count's copy, `memberCount`/`countReadAt`, and the count in one
 * lane), segments and campaigns over the API (their ids, checks and indexes are the API's).
 * Used by the console bench (bench/console.ts) and by the console tour at size
 * (test/integration/console-e2e.test.ts with CONSOLE_E2E_SCALE, bench/console-tour.ts).
 */
import { randomBytes } from 'node:crypto';
import { cohortKey, cohortListKey, laneSortKey } from '../../lib/dynamodb/membership-store.js';
import type { LocalStack } from '../../local/stack.js';
import { bulkWrite, log, now, pool } from './harness.js';
import { seededProfiles } from './seeding.js';

export interface WorkspaceSize {
  users: number;
  cohorts: number;
  segments: number;
  campaigns: number;
}

/** The issue's size (issue 18's goals): 10,000 cohorts, 1,000 segments, 200 campaigns, 1,000,000 users. */
export const GOAL_SIZE: WorkspaceSize = { users: 1_000_000, cohorts: 10_000, segments: 1_000, campaigns: 200 };

export const seededCohortId = (index: number) => `c${String(index).padStart(5, '0')}`;
/** One cohort in 1,000 has a rare word in its name, for the searches. */
export const seededCohortName = (index: number) =>
  index % 1_000 === 777 ? `Rare heron watchers ${index}` : `Weekly cohort ${index}`;

/** Seconds each part of the seeding took. */
export interface SeedTimings {
  usersSeconds: number;
  cohortsSeconds: number;
  segmentsSeconds: number;
  campaignsSeconds: number;
}

/**
 * Seeds the stack's demo workspace. `externalIdPrefix`: the seeded users' external ids are
 * `<prefix><i>` (a test picks one its own users cannot meet); `writers`: BatchWriteItem calls
 * in flight.
 */
export const seedWorkspace = async (
  stack: LocalStack,
  size: WorkspaceSize,
  options: { writers?: number; externalIdPrefix?: string } = {},
): Promise<{ segmentIds: string[]; timings: SeedTimings }> => {
  const writers = options.writers ?? 16;
  const workspaceId = stack.workspace.workspaceId;
  const auth = { authorization: `Bearer ${stack.workspace.restApiKey}`, 'content-type': 'application/json' };
  const post = async (path: string, body: unknown) => {
    const response = await fetch(`${stack.url}${path}`, { method: 'POST', headers: auth, body: JSON.stringify(body) });
    const answer = (await response.json()) as Record<string, unknown>;
    if (!response.ok) throw new Error(`${path}: ${response.status} ${JSON.stringify(answer)}`);
    return answer;
  };

  const at = new Date().toISOString();
  log(`seeding ${size.users.toLocaleString('en-US')} users and ${size.cohorts.toLocaleString('en-US')} cohorts`);
  const brazeIds =
    size.users === 0
      ? []
      : randomBytes(12 * size.users)
          .toString('hex')
          .match(/.{24}/g)!;
  const users = await bulkWrite(
    stack.clients.documents,
    stack.tables.users,
    seededProfiles(workspaceId, brazeIds, options.externalIdPrefix ?? 'user-', at),
    writers,
    'users',
  );
  function* cohortItems() {
    for (let index = 0; index < size.cohorts; index += 1) {
      const ref = { workspaceId, partner: 'heap', cohortId: seededCohortId(index) };
      const members = (index * 7_919) % Math.max(1, size.users);
      yield {
        pk: cohortListKey(workspaceId),
        sk: `heap#${ref.cohortId}`,
        partner: 'heap',
        cohortId: ref.cohortId,
        name: seededCohortName(index),
        firstSeenAt: at,
        lastSyncedAt: at,
        // The count's copy for lists, as a sync leaves it (docs/architecture.md, "Counts in lists").
        memberCount: members,
        countReadAt: at,
      };
      // The count as a sync leaves it (one lane); the registers are not needed by any list.
      yield { pk: cohortKey(ref), sk: laneSortKey(0), members };
    }
  }
  const cohorts = await bulkWrite(stack.clients.documents, stack.tables.cohorts, cohortItems(), writers, 'cohorts');
  log(`creating ${size.segments} segments and ${size.campaigns} campaigns over the API`);
  const segmentIds: string[] = new Array(size.segments);
  let started = now();
  await pool(size.segments, 8, async (index) => {
    const answer = await post('/segments', {
      name: index % 100 === 42 ? `Rare heron segment ${index}` : `Segment ${index}`,
      filter: { cohort: { partner: 'heap', cohort_id: seededCohortId(index % size.cohorts), includes: true } },
    });
    segmentIds[index] = (answer.segment as { segment_id: string }).segment_id;
  });
  const segmentsSeconds = (now() - started) / 1000;
  started = now();
  await pool(size.campaigns, 8, async (index) => {
    await post('/campaigns', {
      name: index % 50 === 7 ? `Rare heron campaign ${index}` : `Campaign ${index}`,
      segment_ids: [segmentIds[index % size.segments]],
      message: { url: `${stack.campaigns.receiver.url}/bench`, body: '{"hello": "{{ external_id }}"}' },
      delivery: { type: 'action_based' },
    });
  });
  return {
    segmentIds,
    timings: {
      usersSeconds: users.seconds,
      cohortsSeconds: cohorts.seconds,
      segmentsSeconds,
      campaignsSeconds: (now() - started) / 1000,
    },
  };
};
