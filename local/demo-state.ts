/**
 * What a persistent local stack needs to find its demo again after a restart: the demo
 * workspace and Currents connector it created, their keys (stored hashed in DynamoDB, so
 * the only copy a developer has is here), and the Heap stand-in's port (the connector's
 * URL). Kept beside the emulators' data, readable by the owner only; never committed
 * (.local/ is ignored).
 */
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

export interface DemoState {
  workspaceId: string;
  partnerApiKey: string;
  dataImportKey: string;
  restApiKey: string;
  connectorId: string;
  receiverPort: number;
}

const file = (dataDir: string) => join(dataDir, 'demo.json');

export const loadDemoState = async (dataDir: string): Promise<DemoState | undefined> => {
  try {
    return JSON.parse(await readFile(file(dataDir), 'utf8')) as DemoState;
  } catch {
    return undefined;
  }
};

export const saveDemoState = async (dataDir: string, state: DemoState): Promise<void> => {
  await mkdir(dataDir, { recursive: true });
  await writeFile(file(dataDir), JSON.stringify(state, null, 2), { mode: 0o600 });
  await chmod(file(dataDir), 0o600);
};
