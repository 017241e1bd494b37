// A grid manager's redraw, as a person does it in the console: sign in, find the grid by name,
// drag a vertex it shares with a neighbour, read the preview (the moved case is listed), meet a
// 412 because someone else changed the neighbour meanwhile, reload, redo and commit; the map's
// tiles show the new border and the history the new version; restoring the old version brings the
// border back. Prints a JSON summary; the Python side checks the database and the API.
// usage: node console_grids_check.mjs <base-url> <plan-json> <artefact-dir>
import path from 'node:path';
import { openBrowser, newPage, signIn, idle, gridAt, pixel, drag, finish } from './console_common.mjs';

const [base, planText, dir] = process.argv.slice(2);
const plan = JSON.parse(planText);
const shot = (name) => path.join(dir, name);
const failures = [];
const errors = [];
const result = {};
const browser = await openBrowser();
let page = null;
try {
  page = await newPage(browser, errors, [401, 412]);
  await signIn(page, base, plan.login, plan.password, shot('console-signin.png'));

  // The first view is the person's scope area, all of it and filling the map (not a fixed place).
  result.firstView = await page.evaluate(async () => {
    const { map, user } = window.wanggeConsole;
    const area = await (await fetch('/v1/areas/' + user.scope)).json();
    let minx = Infinity, miny = Infinity, maxx = -Infinity, maxy = -Infinity;
    const walk = (c) => { if (typeof c[0] === 'number') { minx = Math.min(minx, c[0]); miny = Math.min(miny, c[1]); maxx = Math.max(maxx, c[0]); maxy = Math.max(maxy, c[1]); } else c.forEach(walk); };
    walk(area.geometry.coordinates);
    const v = map.getBounds();
    return { scope: [minx, miny, maxx, maxy], view: [v.getWest(), v.getSouth(), v.getEast(), v.getNorth()] };
  });
  {
    const [sx0, sy0, sx1, sy1] = result.firstView.scope, [vx0, vy0, vx1, vy1] = result.firstView.view;
    if (!(vx0 <= sx0 && vy0 <= sy0 && vx1 >= sx1 && vy1 >= sy1)) failures.push('the first view does not show all of the scope area: ' + JSON.stringify(result.firstView));
    if (Math.max((sx1 - sx0) / (vx1 - vx0), (sy1 - sy0) / (vy1 - vy0)) < 0.6) failures.push('the first view is not fitted to the scope area: ' + JSON.stringify(result.firstView));
  }

  // Find the grid by name and open it.
  await page.fill('#area-search', plan.name);
  await page.press('#area-search', 'Enter');
  await page.click(`#area-results a[data-code="${plan.code}"]`, { timeout: 15000 });
  await page.waitForFunction((n) => document.getElementById('area-name')?.textContent === n, plan.name, { timeout: 15000 });
  await page.waitForSelector('#area-history li');
  // The sample's version is named in Chinese like every other kind of change.
  result.first_version_text = await page.$eval('#area-history li:last-child', (li) => li.textContent);
  if (!result.first_version_text.includes('示例数据')) failures.push('the history names the sample version in English: ' + result.first_version_text);
  await idle(page);
  if (await gridAt(page, plan.probe) !== plan.neighbour) failures.push('before the redraw the probe point is not drawn in the neighbour');
  await page.screenshot({ path: shot('console-grid-found.png') });

  const redraw = async () => {
    await page.click('#btn-redraw');
    await page.waitForSelector('#btn-preview');
    await idle(page);
    const release = await pixel(page, plan.target);
    await drag(page, await pixel(page, plan.vertex), release);
    // The dragged vertex is within a few pixels of where the mouse let go, as the person sees it.
    const miss = await page.evaluate((at) => {
      const { draw, map } = window.wanggeConsole;
      const f = draw.getSnapshot().find((x) => x.geometry.type === 'Polygon');
      const r = map.getCanvas().getBoundingClientRect();
      at = { x: at.x - r.left, y: at.y - r.top };
      const ds = f.geometry.coordinates[0].map((c) => { const p = map.project(c); return [Math.hypot(p.x - at.x, p.y - at.y), p.x - at.x, p.y - at.y]; });
      ds.sort((a, b) => a[0] - b[0]);
      return ds[0];
    }, release);
    if (!(miss[0] < 4)) failures.push(`dragging the vertex left it ${miss} px from the target`);
    await page.click('#btn-preview');
    await page.waitForSelector('#preview-summary, #preview-error', { timeout: 20000 });
  };

  await redraw();
  const listed = await page.$(`#impact-incidents li[data-incident="${plan.incident}"]`);
  result.moved_incident_listed = !!listed;
  if (!listed) failures.push('the preview does not list the case that moves: ' + await page.textContent('#impact'));
  // Where it moves to is said by the grid's name, as the manager knows it (not only its code).
  else {
    result.moved_incident_text = await listed.textContent();
    if (!result.moved_incident_text.includes(plan.name)) failures.push('the moving case is listed without the grid\'s name: ' + result.moved_incident_text);
  }
  const areas = await page.$$eval('#impact-areas li', (l) => l.map((x) => x.dataset.code));
  if (!areas.includes(plan.code) || !areas.includes(plan.neighbour)) failures.push('the preview does not list both changed grids: ' + areas);
  await page.waitForTimeout(300);
  await page.screenshot({ path: shot('console-redraw-preview.png') });

  // Someone else changes the neighbour between the preview and the commit: 412, named, reload offered.
  const other = await fetch(`${base}/v1/areas/${plan.neighbour}`, { headers: { Authorization: 'Bearer ' + plan.interloper } });
  const changed = await fetch(`${base}/v1/areas/${plan.neighbour}`, {
    method: 'PATCH', body: JSON.stringify({ properties: { households: 321 } }),
    headers: { Authorization: 'Bearer ' + plan.interloper, 'Content-Type': 'application/json', 'If-Match': other.headers.get('ETag') } });
  if (changed.status !== 200) failures.push('the concurrent change failed: ' + changed.status);
  await page.click('#btn-commit');
  await page.waitForSelector('#conflict', { timeout: 15000 });
  result.conflict_text = await page.textContent('#conflict');
  await page.screenshot({ path: shot('console-redraw-conflict.png') });
  await page.click('#btn-reload');
  await page.waitForSelector('#btn-redraw');

  await redraw();
  if (!await page.$(`#impact-incidents li[data-incident="${plan.incident}"]`)) failures.push('the second preview lost the moving case');
  await page.click('#btn-commit');
  await page.waitForSelector('#area-detail[data-committed]', { timeout: 20000 });
  await idle(page);
  await page.waitForFunction(() => window.wanggeConsole.map.areTilesLoaded(), null, { timeout: 20000 });
  await idle(page);
  const after = await gridAt(page, plan.probe);
  if (after !== plan.code) failures.push(`after the commit the map draws the probe point in ${after}, not ${plan.code}`);
  const current = await page.$eval('#area-history li:first-child', (li) => li.dataset.version);
  if (Number(current) !== plan.version + 1) failures.push(`the history's newest version is ${current}, not ${plan.version + 1}`);
  await page.screenshot({ path: shot('console-redraw-committed.png') });

  // Restore the version before the redraw.
  const firstCommit = await page.$eval('#area-detail', (d) => d.dataset.committed);
  await page.click(`#area-history button[data-restore="${plan.version}"]`);
  await page.waitForSelector('#preview-summary, #preview-error', { timeout: 20000 });
  if (await page.$('#preview-error')) failures.push('the restore preview failed: ' + await page.textContent('#preview-error'));
  if (!await page.$(`#impact-incidents li[data-incident="${plan.incident}"]`)) failures.push('the restore preview does not list the case moving back');
  await page.screenshot({ path: shot('console-restore-preview.png') });
  await page.click('#btn-commit');
  await page.waitForFunction((op) => document.getElementById('area-detail').dataset.committed !== op, firstCommit, { timeout: 20000 });
  await page.waitForFunction((v) => document.querySelector('#area-history li:first-child')?.dataset.version === String(v), plan.version + 2, { timeout: 15000 })
    .catch(() => failures.push('the history does not show the restored version'));
  await idle(page);
  const back = await gridAt(page, plan.probe);
  if (back !== plan.neighbour) failures.push(`after the restore the probe point is drawn in ${back}, not ${plan.neighbour}`);
  await page.screenshot({ path: shot('console-restored.png') });
} catch (e) {
  failures.push(String(e.stack || e));
  if (page) await page.screenshot({ path: shot(path.basename(process.argv[1], '.mjs') + '-failure.png') }).catch(() => {});
} finally {
  await browser.close();
}
finish(failures, errors, result);
