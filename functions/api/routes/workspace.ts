import { NotFoundError } from '../../../lib/errors.js';
import { json } from '../../../lib/http/api.js';
import {
  keyInfoView,
  parseKeyKind,
  partnerStatuses,
  partnerStatusView,
  requireWorkspace,
  rotateDataImportKey,
  setPartnerEnabled,
  type WorkspaceSettingsStore,
  workspaceView,
} from '../../../lib/workspaces/settings.js';

import type { Api, ApiRoute } from './route.js';

/** The workspace settings port, which every deployed api has (tests may build an api without it). */
const requireSettings = (api: Api): WorkspaceSettingsStore => {
  if (!api.workspaces) throw new NotFoundError('Workspace settings are not served by this API');
  return api.workspaces;
};

export const workspaceRoutes: readonly ApiRoute[] = [
  {
    method: 'GET',
    path: '/workspace',
    handle: async (api, workspaceId) => {
      const workspace = await requireWorkspace(requireSettings(api), workspaceId);
      return json(200, { workspace: workspaceView(workspace), message: 'success' });
    },
  },
  {
    method: 'GET',
    path: '/workspace/partners',
    handle: async (api, workspaceId) => {
      const statuses = await partnerStatuses(requireSettings(api), workspaceId);
      return json(200, { partners: statuses.map(partnerStatusView), message: 'success' });
    },
  },
  {
    method: 'PUT',
    path: '/workspace/partners/{partner}',
    handle: async (api, workspaceId, request) => {
      const status = await setPartnerEnabled(
        requireSettings(api),
        workspaceId,
        request.pathParameters.partner ?? '',
        request.body,
      );
      return json(200, { partner: partnerStatusView(status), message: 'success' });
    },
  },
  {
    method: 'GET',
    path: '/workspace/keys/{kind}',
    handle: async (api, workspaceId, request) => {
      const kind = parseKeyKind(request.pathParameters.kind);
      const info = await requireSettings(api).getKeyInfo(workspaceId, kind);
      if (!info) throw new NotFoundError(`No workspace ${workspaceId}`);
      return json(200, { key: keyInfoView(info), message: 'success' });
    },
  },
  {
    method: 'POST',
    path: '/workspace/keys/{kind}',
    handle: async (api, workspaceId, request) => {
      const kind = parseKeyKind(request.pathParameters.kind);
      const key = await rotateDataImportKey(
        requireSettings(api),
        workspaceId,
        kind,
        request.body,
        api.clock(),
        api.credentialCacheTtlMs,
      );
      // The key is in this answer only: never cached, never stored but as its hash.
      return json(201, { key, message: 'success' }, { 'cache-control': 'no-store' });
    },
  },
];
