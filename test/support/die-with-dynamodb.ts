/**
 * Starts DynamoDB Local, prints its process id, then dies of an uncaught error (as the
 * local stack did on a malformed request): test/integration/emulator-exit.test.ts checks
 * that the Java process does not outlive this one.
 */
import { startDynamoDbEmulator } from '../../local/emulators.js';

const emulator = await startDynamoDbEmulator();
process.stdout.write(`${JSON.stringify({ pid: emulator.pid, endpoint: emulator.endpoint })}\n`);
setTimeout(() => {
  throw new Error('an error nothing caught');
}, 10);
