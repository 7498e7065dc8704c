// Headless Chromium for the browser suites (cos-js-sdk-v5 pages, the web
// console), driven by puppeteer-core on the system's `chromium` (Debian's
// package; scripts/test.sh installs it).  A missing browser is a failure, not
// a skip: set CHROMIUM_PATH to use another binary.
import fs from 'node:fs';
import path from 'node:path';
import puppeteer from 'puppeteer-core';
import { REPO } from './localcos.mjs';

export function chromiumPath() {
  if (process.env.CHROMIUM_PATH) return process.env.CHROMIUM_PATH;
  for (const p of ['/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome']) {
    if (fs.existsSync(p)) return p;
  }
  throw new Error('no Chromium found: install Debian\'s `chromium` (scripts/test.sh does) or set CHROMIUM_PATH');
}

// Launches Chromium.  `hostRules` maps host names to local ports, e.g.
// ['MAP *.myqcloud.com 127.0.0.1:9000'], so pages reach localcos under the
// real COS host names.  Running as root needs --no-sandbox (NOTES 19).
export async function launchBrowser({ hostRules = [], width = 1280, height = 800 } = {}) {
  const args = [
    '--no-sandbox',
    '--disable-dev-shm-usage',
    '--no-first-run',
    '--no-default-browser-check',
    // The suite never talks to a proxy: pages reach 127.0.0.1 only.
    '--no-proxy-server',
    `--window-size=${width},${height}`,
  ];
  if (hostRules.length) args.push(`--host-resolver-rules=${hostRules.join(', ')}`);
  return puppeteer.launch({
    executablePath: chromiumPath(),
    headless: true,
    args,
    defaultViewport: { width, height },
    env: Object.fromEntries(
      Object.entries(process.env).filter(([k]) => !/^(https?|all|no)_proxy$/i.test(k)),
    ),
  });
}

// Where screenshots go: kept after the run as test artefacts.
export const ARTIFACTS = process.env.LOCALCOS_ARTIFACTS || path.join(REPO, 'target', 'browser-artifacts');

export async function screenshot(page, name) {
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  const file = path.join(ARTIFACTS, `${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  return file;
}
