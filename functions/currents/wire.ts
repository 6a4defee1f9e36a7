/**
 * The Currents delivery function's object graph, built once: its handler on AWS (handler.ts)
 * and on the local stack (local/stack.ts) are both this function over the clients, names,
 * token key and egress policy that differ.
 */
import type { SQSClient } from '@aws-sdk/client-sqs';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { Tables } from '../../lib/config.js';
import { currentsPoster } from '../../lib/currents/delivery.js';
import type { EgressClient } from '../../lib/currents/ports.js';
import { DynamoConnectorStore } from '../../lib/dynamodb/connector-store.js';
import type { TokenCipher } from '../../lib/secrets/token-cipher.js';
import { retryLaterOn } from '../../lib/sqs/retry-later.js';
import { createCurrentsHandler, type CurrentsDeliveryDependencies } from './app.js';

export interface CurrentsWiring extends Pick<CurrentsDeliveryDependencies, 'observability' | 'clock'> {
  documents: DynamoDBDocumentClient;
  sqs: SQSClient;
  tables: Pick<Tables, 'cohorts'>;
  /** The Currents queue, where a record waiting for a retry is made visible again later. */
  queueUrl: string;
  /** Opens connector tokens (its key: Secrets Manager on AWS, a local file on the stack). */
  tokenCipher: TokenCipher;
  /** The client of every call to a customer URL (lib/webhooks/safe-http.ts, with its egress policy). */
  egress: EgressClient;
}

export const wireCurrents = ({
  documents,
  sqs,
  tables,
  queueUrl,
  tokenCipher,
  egress,
  ...options
}: CurrentsWiring) => ({
  handler: createCurrentsHandler({
    connectors: new DynamoConnectorStore(documents, tables.cohorts, tokenCipher),
    poster: currentsPoster(egress),
    retryLater: retryLaterOn(sqs, queueUrl),
    ...options,
  }),
});
