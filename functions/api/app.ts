/**
 * Workspace REST API (Authorization: Bearer <REST API key>):
 *   POST /users/track, POST /users/identify, POST /users/export/ids
 *   GET /cohorts, GET /cohorts/partners, GET /cohorts/{partner}/{cohort_id}, GET /cohorts/{partner}?cohort_id=
 *   segments, their audiences and exports; Currents connectors; the workspace's own
 *   partners and data import key (the console's pages)
 * and, without a key, the console itself: GET / and GET /assets/{file}.
 */
import { NotFoundError } from '../../lib/errors.js';
import { httpApi, rejectMalformedStrings, routeKeyOf, type JsonHandler } from '../../lib/http/api.js';
import { isAssetName, type StaticSite, staticResponse } from '../../lib/http/static-site.js';
import { requireSegment } from '../../lib/segments/service.js';
import { authenticateRestKey } from '../../lib/workspaces/auth.js';
import { campaignRoutes } from './routes/campaigns.js';
import { cohortsRoutes } from './routes/cohorts.js';
import { currentsRoutes } from './routes/currents.js';
import { exportsRoutes } from './routes/exports.js';
import type { Api, ApiDependencies, ApiRoute, ApiRouteHandler } from './routes/route.js';
import { segmentsRoutes } from './routes/segments.js';
import { usersRoutes } from './routes/users.js';
import { workspaceRoutes } from './routes/workspace.js';

export type { ApiDependencies } from './routes/route.js';

/** The console's page and the files it loads: served to anyone (they hold no data; every call the page makes carries the key). */
const CONSOLE_ROUTES = [
  { method: 'GET', path: '/' },
  { method: 'GET', path: '/assets/{file}' },
] as const;

const consoleHandler =
  (site: StaticSite | undefined): JsonHandler =>
  async (request) => {
    const file = request.pathParameters.file;
    const name = file === undefined ? 'index.html' : `assets/${file}`;
    const found = site && (file === undefined || isAssetName(file)) ? await site.get(name) : undefined;
    if (!found)
      throw new NotFoundError(
        file === undefined ? 'The console is not built here: run npm run build' : `No console file ${file}`,
      );
    // Vite names every asset by its content's hash: a new build is a new name, so an asset never changes.
    return staticResponse(found, { acceptEncoding: request.headers['accept-encoding'], immutable: file !== undefined });
  };

const apiRoutes: readonly ApiRoute[] = [
  ...usersRoutes,
  ...cohortsRoutes,
  ...segmentsRoutes,
  ...exportsRoutes,
  ...currentsRoutes,
  ...workspaceRoutes,
  ...campaignRoutes,
];

/** The routes as API Gateway names them (serverless.yml declares the same; the infra test compares). */
export const API_ROUTES: readonly string[] = [...apiRoutes, ...CONSOLE_ROUTES].map(routeKeyOf);

export const createApiHandler = (dependencies: ApiDependencies) => {
  const { credentials, segments, segmentSources, exports, observability } = dependencies;
  const api: Api = {
    ...dependencies,
    clock: dependencies.clock ?? (() => new Date()),
    sizePorts: { ...segmentSources, segments, queue: exports.queue },
    policy: dependencies.segmentSizePolicy,
    segmentOf: (workspaceId, request) => requireSegment(workspaceId, request.pathParameters.segment_id ?? '', segments),
  };
  /** Every route answers a workspace: its REST API key first, then the body's strings. */
  const authenticated =
    (handle: ApiRouteHandler): JsonHandler =>
    async (request, context) => {
      const { workspaceId } = await authenticateRestKey(credentials, request.headers.authorization);
      observability.logger.appendKeys({ workspaceId });
      // Every string of a body (ids, names, attribute names and values, filters) is stored or sent on: none UTF-8 cannot carry.
      rejectMalformedStrings(request.body);
      return handle(api, workspaceId, request, context);
    };
  return httpApi(observability, [
    // A route takes only the query parameters it names (none, unless it says): any other is a 400.
    ...apiRoutes.map(({ method, path, handle, query }) => ({
      method,
      path,
      handle: authenticated(handle),
      query: query ?? [],
    })),
    ...CONSOLE_ROUTES.map(({ method, path }) => ({ method, path, handle: consoleHandler(dependencies.console) })),
  ]);
};
