// Web Push in Debian's Chromium (puppeteer-core, no browser download), for
// tests/it/webpush.rs: signs in with a person's link, opens /me, and prints
// one JSON object on stdout:
//   {"status", "errors": [...], "button": {"hidden", "key", "csrf"}, "axe": [...],
//    "scope", "notifications": [{title, body, tag, actions, data, requireInteraction}],
//    "acted": [{title, body, tag}] or null}
//
//   node push.mjs --signin URL --page URL --payload JSON [--act ACTION]
//
// The page's own script (the "Turn on push" button) runs under the page's
// Content-Security-Policy; any violation or script error is in "errors".
// The service worker /sw.js is registered as the button registers it; the
// push service is left out (headless Chromium offline has none): the
// DevTools protocol hands the worker a push message with --payload, as a
// push service would, and the notifications it shows are read back.
// With --act, the worker then does what a tap on the notification's ACTION
// button does (its own `act`, which the click listener calls: a click on a
// notification cannot be made from the DevTools protocol, and a click event
// made by script cannot wait for its work), and "acted" is the
// notifications shown after.
import { createRequire } from 'node:module';
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
  const errors = [];
  page.on('pageerror', (e) => errors.push(`page error: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(`console: ${m.text()} (${m.location()?.url ?? ''})`);
  });
  await page.evaluateOnNewDocument(() => {
    document.addEventListener('securitypolicyviolation', (e) => {
      console.error(`CSP violation: ${e.violatedDirective} ${e.blockedURI}`);
    });
  });
  const r = await page.goto(args.signin, { waitUntil: 'load' });
  if (!r) throw new Error(`no answer from ${args.signin}`);
  const signin = await page.$('form[action="/signin"] button');
  if (signin) await Promise.all([page.waitForNavigation({ waitUntil: 'load' }), signin.click()]);
  const origin = new URL(args.page).origin;
  await browser.defaultBrowserContext().overridePermissions(origin, ['notifications']);
  const response = await page.goto(args.page, { waitUntil: 'load' });
  const status = response ? response.status() : 0;
  const button = await page.$eval('#push-on', (b) => ({
    hidden: b.hidden,
    key: b.getAttribute('data-key'),
    csrf: b.getAttribute('data-csrf'),
  }));

  // The worker, registered as the button does; then a push, as a push
  // service would deliver it.
  const cdp = await page.target().createCDPSession();
  const registration = new Promise((resolve) => {
    cdp.on('ServiceWorker.workerVersionUpdated', (e) => {
      const active = e.versions.find((v) => v.status === 'activated');
      if (active) resolve(active.registrationId);
    });
  });
  await cdp.send('ServiceWorker.enable');
  const scope = await page.evaluate(async () => {
    const r = await navigator.serviceWorker.register('/sw.js');
    await navigator.serviceWorker.ready;
    return r.scope;
  });
  const registrationId = await registration;
  let notifications = [];
  for (let i = 0; i < 200 && notifications.length === 0; i++) {
    // Handed again each second until shown: a push delivered while the
    // worker is still starting can be dropped (it has the same tag, so it
    // is shown once however often it is handed over).
    if (i % 20 === 0) await cdp.send('ServiceWorker.deliverPushMessage', { origin, registrationId, data: args.payload });
    notifications = await page.evaluate(async () => {
      const r = await navigator.serviceWorker.ready;
      return (await r.getNotifications()).map((n) => ({
        title: n.title,
        body: n.body,
        tag: n.tag,
        actions: (n.actions || []).map((a) => a.action),
        data: n.data,
        requireInteraction: n.requireInteraction,
      }));
    });
    if (notifications.length === 0) await new Promise((r) => setTimeout(r, 50));
  }

  let acted = null;
  if (args.act && notifications.length > 0) {
    const target = await browser.waitForTarget((t) => t.type() === 'service_worker');
    const worker = await target.worker();
    acted = await worker.evaluate(async (action) => {
      const [n] = await self.registration.getNotifications();
      n.close();
      await act(n.data || {}, action);
      return (await self.registration.getNotifications()).map((x) => ({ title: x.title, body: x.body, tag: x.tag }));
    }, args.act);
  }

  // axe-core, evaluated through the DevTools protocol (the page's CSP
  // allows no script but the button's).
  const source = require('fs').readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');
  await page.setBypassCSP(true);
  await page.reload({ waitUntil: 'load' });
  await page.evaluate(source);
  const result = await page.evaluate(async () => await window.axe.run(document, { resultTypes: ['violations'] }));
  const axe = result.violations.map((v) => ({
    id: v.id,
    impact: v.impact,
    help: v.help,
    nodes: v.nodes.slice(0, 5).map((n) => n.target.join(' ')),
  }));
  process.stdout.write(JSON.stringify({ status, errors, button, scope, notifications, acted, axe }) + '\n');
} finally {
  await browser.close();
}
