import { json } from '../../../lib/http/api.js';
import { ExportIdsRequest, IdentifyRequest, parseBody, TrackRequest } from '../../../lib/users/requests.js';
import { exportUsers, identifyUsers, trackUsers } from '../../../lib/users/service.js';
import type { ApiRoute } from './route.js';

const withErrors = <T extends object>(body: T, errors: unknown[]): T & { errors?: unknown[] } =>
  errors.length > 0 ? { ...body, errors } : body;

export const usersRoutes: readonly ApiRoute[] = [
  {
    method: 'POST',
    path: '/users/track',
    handle: async (api, workspaceId, request) => {
      const result = await trackUsers(workspaceId, parseBody(TrackRequest, request.body, '/users/track'), api);
      return json(
        201,
        withErrors(
          {
            message: 'success',
            attributes_processed: result.processed,
            ...(result.events !== undefined ? { events_processed: result.events } : {}),
            ...(result.purchases !== undefined ? { purchases_processed: result.purchases } : {}),
          },
          result.errors,
        ),
      );
    },
  },
  {
    method: 'POST',
    path: '/users/identify',
    handle: async (api, workspaceId, request) => {
      const result = await identifyUsers(workspaceId, parseBody(IdentifyRequest, request.body, '/users/identify'), api);
      return json(
        201,
        withErrors({ message: 'success', identified: result.identified, merged: result.merged }, result.errors),
      );
    },
  },
  {
    method: 'POST',
    path: '/users/export/ids',
    handle: async (api, workspaceId, request) => {
      const result = await exportUsers(
        workspaceId,
        parseBody(ExportIdsRequest, request.body, '/users/export/ids'),
        api,
      );
      return json(201, { users: result.users, invalid_user_ids: result.invalidUserIds, message: 'success' });
    },
  },
];
