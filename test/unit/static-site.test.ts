/**
 * The console's folder of files as the api function serves it (lib/http/static-site.ts):
 * files are read once per instance, and a name that is not there is not remembered, so a
 * client asking for many made-up asset names cannot grow the instance's memory.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { folderSite } from '../../lib/http/static-site.js';

describe('folderSite', () => {
  let root: string | undefined;
  afterEach(async () => {
    if (root) await rm(root, { recursive: true, force: true });
  });

  it('reads a file once, with its content type, and does not remember a missing one', async () => {
    // Prepare
    root = await mkdtemp(join(tmpdir(), 'static-site-'));
    await writeFile(join(root, 'index.html'), '<p>first</p>');
    const site = folderSite(root);

    // Act
    const first = await site.get('index.html');
    await writeFile(join(root, 'index.html'), '<p>second</p>');
    const again = await site.get('index.html');
    const missing = await site.get('app-1.js');
    await writeFile(join(root, 'app-1.js'), 'export {};');
    const later = await site.get('app-1.js');

    // Assess
    expect(first).toEqual({ body: Buffer.from('<p>first</p>'), contentType: 'text/html; charset=utf-8' });
    expect(again?.body.toString()).toBe('<p>first</p>');
    expect(missing).toBeUndefined();
    expect(later).toEqual({ body: Buffer.from('export {};'), contentType: 'text/javascript; charset=utf-8' });
  });
});
