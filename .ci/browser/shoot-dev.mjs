import { launchChromium } from './launch.js';
const [base, out, w, h, scheme, ...hashes] = process.argv.slice(2);
const b = await launchChromium();
const p = await b.newPage({ viewport: { width: +w, height: +h }, colorScheme: scheme });
let i = 0;
for (const hash of hashes) {
  const [hh, scroll] = hash.split('@');
  await p.goto(`${base}/review/${hh}`);
  await p.waitForTimeout(1200);
  if (scroll) await p.evaluate((y) => window.scrollTo(0, +y), scroll);
  await p.screenshot({ path: `${out}/dev-${i++}.png` });
}
await b.close();
