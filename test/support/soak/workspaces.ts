/**
 * The soak's workspaces as its clients know them: their keys, partner feeds, pool users
 * (by external id and alias), segments and anonymous devices; and the ids that name users
 * and cohorts across the soak's modules. Part of the chaos soak (test/support/soak.ts).
 */
import type { CohortRef } from '../../../lib/cohorts/messages.js';

export interface Alias {
  alias_name: string;
  alias_label: string;
}

export interface SoakWorkspace {
  label: string;
  workspaceId: string;
  dataImportKey: string;
  restApiKey: string;
  /** Partner → the cohort ids its feed sends. */
  feeds: Map<string, string[]>;
  /** Pool users' braze ids, by external id and by alias (`label\0name`). */
  byExternalId: Map<string, string>;
  byAlias: Map<string, string>;
  aliases: Alias[];
  devices: string[];
  /** Live segments and their filters. */
  segments: Map<string, SegmentFilter>;
  /** Anonymous devices tracked and not yet identified. */
  anonymous: string[];
  created: number;
}

export type SegmentFilter =
  | { cohort: { partner: string; cohort_id: string; includes: boolean } }
  | { all: SegmentFilter[] }
  | { any: SegmentFilter[] };

export const poolExternalId = (index: number) => `user-${index}`;
export const aliasKey = (alias: Alias) => `${alias.alias_label}\u0000${alias.alias_name}`;
export const cohortKey = (ref: CohortRef) => JSON.stringify([ref.workspaceId, ref.partner, ref.cohortId]);

/** The cohorts a workspace's partners feed. */
export const refsOf = (workspace: SoakWorkspace): CohortRef[] =>
  [...workspace.feeds].flatMap(([partner, cohortIds]) =>
    cohortIds.map((cohortId) => ({ workspaceId: workspace.workspaceId, partner, cohortId })),
  );
