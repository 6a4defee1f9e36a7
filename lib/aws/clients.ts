/**
 * One factory per AWS client. Handlers call these once at module scope so that warm
 * invocations reuse connections. Endpoints come from the SDK's standard variables
 * (AWS_ENDPOINT_URL_DYNAMODB, AWS_ENDPOINT_URL_SQS), so the same code runs against
 * AWS and against the local emulators.
 */
import { DynamoDBClient, type DynamoDBClientConfig } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { SQSClient, type SQSClientConfig } from '@aws-sdk/client-sqs';

export const createDocumentClient = (config: DynamoDBClientConfig = {}): DynamoDBDocumentClient =>
  DynamoDBDocumentClient.from(new DynamoDBClient(config), {
    marshallOptions: { removeUndefinedValues: true },
  });

export const createSqsClient = (config: SQSClientConfig = {}): SQSClient => new SQSClient(config);
