// A township leader reads the statistics page: signs in, opens 统计分析, types a period and asks
// for it; the trend chart's and the distribution chart's numbers are read back from the ECharts
// instances on the page (getOption) for the test to compare with the API; the evaluation table's
// XLSX download and the departments' CSV download are clicked and the files kept; a period without
// cases shows the note that offers the latest period with cases. Prints a JSON summary.
// usage: node console_stats_check.mjs <base-url> <plan-json> <artefact-dir>
import path from 'node:path';
import { openBrowser, newPage, signIn, finish } from './console_common.mjs';

const [base, planText, dir] = process.argv.slice(2);
const plan = JSON.parse(planText);
const shot = (name) => path.join(dir, name);
const failures = [];
const errors = [];
const result = {};
const browser = await openBrowser();

// The numbers a chart draws, as ECharts holds them.
const readChart = (page, id) => page.evaluate((id) => {
  const node = document.getElementById(id);
  const chart = window.wanggeConsole.chartOf(node);
  if (!chart) return null;
  const o = chart.getOption();
  const category = o.xAxis[0].type === 'category' ? o.xAxis[0] : o.yAxis[0];
  return { labels: category.data, series: Object.fromEntries(o.series.map((s) => [s.name, s.data])) };
}, id);

try {
  const page = await newPage(browser, errors, [401], { width: 1400, height: 1000 });
  await signIn(page, base, plan.login, plan.password);
  const opened = Date.now();
  await page.click('#tabs button[data-tab="stats"]');
  await page.waitForSelector('#panel-stats[data-loaded]', { timeout: 30000 });
  result.open_ms = Date.now() - opened;  // the tab clicked → figures, charts and tables drawn
  result.default_query = await page.getAttribute('#panel-stats', 'data-loaded');
  result.default_area = await page.inputValue('#stats-area');

  // The period typed by hand, then asked for.
  await page.fill('#stats-from', plan.from);
  await page.fill('#stats-to', plan.to);
  const asked = Date.now();
  await page.click('#stats-apply');
  await page.waitForFunction((q) => document.getElementById('panel-stats').dataset.loaded === q,
    new URLSearchParams({ area: plan.area, from: plan.from, to: plan.to }).toString(), { timeout: 30000 });
  result.query_ms = Date.now() - asked;
  await page.waitForTimeout(800);  // the charts' entry animation
  result.query = await page.getAttribute('#panel-stats', 'data-loaded');
  result.time = await readChart(page, 'chart-time');
  result.split = await readChart(page, 'chart-split');
  result.headline = await page.$$eval('#stats-headline .figure', (f) => Object.fromEntries(f.map((x) => [x.dataset.key, x.querySelector('b').textContent])));
  result.evaluation_rows = await page.$$eval('#stats-evaluation-table tbody tr', (r) => r.map((x) => [...x.cells].map((c) => c.textContent)));
  // Each row reads across one line: its cells side by side, not folded under each other.
  result.folded_rows = await page.$$eval('#stats-evaluation-table tr', (r) => r.filter((x) => {
    const tops = [...x.cells].map((c) => Math.round(c.getBoundingClientRect().top));
    return Math.max(...tops) - Math.min(...tops) > 2;
  }).length);
  if (result.folded_rows) failures.push(`${result.folded_rows} rows of the ranking are folded over several lines`);
  result.worker_rows = await page.$$eval('#stats-workers-table tbody tr', (r) => r.length);
  result.headers = await page.$$eval('#panel-stats th', (t) => t.map((x) => x.textContent));
  await page.screenshot({ path: shot('console-stats.png') });

  // A longer period is drawn by month.
  await page.fill('#stats-from', plan.long_from);
  await page.click('#stats-apply');
  await page.waitForFunction((q) => document.getElementById('panel-stats').dataset.loaded === q,
    new URLSearchParams({ area: plan.area, from: plan.long_from, to: plan.to }).toString(), { timeout: 30000 });
  await page.waitForTimeout(800);
  result.time_by_month = await readChart(page, 'chart-time');
  result.time_title = await page.textContent('#chart-time-title');
  await page.screenshot({ path: shot('console-stats-months.png') });

  // By sub-area instead of category: the distribution chart follows.
  await page.selectOption('#stats-by', 'area');
  await page.waitForFunction(() => document.getElementById('panel-stats').dataset.loaded, null, { timeout: 30000 });
  await page.waitForFunction(() => document.querySelector('#stats-cases-table th').textContent === '区域', null, { timeout: 30000 });
  await page.waitForTimeout(800);
  result.split_by_area = await readChart(page, 'chart-split');

  // The evaluation's XLSX, downloaded as a person would.
  await page.locator('#stats-evaluation').scrollIntoViewIfNeeded();
  await page.screenshot({ path: shot('console-stats-tables.png'), fullPage: true });
  const [download] = await Promise.all([page.waitForEvent('download', { timeout: 30000 }),
                                        page.click('#stats-evaluation a[data-format="xlsx"]')]);
  result.xlsx = path.join(dir, 'console-stats-evaluation.xlsx');
  await download.saveAs(result.xlsx);
  result.xlsx_name = download.suggestedFilename();
  result.xlsx_href = await page.getAttribute('#stats-evaluation a[data-format="xlsx"]', 'href');

  // The departments' ranking as CSV.
  const [csv] = await Promise.all([page.waitForEvent('download', { timeout: 30000 }),
                                   page.click('[data-table="evaluation-departments"] a[data-format="csv"]')]);
  result.departments_csv = path.join(dir, 'console-stats-departments.csv');
  await csv.saveAs(result.departments_csv);
  result.departments_csv_name = csv.suggestedFilename();

  // A period without cases: the page says so and offers the 30 days up to the latest case.
  if (plan.empty_from) {
    await page.fill('#stats-from', plan.empty_from);
    await page.fill('#stats-to', plan.empty_to);
    await page.click('#stats-apply');
    await page.waitForSelector('#stats-note:not([hidden]) #stats-latest', { timeout: 30000 });
    result.note = await page.textContent('#stats-note');
    await page.screenshot({ path: shot('console-stats-empty.png') });
    await page.click('#stats-latest');
    await page.waitForFunction((from) => {
      const loaded = document.getElementById('panel-stats').dataset.loaded;
      return loaded && new URLSearchParams(loaded).get('from') !== from && document.getElementById('stats-note').hidden;
    }, plan.empty_from, { timeout: 30000 });
    result.latest_query = await page.getAttribute('#panel-stats', 'data-loaded');
  }
} catch (err) {
  failures.push(String(err && err.stack || err));
} finally {
  await browser.close();
}
finish(failures, errors, result);
