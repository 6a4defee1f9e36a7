import { createDocumentClient, createSqsClient } from '../../lib/aws/clients.js';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { createSecretsProvider, secretsManagerSecret } from '../../lib/aws/secrets.js';
import { readConnectorTokenSecretId, readCurrentsQueueUrl, readTables } from '../../lib/config.js';
import { DynamoConnectorStore } from '../../lib/dynamodb/connector-store.js';
import { createObservability, traceClient } from '../../lib/observability.js';
import { createTokenCipher } from '../../lib/secrets/token-cipher.js';
import { allowListOf } from '../../lib/campaigns/config.js';
import { currentsPoster } from '../../lib/currents/delivery.js';
import { retryLaterOn } from '../../lib/sqs/retry-later.js';
import { SafeHttpClient } from '../../lib/webhooks/safe-http.js';
import { createCurrentsHandler } from './app.js';

const tables = readTables();
const queueUrl = readCurrentsQueueUrl();
const observability = await createObservability('currents');
const documents = traceClient(observability, createDocumentClient());
const sqs = traceClient(observability, createSqsClient());
// The key of connector tokens: fetched at the first delivery, kept for the instance's life.
const secrets = createSecretsProvider(traceClient(observability, new SecretsManagerClient({})));
const tokenCipher = createTokenCipher(secretsManagerSecret(secrets, readConnectorTokenSecretId()));

// The egress client of every call to a customer URL: https, public destinations or the allow-list, no redirects.
const egress = new SafeHttpClient({ allowList: allowListOf(process.env) });

export const handler = createCurrentsHandler({
  connectors: new DynamoConnectorStore(documents, tables.cohorts, tokenCipher),
  poster: currentsPoster(egress),
  retryLater: retryLaterOn(sqs, queueUrl),
  observability,
});
