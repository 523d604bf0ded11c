import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import puppeteer, { type Browser, type HTTPResponse, type Page } from 'puppeteer-core';
import { commandOnPath } from './deploy/command-on-path.js';

/** Debian's Chromium (`apt-get install chromium`; .ci/run installs it), or undefined. */
export const chromiumPath = (): string | undefined => commandOnPath('chromium');

/**
 * Quiet, offline and reproducible: no GPU, no QUIC, no first-run UI, none of Chromium's own calls
 * home (updates, sync, background fetches), and a profile of its own.
 */
const FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export interface TestBrowser {
  readonly browser: Browser;
  /** A page that may load only from `origin`: anything else (web fonts, say) is refused. */
  page(origin: string): Promise<Page>;
  close(): Promise<void>;
}

/** Launches headless Chromium with a fresh user-data-dir, removed again by `close()`. */
export async function launchChromium(executablePath: string): Promise<TestBrowser> {
  const profile = mkdtempSync(join(tmpdir(), 'openai-proxy-chromium-'));
  const browser = await puppeteer.launch({
    executablePath,
    headless: true,
    args: [...FLAGS, `--user-data-dir=${profile}`],
    defaultViewport: { width: 1280, height: 800 },
  });
  let closing: Promise<void> | undefined;
  return {
    browser,
    async page(origin) {
      const page = await browser.newPage();
      await page.setRequestInterception(true);
      page.on('request', (request) => {
        if (request.url().startsWith(origin)) void request.continue();
        else void request.abort('blockedbyclient');
      });
      return page;
    },
    close() {
      closing ??= (async () => {
        await browser.close();
        rmSync(profile, { recursive: true, force: true });
      })();
      return closing;
    },
  };
}

/** Every response body a page receives from now on, as text, with its URL. */
export function recordResponses(page: Page): { url: string; status: number; body: string }[] {
  const seen: { url: string; status: number; body: string }[] = [];
  page.on('response', (response: HTTPResponse) => {
    // Redirects and aborted loads have no body; everything else is kept.
    response
      .buffer()
      .then((body) =>
        seen.push({ url: response.url(), status: response.status(), body: body.toString('utf8') }),
      )
      .catch(() => undefined);
  });
  return seen;
}
