import type { TestProject } from 'vitest/node';
import { startDynamoDbEmulator, startSqsEmulator, type Emulator } from '../../local/emulators.js';

declare module 'vitest' {
  export interface ProvidedContext {
    sqsEndpoint: string;
    dynamoDbEndpoint: string;
  }
}

let emulators: Emulator[] = [];

export default async function setup(project: TestProject) {
  const [sqs, dynamodb] = await Promise.all([startSqsEmulator(), startDynamoDbEmulator()]);
  emulators = [sqs, dynamodb];
  project.provide('sqsEndpoint', sqs.endpoint);
  project.provide('dynamoDbEndpoint', dynamodb.endpoint);
  return async () => {
    await Promise.all(emulators.map((emulator) => emulator.stop()));
  };
}
