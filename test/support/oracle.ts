/**
 * The serial oracle: what the store must hold after applying the accepted requests
 * once each, in acceptance (order-stamp) order, each request's changes in array order.
 */
import { CohortMessage, changeOrderKey } from '../../lib/cohorts/messages.js';

export const serialOracle = (
  bodies: readonly string[],
  brazeIdOf: (externalId: string) => string | undefined,
): Map<string, boolean> => {
  const messages = bodies
    .map((body) => CohortMessage.parse(JSON.parse(body)))
    .sort((a, b) => (changeOrderKey(a.stamp, 0) < changeOrderKey(b.stamp, 0) ? -1 : 1));
  const state = new Map<string, boolean>();
  for (const message of messages) {
    if (message.type !== 'cohort.changed') continue;
    for (const change of message.changes) {
      for (const externalId of change.user_ids ?? []) {
        const brazeId = brazeIdOf(externalId);
        if (brazeId) state.set(brazeId, change.should_remove !== true);
      }
    }
  }
  return state;
};
