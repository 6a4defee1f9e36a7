/**
 * The serial oracle: what the store must hold after applying the accepted requests
 * once each, in acceptance (order-stamp) order, each request's changes in array order.
 */
import { CohortMessage, changeOrderKey } from '../../lib/cohorts/messages.js';

export interface SerialReplay {
  /** brazeId → member (false: a tombstone, the user was removed or only ever removed). */
  state: Map<string, boolean>;
  /** brazeId → the flips serial application makes, in stamp order: `a` added, `r` removed (e.g. `ara`). */
  flips: Map<string, string>;
  /** Flips by type over all users. */
  added: number;
  removed: number;
  /** Distinct accepted requests applied (a body seen twice, e.g. an SQS redelivery, counts once). */
  requests: number;
}

/**
 * The serial oracle with the flips it implies: each accepted request once (bodies with the
 * same order stamp are one request delivered twice), in stamp order; within a request a
 * user's last change wins, as the store applies a request's net change to each register.
 */
export const serialReplay = (
  bodies: readonly string[],
  brazeIdOf: (externalId: string) => string | undefined,
): SerialReplay => {
  const byStamp = new Map<string, CohortMessage>();
  for (const body of bodies) {
    const message = CohortMessage.parse(JSON.parse(body));
    byStamp.set(changeOrderKey(message.stamp, 0), message);
  }
  const messages = [...byStamp].sort(([a], [b]) => (a < b ? -1 : 1)).map(([, message]) => message);
  const replay: SerialReplay = { state: new Map(), flips: new Map(), added: 0, removed: 0, requests: messages.length };
  for (const message of messages) {
    if (message.type !== 'cohort.changed') continue;
    const net = new Map<string, boolean>();
    for (const change of message.changes) {
      for (const externalId of change.user_ids ?? []) {
        const brazeId = brazeIdOf(externalId);
        if (brazeId) net.set(brazeId, change.should_remove !== true);
      }
    }
    for (const [brazeId, member] of net) {
      if ((replay.state.get(brazeId) ?? false) !== member) {
        replay.flips.set(brazeId, `${replay.flips.get(brazeId) ?? ''}${member ? 'a' : 'r'}`);
        if (member) replay.added += 1;
        else replay.removed += 1;
      }
      replay.state.set(brazeId, member);
    }
  }
  return replay;
};

export const serialOracle = (
  bodies: readonly string[],
  brazeIdOf: (externalId: string) => string | undefined,
): Map<string, boolean> => serialReplay(bodies, brazeIdOf).state;
