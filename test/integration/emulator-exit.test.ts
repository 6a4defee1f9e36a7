/**
 * DynamoDB Local runs as a separate Java process: when the process that started it dies
 * unexpectedly (an uncaught error), it must not stay behind as an orphan holding its port.
 */
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { eventually } from '../support/stack.js';

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

describe('local emulators', () => {
  it('DynamoDB Local dies with the process that started it, even of an uncaught error', async () => {
    // Prepare
    const script = fileURLToPath(new URL('../support/die-with-dynamodb.ts', import.meta.url));
    const tsx = createRequire(import.meta.url).resolve('tsx');
    const child = spawn(process.execPath, ['--import', tsx, script], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));

    // Act
    const exitCode = await new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    const started = JSON.parse(stdout.split('\n')[0] || '{}') as { pid?: number };

    // Assess
    expect(started.pid, stderr).toBeGreaterThan(0);
    try {
      expect(exitCode, stderr).not.toBe(0);
      expect(stderr).toContain('an error nothing caught');
      await eventually(async () => (alive(started.pid!) ? undefined : true), 5_000, 'DynamoDB Local to exit');
    } finally {
      // Never leave it running, whatever the outcome.
      if (alive(started.pid!)) process.kill(started.pid!, 'SIGKILL');
    }
  });
});
