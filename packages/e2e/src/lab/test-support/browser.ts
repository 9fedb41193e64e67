/**
 * Headless Chromium (Debian's chromium package, driven by playwright-core, which downloads no
 * browser) for checking report pages: a fresh profile, no network, and a record of every request the
 * page made so a test can prove it fetched nothing.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Page } from 'playwright-core';

export const CHROMIUM = '/usr/bin/chromium';

export interface OpenedPage {
  page: Page;
  /** Every URL the page requested (the page itself included). */
  requests: string[];
  /** Console errors and page errors. */
  errors: string[];
  close(): Promise<void>;
}

export async function openPage(file: string, viewport = { width: 1400, height: 1000 }): Promise<OpenedPage> {
  if (!existsSync(CHROMIUM))
    throw new Error(`${CHROMIUM} is missing: run tools/setup-machine (Debian's chromium package)`);
  const profile = mkdtempSync(join(tmpdir(), 'ftpfwd-lab-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    viewport,
    offline: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
    ],
  });
  const page = context.pages()[0] ?? (await context.newPage());
  const requests: string[] = [];
  const errors: string[] = [];
  page.on('request', (r) => requests.push(r.url()));
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(m.text());
  });
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(`file://${file}`, { waitUntil: 'load' });
  return {
    page,
    requests,
    errors,
    async close() {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

/** Where screenshots go: $FTPFWD_LAB_SCREENSHOTS, else `fallback`. */
export function screenshotDir(fallback: string): string {
  return process.env.FTPFWD_LAB_SCREENSHOTS ?? fallback;
}
