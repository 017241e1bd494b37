// A grid manager reads the coverage report of a village (a partition), retires a grid after its
// preview (the workers it unassigns), sees the gap it leaves in the coverage report on the map,
// changes a grid's workers (preview: who is added, who removed; then commit), and redistricts the
// village with an uploaded plan that gives the gap to a neighbour; the coverage report is clean
// again. Prints a JSON summary for the Python side, which checks the results through the API.
// usage: node console_manage_check.mjs <base-url> <plan-json> <artefact-dir>
import path from 'node:path';
import { openBrowser, newPage, signIn, idle, finish } from './console_common.mjs';

const [base, planText, dir] = process.argv.slice(2);
const plan = JSON.parse(planText);
const shot = (name) => path.join(dir, name);
const failures = [];
const errors = [];
const result = {};
const browser = await openBrowser();
let page = null;

async function open(code) {
  await page.fill('#area-search', code);
  await page.press('#area-search', 'Enter');
  await page.click(`#area-results a[data-code="${code}"]`, { timeout: 15000 });
  await page.waitForFunction((c) => {
    const td = document.querySelector('#area-detail table.props td');
    return td && td.textContent === c && document.querySelector('#area-actions');
  }, code, { timeout: 15000 });
  await idle(page);
}

async function coverage() {
  await page.click('#btn-coverage');
  await page.waitForSelector('#coverage-summary', { timeout: 30000 });
  await idle(page);
  return page.evaluate(() => ({
    partition: document.getElementById('coverage-summary').dataset.partition,
    gaps: document.querySelectorAll('#coverage-gaps li').length,
    overlaps: document.querySelectorAll('#coverage-overlaps li').length,
    outside: document.querySelectorAll('#coverage-outside li').length,
    drawn: window.wanggeConsole.map.queryRenderedFeatures({ layers: ['coverage-fill'] }).length,
  }));
}

// Whether an element is within the visible part of the side panel (a person sees it without scrolling).
async function inView(selector) {
  return page.$eval(selector, (e) => {
    const r = e.getBoundingClientRect(), side = document.getElementById('side').getBoundingClientRect();
    return r.top >= side.top && r.top < side.bottom - 10 && r.top < window.innerHeight - 10;
  });
}

async function previewed() {
  await page.waitForSelector('#preview-summary, #preview-error', { timeout: 30000 });
  if (await page.$('#preview-error')) failures.push('preview failed: ' + await page.textContent('#preview-error'));
}

async function commit() {
  const before = await page.$eval('#area-detail', (d) => d.dataset.committed || '');
  await page.click('#btn-commit');
  await page.waitForFunction((b) => (document.getElementById('area-detail').dataset.committed || '') !== b ||
                                     document.getElementById('commit-error'), before, { timeout: 30000 });
  if (await page.$('#commit-error')) failures.push('commit failed: ' + await page.textContent('#commit-error'));
  await idle(page);
  return page.$eval('#area-detail', (d) => d.dataset.committed);
}

try {
  page = await newPage(browser, errors);
  await signIn(page, base, plan.login, plan.password);

  // 1. The village's coverage: a partition.
  await open(plan.village);
  result.coverage_before = await coverage();
  await page.screenshot({ path: shot('console-coverage-clean.png') });

  // 2. Retire a grid: the preview names the workers it unassigns.
  await open(plan.retire);
  await page.click('#btn-retire');
  await previewed();
  result.retire_workers = await page.$$eval('#impact-workers li', (l) => l.map((x) => Number(x.dataset.worker)));
  // Retiring leaves the grid's ground to nobody: the preview says so before the commit.
  result.retire_gap_warned = !!await page.$('#retire-gap');
  if (!result.retire_gap_warned) failures.push('the retire preview does not say the grid\'s ground becomes a gap');
  if (!await inView('#preview-summary')) failures.push('the retire preview is out of sight (below the side panel\'s fold)');
  await page.screenshot({ path: shot('console-retire-preview.png') });
  result.retire_committed = await commit();
  result.retired_text = await page.textContent('#area-retired');
  // It points to where the old border can really be had (the map page has no date to pick).
  if (!result.retired_text.includes('数据交换')) failures.push('the retired message sends the person nowhere useful: ' + result.retired_text);

  // 3. The village now has a gap where the grid was: listed and drawn.
  await open(plan.village);
  result.coverage_gap = await coverage();
  await page.screenshot({ path: shot('console-coverage-gap.png') });

  // 4. Workers of a grid: one unassigned, one assigned, previewed then committed.
  await open(plan.workers_grid);
  await page.click('#btn-workers');
  await page.waitForSelector('#worker-choices input');
  // Previewed unchanged: nothing to commit, and the page says so (the commit is not offered).
  await page.click('#btn-preview');
  await previewed();
  result.workers_unchanged_said = !!await page.$('#preview-unchanged');
  result.workers_unchanged_commit_enabled = await page.$eval('#btn-commit', (b) => !b.disabled);
  if (!result.workers_unchanged_said || result.workers_unchanged_commit_enabled) failures.push('an unchanged worker set is offered for commit');
  await page.uncheck(`#worker-choices input[value="${plan.unassign}"]`);
  await page.check(`#worker-choices input[value="${plan.assign}"]`);
  await page.click('#btn-preview');
  await previewed();
  result.workers_added = await page.$$eval('#impact-added li', (l) => l.map((x) => Number(x.dataset.worker)));
  result.workers_removed = await page.$$eval('#impact-removed li', (l) => l.map((x) => Number(x.dataset.worker)));
  await page.screenshot({ path: shot('console-workers-preview.png') });
  result.workers_committed = await commit();
  result.workers_listed = await page.$$eval('#area-workers li', (l) => l.map((x) => x.textContent));

  // 5. Redistrict the village with an uploaded plan that closes the gap; the coverage is clean.
  await open(plan.village);
  await page.click('#btn-redistrict');
  await page.setInputFiles('#redistrict-file', plan.plan_file);
  await previewed();
  result.redistrict_changed = await page.$$eval('#impact-areas li', (l) => l.map((x) => x.dataset.code));
  await page.screenshot({ path: shot('console-redistrict-preview.png') });
  result.redistrict_committed = await commit();
  result.coverage_after = await coverage();
  await page.screenshot({ path: shot('console-coverage-after.png') });
} catch (e) {
  failures.push(String(e.stack || e));
  if (page) await page.screenshot({ path: shot(path.basename(process.argv[1], '.mjs') + '-failure.png') }).catch(() => {});
} finally {
  await browser.close();
}
finish(failures, errors, result);
