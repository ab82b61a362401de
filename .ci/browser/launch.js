// Shared by the browser checks: Debian's chromium, headless, with the flags this kind of
// machine needs (no sandbox as root, no background connections to a closed network).
// Playwright gives each launch a new empty profile of its own.
import { chromium } from 'playwright-core';

export async function launchChromium() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}
