import { queryAll } from '../../lib/dynamodb/batch.js';
import { registerKey } from '../../lib/dynamodb/membership-store.js';
import { RegisterLayouts } from '../../lib/dynamodb/register-layout.js';
import type { LocalStack } from '../../local/stack.js';
import type { CohortRef } from '../../lib/cohorts/messages.js';
import type { Cancellable, MembershipStore } from '../../lib/cohorts/ports.js';

/** A membership store that runs `before` ahead of every apply (to fail it, or slow it down), and passes everything else through. */
export const beforeApply = (
  store: MembershipStore,
  before: (cohort: CohortRef, options?: Cancellable) => Promise<void>,
): MembershipStore => ({
  applyMemberships: async (cohort, desired, now, options) => {
    await before(cohort, options);
    return store.applyMemberships(cohort, desired, now, options);
  },
  nameCohort: (...args) => store.nameCohort(...args),
  recordSyncReport: (...args) => store.recordSyncReport(...args),
  hasSyncReport: (...args) => store.hasSyncReport(...args),
  getCohort: (...args) => store.getCohort(...args),
});

/** Every membership register of a cohort (each of its 64, or 32, shards): brazeId → member. */
export const readRegisters = async (stack: LocalStack, ref: CohortRef): Promise<Map<string, boolean>> => {
  const count = await new RegisterLayouts(stack.clients.documents, stack.tables.cohorts).shardsOf(ref);
  const shards = await Promise.all(
    Array.from({ length: count }, (_, shard) =>
      queryAll(stack.clients.documents, {
        TableName: stack.tables.cohorts,
        KeyConditionExpression: 'pk = :pk',
        ExpressionAttributeValues: { ':pk': registerKey(ref, shard) },
        ConsistentRead: true,
      }),
    ),
  );
  return new Map(shards.flat().map((item) => [item.brazeId as string, item.member as boolean]));
};

/** Every membership register of a cohort of the stack's workspace: brazeId → member. */
export const readMemberships = (stack: LocalStack, cohortId: string, partner = 'heap'): Promise<Map<string, boolean>> =>
  readRegisters(stack, { workspaceId: stack.workspace.workspaceId, partner, cohortId });
