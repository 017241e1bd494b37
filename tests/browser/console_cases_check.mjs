// A dispatcher's day in the console: the case board follows a case created elsewhere without a
// reload, filters by state; a caller's GCJ-02 coordinate becomes a new case located at once; the
// case is registered, dispatched to the nearest worker from the ranked list (the assignee picker
// also offers the departments), handled, reported back, verified by another worker of its grid
// picked from a list without the handler, and closed, by buttons which only ever offer what the
// case's state allows; a late case elsewhere is urged (督办) and shows the urging. Prints a JSON
// summary.
// usage: node console_cases_check.mjs <base-url> <plan-json> <artefact-dir>
import path from 'node:path';
import { openBrowser, newPage, signIn, idle, finish } from './console_common.mjs';

const [base, planText, dir] = process.argv.slice(2);
const plan = JSON.parse(planText);
const shot = (name) => path.join(dir, name);
const failures = [];
const errors = [];
const result = { steps: [] };
const browser = await openBrowser();
let page = null;
const offered = (page) => page.$$eval('#case-actions button', (b) => b.map((x) => x.dataset.action));
const read = (page) => page.evaluate(async (id) => (await fetch('/v1/incidents/' + id)).json(), result.id);
const status = async (page) => (await read(page)).status;
try {
  page = await newPage(browser, errors, [401, 412]);
  await signIn(page, base, plan.login, plan.password);
  await page.click('#tabs button[data-tab="cases"]');
  await page.waitForSelector('#case-board tr[data-id]', { timeout: 20000 });
  await page.screenshot({ path: shot('console-case-board.png') });
  // Every column is in sight without scrolling sideways, the deadline the board is sorted by too.
  result.hidden_columns = await page.$$eval('#case-board tr:first-child > *', (cells) => {
    const box = document.querySelector('.board-box').getBoundingClientRect();
    return cells.filter((c) => c.getBoundingClientRect().right > box.right + 1).map((c) => c.textContent);
  });
  if (result.hidden_columns.length) failures.push('columns out of sight: ' + result.hidden_columns.join(', '));

  // A case reported elsewhere appears on the board without a reload.
  const made = await fetch(`${base}/v1/incidents`, { method: 'POST', headers: { Authorization: 'Bearer ' + plan.other, 'Content-Type': 'application/json' },
    body: JSON.stringify({ location: { type: 'Point', coordinates: plan.point4490 }, category: '街面秩序', source: 'video', description: '视频巡查发现' }) });
  const other = await made.json();
  await page.waitForSelector(`#case-board tr[data-id="${other.id}"]`, { timeout: 15000 })
    .catch(() => failures.push('a new case did not appear on the board by polling'));
  result.followed = other.id;

  // Filters: state, then source (video: the case just made).
  await page.selectOption('#filter-status', 'dispatch');
  await page.waitForFunction(() => [...document.querySelectorAll('#case-board tr[data-id]')].every((r) => r.dataset.status === 'dispatch') &&
                                   document.querySelectorAll('#case-board tr[data-id]').length > 0, null, { timeout: 15000 })
    .catch(() => failures.push('the state filter shows other states'));
  await page.selectOption('#filter-status', '');
  await page.selectOption('#filter-source', 'video');
  await page.waitForSelector(`#case-board tr[data-id="${other.id}"]`, { timeout: 15000 });
  await page.screenshot({ path: shot('console-case-board-filtered.png') });
  await page.selectOption('#filter-source', '');

  // Intake from a GCJ-02 coordinate pasted from a phone map.
  await page.click('#intake summary');
  await page.fill('#intake-coord', plan.gcj02.join(','));
  await page.selectOption('#intake-crs', 'gcj02');
  await page.selectOption('#intake-category', '市容环境');
  await page.fill('#intake-description', '人行道上堆放建筑垃圾');
  await page.click('#intake-submit');
  await page.waitForSelector('#intake-done', { timeout: 15000 });
  const title = await page.waitForSelector('#case-title', { timeout: 15000 });
  result.id = Number((await title.textContent()).match(/#(\d+)/)[1]);
  result.intake_text = await page.textContent('#intake-done');
  await idle(page);
  await page.screenshot({ path: shot('console-case-intake.png') });

  // Through the lifecycle by its buttons; a case never offers what its state forbids.
  const path_ = ['register', 'dispatch', 'handle', 'feedback', 'verify', 'close'];
  for (let step = 0; step < 8; step++) {
    const c = await read(page);
    const s = c.status;
    if (s === 'closed') break;
    const actions = await offered(page);
    const events = await page.$$eval('#case-timeline li', (l) => l.length);
    result.steps.push({ status: s, offered: actions, overdue: c.overdue, remaining: c.remaining_working_minutes ?? null });
    if (s !== 'verified' && s !== 'feedback' && actions.includes('close')) failures.push(`close is offered in state ${s}`);
    if (s === 'collect' && actions.includes('dispatch')) failures.push('dispatch is offered before registration');
    if (actions.includes('verify')) {
      await page.waitForSelector('#verify-worker option[value]:not([value=""])', { state: 'attached', timeout: 15000 });
      result.verifier_options = await page.$$eval('#verify-worker option', (o) => o.map((x) => x.value).filter(Boolean).map(Number));
      await page.selectOption('#verify-worker', String(plan.verifier));
      await page.screenshot({ path: shot('console-case-verify.png') });
      await page.click('#case-actions button[data-action="verify"]');
    } else if (actions.includes('dispatch')) {
      await page.waitForSelector('#dispatch-departments option', { state: 'attached', timeout: 15000 })
        .catch(() => failures.push('the assignee picker offers no department'));
      result.assignee_options = await page.$$eval('#dispatch-assignee option', (o) => o.map((x) => x.value).filter(Boolean));
      await page.waitForSelector('#nearest-list li[data-worker]', { timeout: 20000 });
      const first = await page.$eval('#nearest-list li[data-worker]', (li) => Number(li.dataset.worker));
      result.nearest = first;
      await page.waitForTimeout(500);
      await page.screenshot({ path: shot('console-case-dispatch.png') });
      await page.click(`#nearest-list button[data-dispatch-to="${first}"]`);
    } else {
      const next = path_.find((a) => actions.includes(a));
      if (!next) { failures.push(`no way forward from ${s}: ${actions}`); break; }
      if (!result.refusal && actions.includes('extend')) {
        // Someone else extends the case meanwhile (the same API, another request): the page's
        // step is refused (412), and the refusal stays on the case, not only in a toast.
        result.refused_step = next;
        await page.evaluate(async (id) => {
          const session = await (await fetch('/v1/session')).json();
          const current = await fetch('/v1/incidents/' + id);
          await fetch('/v1/incidents/' + id, { method: 'PATCH', headers: { 'Content-Type': 'application/json', 'If-Match': current.headers.get('ETag'),
            'X-CSRF-Token': session.csrf_token }, body: JSON.stringify({ action: 'extend', working_hours: 1, note: '另一位调度员延期' }) });
        }, result.id);
        await page.click(`#case-actions button[data-action="${next}"]`);
        result.refusal = await page.waitForSelector('#case-action-error', { timeout: 15000 }).then((e) => e.textContent())
          .catch(() => { failures.push('a refused step left no message on the case'); return ''; });
        await page.screenshot({ path: shot('console-case-refused.png') });
        if ((await status(page)) !== s) failures.push(`the refused ${next} changed the case`);
        continue;
      }
      await page.click(`#case-actions button[data-action="${next}"]`);
    }
    await page.waitForFunction((before) => {
      const t = document.getElementById('case-timeline');
      return t && t.children.length > before;
    }, events, { timeout: 15000 })
      .catch(() => failures.push(`the timeline did not grow after a step from ${s}`));
  }
  result.final = await status(page);
  result.final_offered = await page.$$eval('#case-actions button', (b) => b.map((x) => x.dataset.action));
  result.detail_text = await page.textContent('#case-detail');
  await page.screenshot({ path: shot('console-case-closed.png') });

  // A case far from its deadline: 督办 is not offered (the server would refuse it).
  await page.selectOption('#filter-status', 'dispatch');
  const farRow = `#case-board tr[data-id="${plan.far}"]`;
  await page.waitForSelector(farRow, { timeout: 15000 });
  await page.click(farRow);
  await page.waitForFunction((id) => (document.getElementById('case-title') || {}).textContent?.includes('#' + id), plan.far, { timeout: 15000 });
  result.far_offered = await offered(page);
  if (result.far_offered.includes('urge')) failures.push('urge is offered on a case far from its deadline');

  // A late case: 督办 is offered, the urging is recorded and shown on the case.
  await page.selectOption('#filter-status', 'dispatch');
  // The board redraws rows as it polls: the row is found again for each use.
  await page.selectOption('#filter-status', '');
  await page.selectOption('#filter-status', 'dispatch');
  const lateRow = `#case-board tr[data-id="${plan.late}"]`;
  await page.waitForSelector(lateRow, { timeout: 15000 });
  result.late_row = await page.textContent(lateRow);
  await page.click(lateRow);
  await page.waitForFunction((id) => (document.getElementById('case-title') || {}).textContent?.includes('#' + id), plan.late, { timeout: 15000 });
  result.late_offered = await offered(page);
  if (!result.late_offered.includes('urge')) failures.push('urge is not offered on an overdue case');
  else {
    await page.fill('#action-note', '群众再次来电，请今天处置');
    await page.click('#case-actions button[data-action="urge"]');
    await page.waitForSelector('#case-urgings li', { timeout: 15000 })
      .catch(() => failures.push('the urging is not shown on the case'));
    result.urgings_text = await page.textContent('#case-urgings').catch(() => '');
  }
  await page.screenshot({ path: shot('console-case-urged.png') });
} catch (e) {
  failures.push(String(e.stack || e));
  if (page) await page.screenshot({ path: shot(path.basename(process.argv[1], '.mjs') + '-failure.png') }).catch(() => {});
} finally {
  await browser.close();
}
finish(failures, errors, result);
