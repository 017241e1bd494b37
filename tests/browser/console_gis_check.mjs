// A GIS user signs in, uploads a file whose grid overlaps its neighbour, reads the check's report
// (the problem in the list and its ground drawn on the map), uploads the corrected file, checks
// and imports it; then exports the village's grids as a GBK shapefile with a CRS and a date, and
// opens the downloaded file with GDAL (ogrinfo), which must read the Chinese names back through
// the .cpg. Prints a JSON summary for the Python side, which checks the results through the API.
// usage: node console_gis_check.mjs <base-url> <plan-json> <artefact-dir>
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { openBrowser, newPage, signIn, idle, finish } from './console_common.mjs';

const [base, planText, dir] = process.argv.slice(2);
const plan = JSON.parse(planText);
const shot = (name) => path.join(dir, name);
const failures = [];
const errors = [];
const result = {};
const browser = await openBrowser();
let page = null;

async function check(file) {
  await page.setInputFiles('#import-file', file);
  await page.selectOption('#import-level', 'grid');
  await page.fill('#import-parent', plan.village);
  await page.selectOption('#import-mode', 'upsert');
  await page.click('#btn-import-check');
  await page.waitForSelector('#import-summary, #import-error', { timeout: 60000 });
  if (await page.$('#import-error')) failures.push('the check failed: ' + await page.textContent('#import-error'));
  await idle(page);
}

try {
  page = await newPage(browser, errors);
  await signIn(page, base, plan.login, plan.password);
  await page.click('#tabs button[data-tab="gis"]');
  await page.waitForSelector('#panel-gis:not([hidden]) #import-file');

  // 1. The file with a problem: the report lists it, the map shows where.
  await check(plan.bad_file);
  result.bad_valid = await page.$eval('#import-summary', (p) => p.dataset.valid);
  // The summary is read by people of the zh-CN console: no English words in it.
  result.bad_summary = await page.textContent('#import-summary');
  if (/[A-Za-z]{4,}/.test(result.bad_summary.replace(/GeoJSON|Shapefile|EPSG|UTF|GBK|CGCS/g, ''))) failures.push('the import summary has English in it: ' + result.bad_summary);
  result.problems = await page.$$eval('#import-problems li', (l) => l.map((x) => ({ problem: x.dataset.problem, feature: x.dataset.feature, located: x.dataset.located === 'true', text: x.textContent })));
  result.commit_enabled_after_bad = await page.$eval('#btn-import-commit', (b) => !b.disabled);
  result.map = await page.evaluate(() => {
    const m = window.wanggeConsole.map;
    return { problem_areas: m.queryRenderedFeatures({ layers: ['gis-problems-fill'] }).length,
             flagged_outlines: m.queryRenderedFeatures({ layers: ['gis-file-line'] }).filter((f) => f.properties.problem).length };
  });
  await page.screenshot({ path: shot('console-gis-import-problem.png') });

  // 2. The corrected file: no problem, then the import itself.
  await check(plan.good_file);
  result.good_valid = await page.$eval('#import-summary', (p) => p.dataset.valid);
  await page.screenshot({ path: shot('console-gis-import-checked.png') });
  await page.click('#btn-import-commit');
  await page.waitForSelector('#import-done, #import-error', { timeout: 60000 });
  if (await page.$('#import-error')) failures.push('the import failed: ' + await page.textContent('#import-error'));
  result.written = await page.$eval('#import-done', (p) => Number(p.dataset.written));
  await idle(page);
  await page.screenshot({ path: shot('console-gis-imported.png') });

  // 3. Export: the village's grids, shapefile in GBK, a projected CRS, the state of today.
  await page.selectOption('#export-layer', 'areas');
  await page.selectOption('#export-level', 'grid');
  await page.fill('#export-area', plan.village);
  await page.selectOption('#export-format', 'shapefile');
  await page.selectOption('#export-crs', plan.crs);
  await page.selectOption('#export-encoding', 'gbk');
  await page.fill('#export-at', plan.today);
  result.export_url = await page.textContent('#export-url');
  result.ogc_url = await page.textContent('#ogc-url');
  result.ogc_howto = await page.textContent('#ogc-howto');
  await page.waitForSelector('#ogc-collections li[data-collection]', { timeout: 15000 });
  result.collections = await page.$$eval('#ogc-collections li[data-collection]', (l) => l.map((x) => x.dataset.collection));
  await page.screenshot({ path: shot('console-gis-export.png') });
  await page.$eval('#ogc-box', (b) => b.scrollIntoView());
  await page.screenshot({ path: shot('console-gis-ogc.png') });
  const [download] = await Promise.all([page.waitForEvent('download', { timeout: 60000 }), page.click('#export-link')]);
  const saved = path.join(dir, 'console-gis-export-gbk.zip');
  await download.saveAs(saved);
  result.download = saved;
  result.suggested = download.suggestedFilename();
  // GDAL reads it as a person's GIS would: the .cpg says GBK, the names come back right.
  const info = execFileSync('ogrinfo', ['-ro', '-al', '-so', '/vsizip/' + saved], { encoding: 'utf8' });
  const rows = execFileSync('ogrinfo', ['-ro', '-al', '-q', '-geom=NO', '/vsizip/' + saved], { encoding: 'utf8' });
  result.ogr_encoding = (info.match(/SOURCE_ENCODING=(\S+)/) || [])[1] || null;
  result.ogr_srs_has_epsg = info.includes(plan.crs.split(':')[1]);
  result.ogr_name_found = rows.includes(plan.name);
  result.ogr_feature_count = Number((info.match(/Feature Count: (\d+)/) || [])[1]);

  // An analyst exports but neither imports nor edits; the page says so naming the role in Chinese.
  if (plan.reader) {
    const reader = await newPage(browser, errors);
    await signIn(reader, base, plan.reader, plan.password);
    await reader.click('#tabs button[data-tab="gis"]');
    result.reader_import = await reader.textContent('#import-denied');
    await reader.click('#tabs button[data-tab="grids"]');
    await reader.evaluate((c) => window.wanggeConsole.grids.select(c), plan.village);
    await reader.waitForSelector('#edit-denied', { timeout: 15000 });
    result.reader_edit = await reader.textContent('#edit-denied');
    for (const t of [result.reader_import, result.reader_edit]) if (/analyst/.test(t) || !t.includes('分析员')) failures.push('the role is not named in Chinese: ' + t);
    await reader.close();
  }
} catch (e) {
  failures.push(String(e.stack || e));
  if (page) await page.screenshot({ path: shot(path.basename(process.argv[1], '.mjs') + '-failure.png') }).catch(() => {});
} finally {
  await browser.close();
}
finish(failures, errors, result);
