import { queryAll } from '../../lib/dynamodb/batch.js';
import type { LocalStack } from '../../lib/local/stack.js';

/** Every membership register of a cohort of the stack's workspace: brazeId → member. */
export const readMemberships = async (stack: LocalStack, cohortId: string, partner = 'heap'): Promise<Map<string, boolean>> => {
  const items = await queryAll(stack.clients.documents, {
    TableName: stack.tables.cohorts,
    KeyConditionExpression: 'pk = :pk AND begins_with(sk, :m)',
    ExpressionAttributeValues: { ':pk': `${stack.workspace.workspaceId}#C#${partner}#${cohortId}`, ':m': 'M#' },
    ConsistentRead: true,
  });
  return new Map(items.map((item) => [item.brazeId as string, item.member as boolean]));
};
