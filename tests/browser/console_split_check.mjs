// A grid manager splits a grid along a line drawn on the map and merges the pieces back, with a
// preview before each commit; then looks up a grid of another township: the page says it is
// outside their area and the API refuses the change. Prints a JSON summary for the Python side.
// usage: node console_split_check.mjs <base-url> <plan-json> <artefact-dir>
import path from 'node:path';
import { openBrowser, newPage, signIn, idle, pixel, finish } from './console_common.mjs';

const [base, planText, dir] = process.argv.slice(2);
const plan = JSON.parse(planText);
const shot = (name) => path.join(dir, name);
const failures = [];
const errors = [];
const result = {};
const browser = await openBrowser();
let page = null;
try {
  page = await newPage(browser, errors, [401, 403]);
  await signIn(page, base, plan.login, plan.password);
  await page.fill('#area-search', plan.code);
  await page.press('#area-search', 'Enter');
  await page.click(`#area-results a[data-code="${plan.code}"]`, { timeout: 15000 });
  await page.waitForSelector('#btn-split');
  await idle(page);

  // Split: click a line across the grid, Enter finishes it, the preview follows.
  await page.click('#btn-split');
  await page.waitForSelector('#edit-hint');
  await page.waitForTimeout(300);
  for (const p of plan.line) {
    const at = await pixel(page, p);
    await page.mouse.click(at.x, at.y);
    await page.waitForTimeout(250);
  }
  // Enter finishes the line (clicking its last point again does too, when the map lacks focus).
  await page.keyboard.press('Enter');
  if (!await page.waitForSelector('#preview-summary, #preview-error', { timeout: 3000 }).catch(() => null)) {
    const last = await pixel(page, plan.line[plan.line.length - 1]);
    await page.mouse.click(last.x, last.y);
  }
  await page.waitForSelector('#preview-summary, #preview-error', { timeout: 20000 });
  if (await page.$('#preview-error')) failures.push('split preview failed: ' + await page.textContent('#preview-error'));
  const pieces = await page.$$eval('#impact-areas li', (l) => l.map((x) => x.dataset.code));
  result.preview_codes = pieces;
  await page.waitForTimeout(300);
  await page.screenshot({ path: shot('console-split-preview.png') });
  await page.click('#btn-commit');
  await page.waitForSelector('#area-detail[data-committed]', { timeout: 20000 });
  result.first_piece = await page.$eval('#area-detail table.props td', (td) => td.textContent);
  await idle(page);
  await page.screenshot({ path: shot('console-split-committed.png') });

  // Merge the first piece with the other one (the only new neighbour listed beside it).
  // On a short screen (a laptop's) the editor and its preview are far below the details: the
  // page brings them into sight.
  await page.setViewportSize({ width: 1400, height: 600 });
  await page.click('#btn-merge');
  await page.waitForSelector('#merge-choices');
  // Nothing ticked yet: the page says what is missing (in Chinese) and sends nothing.
  await page.click('#btn-preview');
  await page.waitForSelector('#preview-error', { timeout: 10000 });
  result.merge_nothing_chosen = await page.textContent('#preview-error');
  if (/[A-Za-z]{4,}/.test(result.merge_nothing_chosen)) failures.push('merge with nothing chosen answers in English: ' + result.merge_nothing_chosen);
  const others = pieces.filter((c) => c !== plan.code && c !== result.first_piece);
  for (const c of others) await page.check(`#merge-choices input[value="${c}"]`);
  await page.click('#btn-preview');
  await page.waitForSelector('#preview-summary, #preview-error', { timeout: 20000 });
  if (await page.$('#preview-error')) failures.push('merge preview failed: ' + await page.textContent('#preview-error'));
  result.merge_preview_in_view = await page.$eval('#preview-summary', (e) => {
    const r = e.getBoundingClientRect(), side = document.getElementById('side').getBoundingClientRect();
    return r.top >= side.top && r.top < Math.min(side.bottom, window.innerHeight) - 10;
  });
  if (!result.merge_preview_in_view) failures.push('the merge preview is below the fold of the side panel');
  await page.setViewportSize({ width: 1400, height: 900 });
  await page.screenshot({ path: shot('console-merge-preview.png') });
  const before = await page.$eval('#area-detail', (d) => d.dataset.committed);
  await page.click('#btn-commit');
  await page.waitForFunction((op) => document.getElementById('area-detail').dataset.committed !== op, before, { timeout: 20000 });
  result.merged = await page.$eval('#area-detail table.props td', (td) => td.textContent);
  await idle(page);
  await page.screenshot({ path: shot('console-merge-committed.png') });

  // Another township's grid: the page says it is not theirs; the API refuses a change.
  await page.fill('#area-search', plan.foreign);
  await page.press('#area-search', 'Enter');
  await page.waitForSelector('#area-results li');
  const listed = await page.$(`#area-results a[data-code="${plan.foreign}"]`);
  if (listed) failures.push('a grid outside the scope is offered by the search');
  // Typed as a code, it is opened directly (as a link from elsewhere would).
  await page.evaluate((c) => window.wanggeConsole.grids.select(c), plan.foreign);
  await page.waitForSelector('#area-denied', { timeout: 15000 });
  result.denied_text = await page.textContent('#area-denied');
  if (await page.$('#btn-redraw')) failures.push('edit buttons are shown for a grid outside the scope');
  result.api_status = await page.evaluate(async (c) => {
    const s = await (await fetch('/v1/session')).json();
    const r = await fetch('/v1/areas/' + c, { method: 'PATCH', body: JSON.stringify({ properties: { households: 1 } }),
      headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': s.csrf_token, 'If-Match': '*' } });
    return { status: r.status, code: (await r.json()).code };
  }, plan.foreign);
  await page.screenshot({ path: shot('console-outside-scope.png') });
} catch (e) {
  failures.push(String(e.stack || e));
  if (page) await page.screenshot({ path: shot(path.basename(process.argv[1], '.mjs') + '-failure.png') }).catch(() => {});
} finally {
  await browser.close();
}
finish(failures, errors, result);
