/**
 * The events function's object graph, built once: its handler on AWS (handler.ts) and on the
 * local stack (local/stack.ts) are both this function over the clients and names that differ.
 */
import type { SNSClient } from '@aws-sdk/client-sns';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { MembershipEventPublisher } from '../../lib/cohorts/events.js';
import type { Tables } from '../../lib/config.js';
import { DynamoMembershipStore } from '../../lib/dynamodb/membership-store.js';
import { DynamoUserStore } from '../../lib/dynamodb/user-store.js';
import { SnsMembershipEventPublisher } from '../../lib/sns/membership-events.js';
import { createEventsHandler, type EventsDependencies } from './app.js';

export interface EventsWiring extends Pick<EventsDependencies, 'observability'> {
  documents: DynamoDBDocumentClient;
  sns: SNSClient;
  tables: Pick<Tables, 'users' | 'cohorts'>;
  /** The membership events topic. */
  topicArn: string;
  /** Test seam: wraps the publisher (the local stack's fault injection). */
  wrapPublisher?: (publisher: MembershipEventPublisher) => MembershipEventPublisher;
}

export const wireEvents = ({
  documents,
  sns,
  tables,
  topicArn,
  wrapPublisher = (publisher) => publisher,
  observability,
}: EventsWiring) => {
  const memberships = new DynamoMembershipStore(documents, tables.cohorts);
  return {
    handler: createEventsHandler({
      sources: { profiles: new DynamoUserStore(documents, tables.users), cohorts: memberships, orphans: memberships },
      publisher: wrapPublisher(new SnsMembershipEventPublisher(sns, topicArn)),
      observability,
    }),
  };
};
