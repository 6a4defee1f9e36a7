import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { createDocumentClient, createSqsClient } from '../../lib/aws/clients.js';
import { createSecretsProvider, secretsManagerSecret } from '../../lib/aws/secrets.js';
import { allowListOf } from '../../lib/campaigns/config.js';
import { readConnectorTokenSecretId, readCurrentsQueueUrl, readTables } from '../../lib/config.js';
import { createObservability, traceClient } from '../../lib/observability.js';
import { createTokenCipher } from '../../lib/secrets/token-cipher.js';
import { SafeHttpClient } from '../../lib/webhooks/safe-http.js';
import { wireCurrents } from './wire.js';

const tables = readTables();
const queueUrl = readCurrentsQueueUrl();
const observability = await createObservability('currents');
// The key of connector tokens: fetched at the first delivery, kept for the instance's life.
const secrets = createSecretsProvider(traceClient(observability, new SecretsManagerClient({})));

export const { handler } = wireCurrents({
  documents: traceClient(observability, createDocumentClient()),
  sqs: traceClient(observability, createSqsClient()),
  tables,
  queueUrl,
  tokenCipher: createTokenCipher(secretsManagerSecret(secrets, readConnectorTokenSecretId())),
  // The egress client of every call to a customer URL: https, public destinations or the allow-list, no redirects.
  egress: new SafeHttpClient({ allowList: allowListOf(process.env) }),
  observability,
});
