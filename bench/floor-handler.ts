// The cold-start floor: a handler that imports only the AWS client the ingest needs.
import { SQSClient } from '@aws-sdk/client-sqs';

const client = new SQSClient({});
export const handler = async () => client.config.region;
