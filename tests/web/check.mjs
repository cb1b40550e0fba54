// Looks at a page of the daemon in Debian's Chromium (puppeteer-core, no
// browser download) for tests/it/web_timeline.rs, and prints one JSON
// object on stdout:
//   {"status", "pieces": [{rota, kind, person, start, end, layer, of, width, height}], "axe": [{id, impact, help, nodes}]}
// and saves screenshots at 1280 px and 375 px wide.
//
//   node check.mjs --signin URL --page URL --shots DIR/NAME [--axe]
//
// --signin is opened first (a person's sign-in link: its button is pressed,
// and the session cookie that sets is kept for --page). Exits non-zero,
// saying why on stderr, if the browser cannot load the page.
import { createRequire } from 'node:module';
import path from 'node:path';
import puppeteer from 'puppeteer-core';

const require = createRequire(import.meta.url);
const args = Object.fromEntries(
  process.argv.slice(2).reduce((pairs, a, i, all) => {
    if (a.startsWith('--')) pairs.push([a.slice(2), all[i + 1] && !all[i + 1].startsWith('--') ? all[i + 1] : true]);
    return pairs;
  }, []),
);

const browser = await puppeteer.launch({
  executablePath: '/usr/bin/chromium',
  headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--no-first-run'],
});
try {
  const page = await browser.newPage();
  if (args.signin) {
    const r = await page.goto(args.signin, { waitUntil: 'load' });
    if (!r) throw new Error(`no answer from ${args.signin}`);
    const button = await page.$('form[action="/signin"] button');
    if (button) {
      await Promise.all([page.waitForNavigation({ waitUntil: 'load' }), button.click()]);
    }
  }
  await page.setViewport({ width: 1280, height: 900 });
  const response = await page.goto(args.page, { waitUntil: 'load' });
  const status = response ? response.status() : 0;
  const pieces = await page.$$eval('[data-k]', (els) =>
    els.map((e) => {
      const r = e.getBoundingClientRect();
      // The rota: the heading above the piece's row ("team / rota ...").
      let h = e.closest('.r');
      while (h && !(h.tagName === 'H2' && h.classList.contains('h'))) h = h.previousElementSibling;
      const rota = h ? (h.querySelector('a:not(.z)') ?? h).firstChild.textContent.split(' / ')[1]?.trim() ?? null : null;
      return {
        rota,
        kind: e.dataset.k,
        person: e.dataset.p ?? null,
        start: e.dataset.s ?? null,
        end: e.dataset.e ?? null,
        layer: e.dataset.layer ?? null,
        of: e.dataset.of ?? null,
        width: r.width,
        height: r.height,
      };
    }),
  );
  if (args.shots) {
    await page.screenshot({ path: `${args.shots}-1280.png`, fullPage: true });
  }
  let axe = [];
  if (args.axe) {
    const source = require('fs').readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');
    // The page's CSP allows no script of ours: evaluate it through the
    // DevTools protocol, which the CSP does not govern.
    await page.setBypassCSP(true);
    await page.reload({ waitUntil: 'load' });
    await page.evaluate(source);
    const result = await page.evaluate(async () => await window.axe.run(document, { resultTypes: ['violations'] }));
    axe = result.violations.map((v) => ({
      id: v.id,
      impact: v.impact,
      help: v.help,
      nodes: v.nodes.slice(0, 5).map((n) => n.target.join(' ')),
    }));
  }
  if (args.shots) {
    await page.setViewport({ width: 375, height: 800, isMobile: true });
    await page.reload({ waitUntil: 'load' });
    await page.screenshot({ path: `${args.shots}-375.png`, fullPage: true });
  }
  process.stdout.write(JSON.stringify({ status, pieces, axe, shots: args.shots ? path.resolve(args.shots) : null }) + '\n');
} finally {
  await browser.close();
}
