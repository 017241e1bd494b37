// Shared by the console's browser checks: Debian's Chromium through playwright-core, a page that
// records errors, signing in through the form, waiting for the map, and failures collected so one
// run reports every broken step.
import { createRequire } from 'node:module';
import path from 'node:path';

const require = createRequire(path.join(process.env.WANGGE_NPM_DIR || '.', 'package.json'));
const { chromium } = require('playwright-core');

export async function openBrowser() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
           '--disable-component-update', '--disable-sync', '--use-gl=swiftshader', '--enable-unsafe-swiftshader'],
  });
}

// expected: HTTP statuses a journey provokes on purpose (e.g. 401 before signing in, 412, 403).
export async function newPage(browser, errors, expected = [401], viewport = { width: 1400, height: 900 }) {
  const page = await browser.newPage({ viewport });
  page.on('pageerror', (e) => errors.push(String(e)));
  page.on('console', (m) => { if (m.type() === 'error' && !/Failed to load resource/.test(m.text())) errors.push('console: ' + m.text()); });
  page.on('response', (r) => { if (r.status() >= 400 && !expected.includes(r.status())) errors.push(`HTTP ${r.status()} ${r.url()}`); });
  return page;
}

export async function signIn(page, base, login, password, shot) {
  await page.goto(base + '/console');
  await page.waitForSelector('#signin-form:not([hidden])', { timeout: 30000 });
  if (shot) await page.screenshot({ path: shot });
  await page.fill('#signin-login', login);
  await page.fill('#signin-password', password);
  await page.click('#signin-form button[type=submit]');
  await page.waitForSelector('body[data-ready="true"]', { timeout: 60000 });
  await idle(page);
}

export async function idle(page) {
  await page.waitForFunction(() => {
    const m = window.wanggeConsole && window.wanggeConsole.map;
    return m && m.loaded() && m.areTilesLoaded();
  }, null, { timeout: 60000 });
  await page.waitForTimeout(300);
}

// The code of the grid the map draws at a point (from the vector tiles, as a person sees it).
export async function gridAt(page, lonlat) {
  return page.evaluate((ll) => {
    const m = window.wanggeConsole.map;
    const p = m.project(ll);
    const hit = m.queryRenderedFeatures([p.x, p.y], { layers: ['grid-fill'] })[0];
    return hit ? hit.properties.code : null;
  }, lonlat);
}

export async function pixel(page, lonlat) {
  return page.evaluate((ll) => {
    const p = window.wanggeConsole.map.project(ll);
    const r = window.wanggeConsole.map.getCanvas().getBoundingClientRect();
    return { x: r.left + p.x, y: r.top + p.y };
  }, lonlat);
}

export async function drag(page, from, to) {
  await page.mouse.move(from.x, from.y);
  await page.waitForTimeout(100);
  await page.mouse.down();
  // The first movement starts terra-draw's drag, which then stops the map from panning; a
  // one-pixel first step keeps that pan to a pixel.
  await page.mouse.move(from.x + Math.sign(to.x - from.x), from.y);
  await page.waitForTimeout(50);
  const steps = 40;
  for (let i = 1; i <= steps; i++) {
    await page.mouse.move(from.x + ((to.x - from.x) * i) / steps, from.y + ((to.y - from.y) * i) / steps);
    await page.waitForTimeout(15);
  }
  // A hand settles before letting go (the vertex trails the pointer by about one move event, so
  // moves are small, as a person's are).
  await page.mouse.move(to.x + 0.3, to.y);
  await page.waitForTimeout(30);
  await page.mouse.move(to.x, to.y);
  await page.waitForTimeout(30);
  await page.mouse.up();
  await page.waitForTimeout(200);
}

export function finish(failures, errors, result) {
  if (errors.length) failures.push('errors: ' + errors.join(' | '));
  if (failures.length) {
    console.error('FAILED: ' + failures.join('; '));
    process.exit(1);
  }
  console.log(JSON.stringify(result));
}
