// The console: one page for the people who run the grids. It signs a person in (session cookie),
// shows the map, and hands the side panel to one screen per job: grid management (grids.js) and
// case dispatch (cases.js), data exchange (gis.js). Everything it knows comes from the public API (api.js).
// MapLibre is its own script (/vendor/maplibre-gl.js, loaded before this one by index.html).
import { api, answer, setCsrf, ApiError } from './api.js';
import { startGrids, fetchTreeRoots } from './grids.js';
import { startCases } from './cases.js';
import { startStats } from './stats.js';
import { startWorker } from './worker.js';
import { startGis } from './gis.js';
import { toast, bounds } from './ui.js';
import { setBaseLayers } from './overlays.js';

const maplibregl = window.maplibregl;
// The answers to the questions index.html's boot script asked before this code was parsed.
const boot = window.wanggeBoot || {};

// The boot script's answer to GET `path`, or the question asked now when it has none (an older
// page, or its request failed on the way).
async function asked(promise, path) {
  let r = null;
  try { r = await promise; } catch (err) { r = null; }
  return r ? answer(r) : api('GET', path);
}

const roles = { admin: '管理员', manager: '网格管理员', dispatcher: '调度员', analyst: '分析员', worker: '网格员', viewer: '查看' };

async function currentSession() {
  try {
    return (await asked(boot.session, '/v1/session')).data;
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) return null;
    throw err;
  }
}

function askToSignIn() {
  const form = document.getElementById('signin-form');
  const message = document.getElementById('signin-message');
  form.hidden = false;
  document.getElementById('signin-login').focus();
  const problems = { invalid_credentials: '账号或密码错误', account_disabled: '账号已停用，请联系管理员', busy: '系统繁忙，请稍后再试' };
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const body = { login: document.getElementById('signin-login').value.trim(), password: document.getElementById('signin-password').value };
    try {
      await api('POST', '/v1/session', { body });
      location.reload();
    } catch (err) {
      const code = err.code;
      message.textContent = code === 'account_locked' ? '密码错误次数过多，账号已锁定，请稍后再试' : problems[code] || err.message || '登录失败';
      document.getElementById('signin-password').value = '';
    }
  });
}

// The first view: the person's scope area (the boot script's copy of the tree's answer), else the
// extent of the registry's tiles (their TileJSON's bounds), each fitted to the map. Both answers
// are on their way before the map is made, so fitting costs no round trip of its own.
async function firstView(user, style) {
  let box = null;
  if (user.scope) {
    try {
      const area = await boot.scope;
      if (area && area.geometry) box = bounds(area.geometry);
    } catch (err) { box = null; }
  }
  if (!box) {
    const b = Object.values(style.sources).map((s) => s.bounds).find((x) => Array.isArray(x) && x.length === 4);
    if (b) box = [[b[0], b[1]], [b[2], b[3]]];
  }
  if (!box || !box.flat().every(Number.isFinite)) return { center: [119.98, 30.515], zoom: 11 };
  return { bounds: box, fitBoundsOptions: { padding: 24, maxZoom: 16 } };
}

async function makeMap(styleAnswer, user) {
  const origin = location.origin;
  const absolute = (u) => (u.startsWith('/') ? origin + u : u);
  const style = (await styleAnswer).data;
  // A source's TileJSON that the boot script already has goes into the style itself, so the map
  // asks for tiles at once instead of asking for the TileJSON first.
  let tilejson = {};
  try { tilejson = (await boot.tilejson) || {}; } catch (err) { tilejson = {}; }
  for (const [id, s] of Object.entries(style.sources)) {
    if (!s.url) continue;
    const r = tilejson[id];
    const tj = r && r.ok ? await r.json().catch(() => null) : null;
    if (tj && tj.tiles) style.sources[id] = { type: s.type, tiles: tj.tiles, minzoom: tj.minzoom, maxzoom: tj.maxzoom, bounds: tj.bounds, scheme: tj.scheme };
    else s.url = absolute(s.url);
  }
  if (style.glyphs) style.glyphs = absolute(style.glyphs);
  // The first view is the area borders and fills. Labels (each Chinese glyph is drawn by the page
  // itself) and the case clusters follow once it is on screen: in software WebGL a layer type the
  // map has not drawn yet costs its shaders' compilation, and every layer its share of each frame.
  const baseIds = style.layers.map((l) => l.id);
  const later = [];
  style.layers = style.layers.filter((layer) => {
    if (layer.type !== 'symbol' && layer.type !== 'circle') return true;
    later.push(layer);
    return false;
  });
  // A fill's antialiased edge is another shader and another draw per tile; every fill of this
  // style has a border line drawn over its edge.
  for (const layer of style.layers) if (layer.type === 'fill') layer.paint = { 'fill-antialias': false, ...layer.paint };
  const map = new maplibregl.Map({
    container: 'map',
    style,
    ...(await firstView(user, style)),
    localIdeographFontFamily: "'Noto Sans CJK SC', 'Microsoft YaHei', 'PingFang SC', sans-serif",
    // The style is the server's own: validating it again costs the main thread and finds nothing.
    validateStyle: false,
    // Labels appear at once instead of fading in: a fade is more frames to draw, each a tenth of
    // a second or more in software WebGL.
    fadeDuration: 0,
  });
  // The overlays the screens draw into come later, each when first drawn (overlays.js).
  setBaseLayers(map, baseIds);
  map.addControl(new maplibregl.NavigationControl(), 'top-right');
  map.addControl(new maplibregl.ScaleControl({ unit: 'metric' }));
  const loaded = new Promise((resolve) => map.once('load', resolve));
  // Once the first view is complete and on screen (idle, then the next frame), the rest of the
  // style, each layer in its place among the base map's layers, below any overlay.
  map.once('idle', () => requestAnimationFrame(() => requestAnimationFrame(() => {
    for (const layer of later) {
      const order = map.getLayersOrder();
      const after = baseIds.slice(baseIds.indexOf(layer.id) + 1);
      const before = order.find((id) => after.includes(id) || !baseIds.includes(id));
      map.addLayer(layer, before);
    }
  })));
  return { map, loaded };
}

// A changed border shows at once: the tiles are revalidated (their ETags change with the border).
export function refreshTiles(map) {
  const source = map.getSource('wangge');
  if (source && source.url) source.setUrl(source.url);
  else if (source && source.tiles) source.setTiles(source.tiles);
}

(async function main() {
  // The first view waits on a chain (session, style, tiles drawn by the map's worker, the area
  // tree): what does not depend on the step before starts at once. The style needs no session and
  // the map's worker can start while both are on their way; the tree is asked for beside the map.
  const styleAnswer = asked(boot.style, '/style.json');
  styleAnswer.catch(() => {});
  const session = await currentSession();
  if (!session) { askToSignIn(); return; }
  setCsrf(session.csrf_token);
  const user = session.user;
  const roleName = roles[user.role] || user.role;
  // The first account is called 管理员 as its role is: said once, not "管理员 · 管理员".
  document.getElementById('person-name').textContent =
    (user.name === roleName ? roleName : user.name + ' · ' + roleName) + (user.scope ? ' · 辖区 ' + user.scope : '');
  document.getElementById('person').hidden = false;
  document.getElementById('signout').addEventListener('click', async () => {
    try { await api('DELETE', '/v1/session'); } finally { location.reload(); }
  });
  document.getElementById('console').hidden = false;
  const treeRoots = fetchTreeRoots(user, boot.tree);
  treeRoots.catch(() => {});
  const { map, loaded } = await makeMap(styleAnswer, user);
  const ctx = { map, user, maplibregl, treeRoots, refreshTiles: () => refreshTiles(map) };
  window.wanggeConsole = ctx;
  // The screens are built while the map's worker reads the first tiles (they only listen to the
  // map until a person acts); what they show waits for the map's load event.
  const screens = { grids: startGrids(document.getElementById('panel-grids'), ctx),
                    cases: startCases(document.getElementById('panel-cases'), ctx),
                    stats: startStats(document.getElementById('panel-stats'), ctx),
                    worker: startWorker(document.getElementById('panel-worker'), ctx),
                    gis: startGis(document.getElementById('panel-gis'), ctx) };
  await loaded;
  const tabs = document.getElementById('tabs');
  // A grid worker's phone shows the worker's own screen only: the others are a desk's screens, and
  // five tabs do not fit across a phone.
  const mayShow = (name) => user.role !== 'worker' || name === 'worker';
  for (const b of tabs.querySelectorAll('button')) b.hidden = !mayShow(b.dataset.tab);
  tabs.hidden = false;
  const show = (name) => {
    for (const b of tabs.querySelectorAll('button')) b.setAttribute('aria-pressed', String(b.dataset.tab === name));
    for (const p of document.querySelectorAll('[data-panel]')) p.hidden = p.dataset.panel !== name;
    for (const [key, screen] of Object.entries(screens)) (key === name ? screen.show : screen.hide)();
    history.replaceState(null, '', '#' + name);
  };
  tabs.addEventListener('click', (e) => { if (e.target.dataset.tab) show(e.target.dataset.tab); });
  const initial = location.hash.slice(1);
  show(screens[initial] && mayShow(initial) ? initial : user.role === 'dispatcher' ? 'cases' : user.role === 'worker' ? 'worker' : user.role === 'analyst' ? 'stats' : 'grids');
  ctx.show = show;
  ctx.grids = screens.grids;
  ctx.cases = screens.cases;
  map.on('error', (e) => { if (e.error && e.error.status === 401) toast('登录已过期，请重新登录'); });
  document.body.dataset.ready = 'true';
})().catch((err) => { toast('加载失败: ' + err.message); console.error(err); });

