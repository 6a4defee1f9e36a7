/**
 * Currents connectors: list, read, pause and resume, dead letters and their replay.
 */
import { cutToBytes, LIST_PAGE, LIST_QUERY, parseListRequest } from '../../../lib/paging.js';
import { encodeCursor } from '../../../lib/segments/evaluate.js';
import { NotFoundError } from '../../../lib/errors.js';
import { json, type JsonRequest } from '../../../lib/http/api.js';
import { replayDeadLetters } from '../../../lib/currents/replay.js';
import { connectorView, deadLetterView } from '../../../lib/currents/views.js';

import type { Api, ApiRoute } from './route.js';

const requireConnector = async (api: Api, workspaceId: string, request: JsonRequest) => {
  const connectorId = request.pathParameters.connector_id ?? '';
  const connector = api.currents && (await api.currents.connectors.get(workspaceId, connectorId));
  if (!api.currents || !connector) throw new NotFoundError(`No Currents connector ${connectorId} in this workspace`);
  return { currents: api.currents, connector };
};

/** A paused connector holds its events (the sender checks every 5 minutes, for 48 h at most); resumed, they flow again. */
const setConnectorPaused = async (api: Api, workspaceId: string, request: JsonRequest, paused: boolean) => {
  const { currents, connector } = await requireConnector(api, workspaceId, request);
  if (!(await currents.connectors.setPaused(workspaceId, connector.connectorId, paused)))
    throw new NotFoundError(`No Currents connector ${connector.connectorId} in this workspace`);
  return json(200, { connector: connectorView({ ...connector, paused }), message: 'success' });
};

export const currentsRoutes: readonly ApiRoute[] = [
  {
    method: 'GET',
    path: '/currents/{connector_id}',
    handle: async (api, workspaceId, request) => {
      const connector =
        api.currents && (await api.currents.connectors.get(workspaceId, request.pathParameters.connector_id ?? ''));
      if (!connector)
        throw new NotFoundError(`No Currents connector ${request.pathParameters.connector_id} in this workspace`);
      return json(200, { connector: connectorView(connector), message: 'success' });
    },
  },
  {
    method: 'GET',
    path: '/currents',
    handle: async ({ currents }, workspaceId) => {
      const list = currents ? await currents.connectors.list(workspaceId) : [];
      return json(200, { connectors: list.map(connectorView), message: 'success' });
    },
  },
  {
    method: 'POST',
    path: '/currents/{connector_id}/pause',
    handle: (api, workspaceId, request) => setConnectorPaused(api, workspaceId, request, true),
  },
  {
    method: 'POST',
    path: '/currents/{connector_id}/resume',
    handle: (api, workspaceId, request) => setConnectorPaused(api, workspaceId, request, false),
  },
  {
    method: 'GET',
    path: '/currents/{connector_id}/dead-letters',
    query: LIST_QUERY,
    handle: async (api, workspaceId, request) => {
      const { currents, connector } = await requireConnector(api, workspaceId, request);
      const query = request.queryStringParameters;
      const page = parseListRequest(query, LIST_PAGE, `dead-letters/${connector.connectorId}`);
      const found = await currents.connectors.deadLetterPage(workspaceId, connector.connectorId, page);
      const cut = cutToBytes(found.letters, found.next, (letter) => letter.key, {
        bytesOf: (letter) => Buffer.byteLength(JSON.stringify(deadLetterView(letter))),
      });
      return json(200, {
        dead_letters: cut.items.map(deadLetterView),
        next_cursor: cut.next === undefined ? null : encodeCursor(cut.next, page.scope),
        message: 'success',
      });
    },
  },
  {
    method: 'POST',
    path: '/currents/{connector_id}/replay',
    handle: async (api, workspaceId, request) => {
      const { currents, connector } = await requireConnector(api, workspaceId, request);
      const replayed = await replayDeadLetters(currents.connectors, currents.queue, workspaceId, connector.connectorId);
      return json(200, {
        connector_id: connector.connectorId,
        requeued: replayed.requeued,
        remaining: replayed.remaining,
        message: 'success',
      });
    },
  },
];
