// Opens the map page in Debian's Chromium (driven by playwright-core), waits for the map to load,
// and checks what a user would see: no console errors, grid features rendered, labels drawn.
// usage: node map_check.mjs <base-url> <token> <screenshot.png>
import { createRequire } from 'node:module';
import path from 'node:path';

const [base, token, shot] = process.argv.slice(2);
const require = createRequire(path.join(process.env.WANGGE_NPM_DIR || '.', 'package.json'));
const { chromium } = require('playwright-core');

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
         '--disable-component-update', '--disable-sync', '--use-gl=swiftshader', '--enable-unsafe-swiftshader'],
});
const failures = [];
try {
  const page = await browser.newPage({ viewport: { width: 1200, height: 800 } });
  const errors = [];
  page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text() + ' @ ' + (m.location().url || '')); });
  page.on('pageerror', (e) => errors.push(String(e)));
  page.on('response', (r) => { if (r.status() >= 400) errors.push(`HTTP ${r.status()} ${r.url()}`); });
  // Grid level, over the sample county.
  await page.goto(`${base}/#token=${encodeURIComponent(token)}`);
  await page.waitForFunction(() => window.wanggeMap && window.wanggeMap.loaded(), null, { timeout: 60000 });
  await page.evaluate(() => window.wanggeMap.jumpTo({ center: [119.98, 30.515], zoom: 15 }));
  await page.waitForFunction(() => window.wanggeMap.loaded() && window.wanggeMap.areTilesLoaded(), null, { timeout: 60000 });
  await page.waitForTimeout(500);
  const result = await page.evaluate(() => {
    const m = window.wanggeMap;
    const grids = m.queryRenderedFeatures({ layers: ['grid-fill'] });
    const labels = m.queryRenderedFeatures({ layers: ['labels-grid', 'labels-village'] });
    return { grids: grids.length, codes: [...new Set(grids.map((f) => f.properties.code))].length, labels: labels.length,
             sample: grids[0] && grids[0].properties };
  });
  // A dispatcher's lookup: GCJ-02 coordinates typed into the locate form must show the grid,
  // hierarchy and workers that GET /v1/locate gives for them, with a marker on the map.
  const expected = await page.evaluate(async (tok) => {
    const r = await fetch('/v1/locate?lon=119.98&lat=30.515&crs=gcj02', { headers: { Authorization: 'Bearer ' + tok } });
    return r.json();
  }, token);
  await page.fill('#locate-q', '119.98，30.515');
  await page.selectOption('#locate-crs', 'gcj02');
  await page.click('#locate-form button');
  await page.waitForFunction(() => document.getElementById('info').style.display === 'block' &&
                                   document.querySelector('.maplibregl-marker'), null, { timeout: 15000 });
  const shown = await page.evaluate(() => document.getElementById('info').innerText);
  if (!expected.grid) failures.push('the locate test point is in no grid: ' + JSON.stringify(expected));
  else {
    for (const want of [expected.grid.name, expected.grid.code, ...expected.hierarchy.map((h) => h.name),
                        ...expected.workers.map((w) => w.name)])
      if (!shown.includes(want)) failures.push(`locate panel lacks "${want}": ${shown}`);
  }
  await page.waitForFunction(() => window.wanggeMap.loaded() && window.wanggeMap.areTilesLoaded(), null, { timeout: 60000 });
  await page.screenshot({ path: shot });  // the grids, and the locate panel over them
  await page.fill('#locate-q', 'not a coordinate');
  await page.click('#locate-form button');
  const said = await page.evaluate(() => document.getElementById('info').innerText);
  if (!said.includes('经度,纬度')) failures.push('a bad coordinate got no hint: ' + said);
  // Outside mainland China GCJ-02 is WGS84; a point far from the sample is "outside", a normal answer.
  await page.fill('#locate-q', '2.35, 48.85');
  await page.click('#locate-form button');
  await page.waitForFunction(() => document.getElementById('info').innerText.includes('辖区外'), null, { timeout: 15000 })
    .catch(() => failures.push('an outside point did not show 辖区外'));
  if (result.grids === 0) failures.push('no grid features rendered');
  if (result.labels === 0) failures.push('no labels rendered');
  if (!result.sample || !/^\d{15}$/.test(result.sample.code)) failures.push('grid feature without a 15-digit code');
  if (errors.length) failures.push('console errors: ' + errors.join(' | '));
  console.log(JSON.stringify({ ...result, errors }));
} finally {
  await browser.close();
}
if (failures.length) {
  console.error('FAILED: ' + failures.join('; '));
  process.exit(1);
}
console.log('map page OK');
