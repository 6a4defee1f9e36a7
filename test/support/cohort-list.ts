/**
 * Cohorts written straight into the cohorts table as a sync leaves their list items (name,
 * partner, id; no members, no count lanes: a count of 0), for tests whose subject is a
 * workspace of thousands of cohorts (thousands through the partner API would take minutes).
 */
import { BatchWriteCommand } from '@aws-sdk/lib-dynamodb';
import { cohortListKey } from '../../lib/dynamodb/membership-store.js';
import type { LocalStack } from '../../local/stack.js';

export const putCohortListItems = async (
  stack: LocalStack,
  cohorts: readonly { partner: string; cohortId: string; name: string }[],
): Promise<void> => {
  const items = cohorts.map(({ partner, cohortId, name }) => ({
    pk: cohortListKey(stack.workspace.workspaceId),
    sk: `${partner}#${cohortId}`,
    partner,
    cohortId,
    name,
    firstSeenAt: '2026-12-07T00:00:00.000Z',
  }));
  // BatchWriteItem's 25 items a call, 8 calls in flight; DynamoDB Local takes them all.
  for (let start = 0; start < items.length; start += 25 * 8)
    await Promise.all(
      Array.from({ length: 8 }, (_, slice) => items.slice(start + slice * 25, start + (slice + 1) * 25))
        .filter((batch) => batch.length > 0)
        .map((batch) =>
          stack.clients.documents.send(
            new BatchWriteCommand({
              RequestItems: { [stack.tables.cohorts]: batch.map((Item) => ({ PutRequest: { Item } })) },
            }),
          ),
        ),
    );
};
