/**
 * What every REST route of the API reads (the dependencies the wiring gives, and what the
 * handler derives from them once), and the shape of a route: its method, path and handler
 * for a workspace whose REST API key the request carried. One module per area
 * (functions/api/routes/*.ts) holds its routes and their views.
 */
import type { Context } from 'aws-lambda';
import type { CampaignService } from '../../../lib/campaigns/service.js';
import type { CurrentsQueue } from '../../../lib/currents/ports.js';
import type { DynamoConnectorStore } from '../../../lib/dynamodb/connector-store.js';
import type { DynamoMembershipStore } from '../../../lib/dynamodb/membership-store.js';
import type { StaticSite } from '../../../lib/http/static-site.js';
import type { JsonRequest, JsonResponse, JsonRoute } from '../../../lib/http/api.js';
import type { Observability } from '../../../lib/observability.js';
import type { BlobStore, ExportQueue, ExportStore, Segment, SegmentStore } from '../../../lib/segments/ports.js';
import type { SegmentPorts } from '../../../lib/segments/service.js';
import type { SizePolicy, SizePorts } from '../../../lib/segments/size.js';
import type { UserPorts } from '../../../lib/users/service.js';
import type { WorkspaceSettingsStore } from '../../../lib/workspaces/settings.js';
import type { CredentialStore } from '../../../lib/workspaces/types.js';

export interface ApiDependencies extends Omit<UserPorts, 'currents'> {
  currents?: {
    connectors: Pick<
      DynamoConnectorStore,
      | 'list'
      | 'get'
      | 'setPaused'
      | 'deadLetterPage'
      | 'claimDeadLetter'
      | 'releaseDeadLetter'
      | 'hasUnclaimedDeadLetters'
      | 'deleteDeadLetter'
    >;
    queue: CurrentsQueue;
  };
  /** The workspace's own settings (its partners, its data import key), as the console changes them. */
  workspaces?: WorkspaceSettingsStore;
  /** The console's files (dist/console), served at / and /assets/{file} (absent: those routes answer 404). */
  console?: StaticSite;
  credentials: CredentialStore;
  cohorts: Pick<
    DynamoMembershipStore,
    'listCohorts' | 'getCohort' | 'recentSyncReports' | 'listedCohorts' | 'partnersWithCohorts'
  >;
  segments: SegmentStore;
  /** Segment evaluation reads memberships and users through these. */
  segmentSources: Omit<SegmentPorts, 'segments'>;
  /** When a computed segment size is stale and how often it is recomputed (default: lib/segments/size.ts). */
  segmentSizePolicy?: SizePolicy;
  exports: { store: ExportStore; blobs: BlobStore; queue: ExportQueue };
  /** How long ingest instances reuse a key lookup (default: lib/workspaces/credential-cache.ts): the least grace a rotation gives. */
  credentialCacheTtlMs?: number;
  /** Campaigns and Canvases (functions/api/routes/campaigns.ts); without it their routes answer 404. */
  campaigns?: CampaignService;
  observability: Observability;
}

/** What the routes read: the dependencies, and what the handler derives from them once. */
export interface Api extends ApiDependencies {
  clock: () => Date;
  sizePorts: SizePorts;
  policy: SizePolicy | undefined;
  /** The segment the path names, or a 404. */
  segmentOf(workspaceId: string, request: JsonRequest): Promise<Segment>;
}

/** A route's answer for a workspace whose REST API key the request carried. */
export type ApiRouteHandler = (
  api: Api,
  workspaceId: string,
  request: JsonRequest,
  context: Context,
) => Promise<JsonResponse>;

export type ApiRoute = Omit<JsonRoute, 'handle'> & { handle: ApiRouteHandler };
