/**
 * Debian's Chromium driven by playwright-core, as the console's end-to-end test uses it: the
 * flags this machine needs (without the background-networking ones Chromium floods the
 * closed network), a fresh profile, and what a page must not do (open a dialog, log an
 * error, throw), recorded for the test to check. axe-core runs inside the page.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

export const CHROMIUM_FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export interface Browser {
  context: BrowserContext;
  /** Dialogs opened, console errors and uncaught page errors, on every page of the context. */
  incidents: string[];
  newPage(): Promise<Page>;
  close(): Promise<void>;
}

export const launchChromium = async (options: { locale?: string } = {}): Promise<Browser> => {
  if (!existsSync(CHROMIUM))
    throw new Error(`${CHROMIUM} is missing: apt-get install chromium (.ci/run installs it), or set CHROMIUM_PATH`);
  const profile = await mkdtemp(join(tmpdir(), 'chromium-profile-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: CHROMIUM_FLAGS,
    locale: options.locale ?? 'en-US',
    viewport: { width: 1280, height: 800 },
    acceptDownloads: true,
  });
  const incidents: string[] = [];
  const watch = (page: Page) => {
    page.on('dialog', (dialog) => {
      incidents.push(`dialog ${dialog.type()}: ${dialog.message()}`);
      void dialog.dismiss();
    });
    page.on('console', (message) => {
      // Warnings too: a header Chromium does not understand (e.g. Permissions-Policy features it does not know) is a defect.
      if (message.type() === 'error' || message.type() === 'warning')
        incidents.push(`console ${message.type()}: ${message.text()}`);
    });
    page.on('pageerror', (error) => incidents.push(`page error: ${error.message}`));
  };
  context.pages().forEach(watch);
  context.on('page', watch);
  return {
    context,
    incidents,
    newPage: () => context.newPage(),
    close: async () => {
      await context.close();
      await rm(profile, { recursive: true, force: true });
    },
  };
};

const axeSource = readFile(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

export interface AxeViolation {
  id: string;
  impact: string | null;
  help: string;
  nodes: { target: unknown[] }[];
}

/**
 * axe-core's WCAG 2.x A/AA rules on the page as it is now; the serious and critical
 * violations. Evaluated through the DevTools protocol, which the page's CSP does not govern.
 */
export const axeViolations = async (page: Page): Promise<AxeViolation[]> => {
  await page.evaluate(await axeSource);
  // A string, evaluated in the page: the test's TypeScript has no DOM types.
  const options = { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice'] } };
  const result = await page.evaluate<{ violations: AxeViolation[] }>(`axe.run(document, ${JSON.stringify(options)})`);
  return result.violations.filter((violation) => violation.impact === 'serious' || violation.impact === 'critical');
};

export const describeViolations = (violations: AxeViolation[]) =>
  violations.map(
    (violation) =>
      `${violation.id} (${violation.impact}): ${violation.help} at ${JSON.stringify(violation.nodes.map((node) => node.target))}`,
  );
