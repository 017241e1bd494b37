// A grid worker's morning on a phone (390×844, touch, geolocation allowed and set): signs in,
// picks who they are (accounts are not linked to worker records), sees today's due checkpoints,
// plans the tour from where they stand and sees it on the map with its order and arrival times,
// records a visit at the first stop, and reports a case where they stand. Prints a JSON summary
// for the test to check through the API.
// usage: node console_worker_check.mjs <base-url> <plan-json> <artefact-dir>
import path from 'node:path';
import { openBrowser, signIn, finish } from './console_common.mjs';

const [base, planText, dir] = process.argv.slice(2);
const plan = JSON.parse(planText);
const shot = (name) => path.join(dir, name);
const failures = [];
const errors = [];
const result = {};
const browser = await openBrowser();

try {
  const context = await browser.newContext({
    viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true, locale: 'zh-CN',
    geolocation: { longitude: plan.here[0], latitude: plan.here[1], accuracy: 10 }, permissions: ['geolocation'],
  });
  const page = await context.newPage();
  page.on('pageerror', (e) => errors.push(String(e)));
  page.on('console', (m) => { if (m.type() === 'error' && !/Failed to load resource/.test(m.text())) errors.push('console: ' + m.text()); });
  page.on('response', (r) => { if (r.status() >= 400 && r.status() !== 401) errors.push(`HTTP ${r.status()} ${r.url()}`); });
  await signIn(page, base, plan.login, plan.password, shot('console-worker-signin.png'));

  // A worker's account opens on the worker's view. An account linked to its worker record opens on
  // that worker at once; an unlinked one says who the person is.
  await page.waitForSelector('#panel-worker[data-ready="true"]:not([hidden])', { timeout: 30000 });
  result.tabs = await page.$$eval('#tabs button', (b) => b.filter((x) => !x.hidden).map((x) => x.dataset.tab));
  if (plan.linked) {
    result.chooser_hidden = await page.$eval('#worker-choose', (e) => e.hidden);
    await page.waitForFunction(() => document.querySelector('#panel-worker')?.dataset.worker, null, { timeout: 30000 });
    result.opened_worker = Number(await page.$eval('#panel-worker', (e) => e.dataset.worker));
    result.who = await page.textContent('#worker-who');
  } else {
    await page.waitForSelector(`#worker-pick option[value="${plan.worker}"]`, { state: 'attached', timeout: 30000 });
    result.offered_workers = await page.$$eval('#worker-pick option', (o) => o.map((x) => Number(x.value)).filter(Boolean));
    await page.selectOption('#worker-pick', String(plan.worker));
  }
  await page.waitForSelector('#due-list li[data-id]', { timeout: 30000 });
  result.due = await page.$$eval('#due-list li[data-id]', (l) => l.map((x) => Number(x.dataset.id)));
  result.due_head = await page.textContent('#due-head');
  await page.screenshot({ path: shot('console-worker-due.png') });

  // The tour from here: numbered stops on the map, the route drawn, arrival times listed.
  await page.tap('#tour-plan');
  await page.waitForSelector('#tour-stops li', { timeout: 30000 });
  await page.waitForFunction(() => {
    const m = window.wanggeConsole.map;
    return m.loaded() && m.areTilesLoaded() && m.queryRenderedFeatures({ layers: ['routes-line'] }).length > 0;
  }, null, { timeout: 30000 }).catch(() => failures.push('the tour is not drawn on the map'));
  result.stops = await page.$$eval('#tour-stops li', (l) => l.map((x) => ({ id: Number(x.dataset.id), arrival: Number(x.dataset.arrival), text: x.textContent })));
  result.markers = await page.$$eval('.stop-marker', (m) => m.map((x) => Number(x.dataset.sequence)));
  result.tour_info = await page.textContent('#tour-info');
  await page.waitForTimeout(500);
  await page.screenshot({ path: shot('console-worker-tour.png') });

  // A visit at the first stop.
  const first = result.stops[0].id;
  await page.tap(`#due-list button.visit[data-id="${first}"]`);
  await page.waitForSelector(`#due-list li.done[data-id="${first}"]`, { timeout: 30000 });
  result.visited = first;
  await page.screenshot({ path: shot('console-worker-visited.png') });

  // A case where I stand.
  await page.locator('#report').scrollIntoViewIfNeeded();
  await page.selectOption('#report-category', plan.category);
  await page.fill('#report-description', plan.description);
  await page.tap('#report-submit');
  await page.waitForSelector('#report-done', { timeout: 30000 });
  result.case = Number(await page.getAttribute('#report-done', 'data-id'));
  result.report_text = await page.textContent('#report-done');
  await page.screenshot({ path: shot('console-worker-report.png') });
} catch (err) {
  failures.push(String(err && err.stack || err));
} finally {
  await browser.close();
}
finish(failures, errors, result);
