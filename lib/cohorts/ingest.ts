/**
 * Ingest: an authenticated, validated partner request becomes one queue message. The
 * 201 goes out only after the queue has durably accepted the whole request.
 */
import type { CohortChangesRequest, NameCohortRequest } from '../contract/partner.js';
import type { CohortMessage, OrderStamp } from './messages.js';

/** The port to the cohort queue. `send` resolves only once the message is durably stored. */
export interface CohortQueue {
  send(message: CohortMessage, options?: { delaySeconds?: number }): Promise<void>;
}

export interface Acceptance {
  workspaceId: string;
  partner: string;
  stamp: OrderStamp;
}

export const enqueueCohortName = (
  request: NameCohortRequest,
  acceptance: Acceptance,
  queue: CohortQueue,
): Promise<void> =>
  queue.send({
    v: 1,
    type: 'cohort.named',
    workspaceId: acceptance.workspaceId,
    partner: acceptance.partner,
    cohortId: request.cohort_id,
    name: request.name,
    createdAt: request.created_at,
    stamp: acceptance.stamp,
  });

export const enqueueCohortChanges = (
  request: CohortChangesRequest,
  acceptance: Acceptance,
  queue: CohortQueue,
): Promise<void> =>
  queue.send({
    v: 1,
    type: 'cohort.changed',
    workspaceId: acceptance.workspaceId,
    partner: acceptance.partner,
    cohortId: request.cohort_id,
    changes: request.cohort_changes,
    stamp: acceptance.stamp,
  });
