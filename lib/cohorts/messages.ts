/**
 * What ingest puts on the cohort queue and the sync function reads back. Keys never
 * travel: the message names the workspace that the keys resolved to.
 */
import * as z from 'zod';
import { CohortChange } from '../contract/partner.js';

/**
 * The order stamp, given at ingest: acceptance time + request id. With a change's index
 * in its request it totally orders every change to a cohort, which is what lets the
 * sync apply out-of-order, duplicated deliveries as if they came in acceptance order.
 */
export const OrderStamp = z.object({
  acceptedAt: z.iso.datetime(),
  requestId: z.string().regex(/^[A-Za-z0-9_-]{1,128}$/),
});
export type OrderStamp = z.infer<typeof OrderStamp>;

const CohortRefFields = {
  v: z.literal(1),
  workspaceId: z.string().min(1),
  partner: z.string().min(1),
  cohortId: z.string().min(1),
  stamp: OrderStamp,
  /** How many times the sync put this request back on the queue because of load (functions/sync/app.ts). */
  requeues: z.number().int().min(0).optional(),
};

export const CohortNamedMessage = z.object({
  ...CohortRefFields,
  type: z.literal('cohort.named'),
  name: z.string().min(1),
  createdAt: z.string(),
});
export type CohortNamedMessage = z.infer<typeof CohortNamedMessage>;

export const CohortChangedMessage = z.object({
  ...CohortRefFields,
  type: z.literal('cohort.changed'),
  changes: z.array(CohortChange),
});
export type CohortChangedMessage = z.infer<typeof CohortChangedMessage>;

export const CohortMessage = z.discriminatedUnion('type', [CohortNamedMessage, CohortChangedMessage]);
export type CohortMessage = z.infer<typeof CohortMessage>;

export interface CohortRef {
  workspaceId: string;
  partner: string;
  cohortId: string;
}

/** Width of the change index in a stamp: a 1 MiB body cannot hold a million changes. */
const INDEX_WIDTH = 6;

/**
 * A change's position in the total order, as a string that sorts lexicographically:
 * `<ISO time>#<request id>#<index>`. ISO-8601 UTC with milliseconds is fixed-width.
 */
export const changeOrderKey = (stamp: OrderStamp, index: number): string =>
  `${stamp.acceptedAt}#${stamp.requestId}#${String(index).padStart(INDEX_WIDTH, '0')}`;

/** Request ids come from API Gateway or the local server; keep only what is safe in a sort key. */
export const toRequestId = (raw: string): string => raw.replace(/[^A-Za-z0-9_-]/g, '').slice(0, 128) || 'unknown';
