// A person signs in to the map page in Debian's Chromium (driven by playwright-core) as they would:
// the page asks for an account, a wrong password is refused with a message, the right one opens
// the map (its tiles authorised by the session cookie alone), the locate box answers, and 退出
// signs out. Screenshots of each screen go to <artefact-dir>.
// usage: node signin_check.mjs <base-url> <login> <password> <name> <artefact-dir>
import { createRequire } from 'node:module';
import path from 'node:path';

const [base, login, password, name, dir] = process.argv.slice(2);
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
  page.on('pageerror', (e) => errors.push(String(e)));
  // 401s are expected here (the page asks who is signed in; the wrong password); others are not.
  page.on('response', (r) => { if (r.status() >= 400 && r.status() !== 401) errors.push(`HTTP ${r.status()} ${r.url()}`); });

  await page.goto(base + '/');
  await page.waitForSelector('#signin-form:not([hidden])', { timeout: 30000 });
  await page.screenshot({ path: path.join(dir, 'signin.png') });

  await page.fill('#signin-login', login);
  await page.fill('#signin-password', 'not-the-password');
  await page.click('#signin-form button[type=submit]');
  await page.waitForFunction(() => document.getElementById('signin-message').textContent.includes('账号或密码错误'), null, { timeout: 15000 })
    .catch(() => failures.push('a wrong password showed no message: ' + 'status line'));
  await page.screenshot({ path: path.join(dir, 'signin-wrong-password.png') });

  await page.fill('#signin-password', password);
  await page.click('#signin-form button[type=submit]');
  await page.waitForSelector('#person:not([hidden])', { timeout: 30000 });
  const shownName = await page.textContent('#person-name');
  if (!shownName.includes(name)) failures.push(`the header shows "${shownName}", not ${name}`);
  const stored = await page.evaluate(() => localStorage.getItem('wangge-token'));
  if (stored) failures.push('a token was kept in localStorage for a signed-in person');
  const cookieVisible = await page.evaluate(() => document.cookie.includes('wangge_session'));
  if (cookieVisible) failures.push('the session cookie is readable from JavaScript (not HttpOnly)');

  // The map draws grids with the cookie alone.
  await page.waitForFunction(() => window.wanggeMap && window.wanggeMap.loaded(), null, { timeout: 60000 });
  await page.evaluate(() => window.wanggeMap.jumpTo({ center: [119.98, 30.515], zoom: 15 }));
  await page.waitForFunction(() => window.wanggeMap.loaded() && window.wanggeMap.areTilesLoaded(), null, { timeout: 60000 });
  await page.waitForTimeout(500);
  const grids = await page.evaluate(() => window.wanggeMap.queryRenderedFeatures({ layers: ['grid-fill'] }).length);
  if (grids === 0) failures.push('no grid features rendered for the signed-in person');

  // The locate box answers with the cookie too.
  await page.fill('#locate-q', '119.98,30.515');
  await page.selectOption('#locate-crs', 'gcj02');
  await page.click('#locate-form button');
  await page.waitForFunction(() => document.getElementById('info').style.display === 'block' &&
                                   document.querySelector('.maplibregl-marker'), null, { timeout: 15000 })
    .catch(() => failures.push('locate showed nothing for the signed-in person'));
  const panel = await page.evaluate(() => document.getElementById('info').innerText);
  if (!/\d{15}/.test(panel)) failures.push('the locate panel shows no grid code: ' + panel);
  await page.screenshot({ path: path.join(dir, 'signed-in-map.png') });

  await page.click('#signout');
  await page.waitForSelector('#signin-form:not([hidden])', { timeout: 30000 });
  const after = await page.evaluate(async () => (await fetch('/v1/session')).status);
  if (after !== 401) failures.push(`after 退出 GET /v1/session answered ${after}, not 401`);
  await page.screenshot({ path: path.join(dir, 'signed-out.png') });
  if (errors.length) failures.push('errors: ' + errors.join(' | '));
} finally {
  await browser.close();
}
if (failures.length) {
  console.error('FAILED: ' + failures.join('; '));
  process.exit(1);
}
console.log('sign-in OK');
