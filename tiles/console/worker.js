// 网格员 (the grid worker's phone view): today's due checkpoints of the worker's grids, the tour
// through them computed on the streets from where the worker stands (order and arrival times, drawn
// on the map), recording a visit, and reporting a case at the worker's position.
// A grid worker's account is linked to its worker record (`wangge user link`): the view opens on
// that worker's grids. An account without the link (a manager trying the view, an account not yet
// linked) is asked once which worker it is, from the workers of the grids in the person's scope,
// and the choice is remembered on this device.
// Positions come from the browser's geolocation, which is WGS84: they are sent with crs EPSG:4326
// and the server converts them.
import { api, describe } from './api.js';
import { el, toast, bounds } from './ui.js';
import { setOverlay, clearOverlay } from './overlays.js';

const STORE_KEY = 'wangge.worker';
const frequencyNames = { daily: '每日', weekly: '每周', monthly: '每月', every_n_days: '每N天' };
const clock = (ms) => new Date(ms).toLocaleTimeString('zh-CN', { timeZone: 'Asia/Shanghai', hour: '2-digit', minute: '2-digit', hour12: false });

export function startWorker(root, ctx) {
  const { map, user, maplibregl } = ctx;
  let worker = null;        // {id, name, grids}
  let due = [];             // due checkpoints of the worker's grids, today
  let markers = [];
  let started = null;

  // --- layout -----------------------------------------------------------------------------------
  const pick = el('select', { id: 'worker-pick', 'aria-label': '选择网格员' });
  const gridInput = el('input', { id: 'worker-grid', placeholder: '网格代码', 'aria-label': '网格代码', size: 16 });
  // Without a village or grid scope, the worker is found through a grid's code.
  const byGrid = el('span', { class: 'row' }, gridInput,
    el('button', { type: 'button', text: '查找', onclick: () => listWorkers([gridInput.value.trim()]).catch(report) }));
  const who = el('div', { id: 'worker-who', class: 'muted' });
  const dueList = el('ul', { id: 'due-list', class: 'list due' });
  const dueHead = el('h3', { id: 'due-head', text: '今日待巡查' });
  const stops = el('ol', { id: 'tour-stops', class: 'timeline' });
  const tourInfo = el('div', { id: 'tour-info', class: 'muted' });
  const category = el('select', { id: 'report-category', 'aria-label': '事件类别' });
  const description = el('input', { id: 'report-description', placeholder: '看到了什么', 'aria-label': '事件描述' });
  const reportResult = el('div', { id: 'report-result' });
  root.append(
    el('h2', { text: '网格员' }),
    el('div', { id: 'worker-choose', class: 'row' }, el('label', {}, '我是 ', pick), byGrid),
    el('p', { id: 'worker-hint', class: 'hint', text: '账号尚未关联网格员档案：请在上方选择您本人，本机会记住。' }),
    who,
    dueHead, dueList,
    el('div', { class: 'row' }, el('button', { id: 'tour-plan', type: 'button', class: 'primary', text: '规划巡查路线', onclick: () => planTour().catch(report) })),
    tourInfo, stops,
    el('details', { id: 'report', class: 'box', open: true }, el('summary', { text: '上报事件' }),
      el('div', { class: 'row' }, category), el('div', { class: 'row' }, description),
      el('div', { class: 'row' }, el('button', { id: 'report-submit', type: 'button', class: 'primary', text: '在我的位置上报', onclick: () => reportCase().catch(report) })),
      reportResult));
  pick.addEventListener('change', () => choose(Number(pick.value)).catch(report));

  function report(err) { toast(describe(err)); }

  // --- where am I -------------------------------------------------------------------------------
  function position() {
    return new Promise((resolve, reject) => {
      if (!navigator.geolocation) { reject(new Error('此浏览器不能定位')); return; }
      navigator.geolocation.getCurrentPosition((p) => resolve([p.coords.longitude, p.coords.latitude]),
        (e) => reject(new Error(e.code === 1 ? '未允许定位，请在浏览器中允许本站使用位置' : '定位失败: ' + e.message)),
        { enableHighAccuracy: true, timeout: 15000, maximumAge: 30000 });
    });
  }

  // The worker's own dot on the map, and the position sent to the server (patrol distance, the
  // dispatcher's nearest workers).
  async function locate() {
    const here = await position();
    setOverlay(map, 'worker-me', { type: 'FeatureCollection', features: [{ type: 'Feature', properties: {}, geometry: { type: 'Point', coordinates: here } }] });
    if (worker) {
      api('POST', `/v1/workers/${worker.id}/position`, { body: { location: { type: 'Point', coordinates: here }, crs: 'EPSG:4326' } })
        .catch((err) => toast('位置上传失败: ' + describe(err)));
    }
    return here;
  }

  // --- which worker -----------------------------------------------------------------------------
  // The grids of the person's scope: the scope itself when it is a grid, its grids when a village.
  async function scopeGrids() {
    if (!user.scope) return [];
    const area = (await api('GET', '/v1/areas/' + encodeURIComponent(user.scope))).data.properties;
    if (area.level === 'grid') return [area.code];
    if (area.level !== 'village') return [];
    return (await api('GET', `/v1/areas/${encodeURIComponent(area.code)}/children`)).data.features
      .filter((f) => f.properties.level === 'grid').map((f) => f.properties.code);
  }

  async function listWorkers(grids) {
    const seen = new Map();
    for (const g of grids.filter(Boolean)) {
      for (const w of (await api('GET', `/v1/areas/${encodeURIComponent(g)}/workers`)).data.workers) seen.set(w.id, w);
    }
    pick.replaceChildren(el('option', { value: '', text: seen.size ? '— 选择本人 —' : '未找到网格员' }),
      ...[...seen.values()].map((w) => el('option', { value: String(w.id), text: w.name })));
    const remembered = Number(localStorage.getItem(STORE_KEY));
    if (remembered && seen.has(remembered)) { pick.value = String(remembered); await choose(remembered); }
  }

  async function choose(id) {
    if (!id) return;
    const w = (await api('GET', '/v1/workers/' + id)).data;
    worker = { id: w.id, name: w.name, grids: (w.grids || []).map((g) => (typeof g === 'string' ? g : g.code)) };
    if (!user.worker) localStorage.setItem(STORE_KEY, String(id));
    who.textContent = `${w.name} · 负责网格 ${worker.grids.join('、') || '无'}`;
    clearTour();
    await loadDue();
    // The grids by the names the worker knows them by (their codes until these are read).
    const names = await fitGrids();
    who.textContent = `${w.name} · 负责网格 ${names.join('、') || '无'}`;
    root.dataset.worker = String(id);
  }

  async function fitGrids() {
    const boxes = [];
    const features = [];
    for (const g of worker.grids) {
      const f = (await api('GET', '/v1/areas/' + encodeURIComponent(g))).data;
      features.push(f);
      boxes.push(bounds(f.geometry));
    }
    setOverlay(map, 'selection', { type: 'FeatureCollection', features });
    if (boxes.length) {
      const b = boxes.reduce((a, x) => [[Math.min(a[0][0], x[0][0]), Math.min(a[0][1], x[0][1])], [Math.max(a[1][0], x[1][0]), Math.max(a[1][1], x[1][1])]]);
      map.fitBounds(b, { padding: 30, duration: 0 });
    }
    return features.map((f) => `${f.properties.name} (${f.properties.code})`);
  }

  // --- today's due checkpoints ------------------------------------------------------------------
  async function loadDue() {
    due = [];
    for (const g of worker.grids) {
      const doc = (await api('GET', '/v1/patrol/due?grid=' + encodeURIComponent(g))).data;
      due.push(...doc.checkpoints.map((c) => Object.assign({ grid: g }, c)));
    }
    const open = due.filter((c) => !c.done);
    dueHead.textContent = `今日待巡查 ${open.length} 处` + (due.length > open.length ? `，已巡查 ${due.length - open.length} 处` : '');
    dueList.replaceChildren(...due.map((c) => el('li', { 'data-id': String(c.id), class: c.done ? 'done' : '' },
      el('b', { text: c.name }), ' ', el('span', { class: 'muted', text: `${frequencyNames[c.frequency] || c.frequency} · ${c.due_reason === 'never_visited' ? '从未巡查' : '本期未巡查'}` }),
      c.done ? el('span', { class: 'tag', text: '已打卡' })
        : el('button', { type: 'button', class: 'small visit', 'data-id': String(c.id), text: '打卡', onclick: () => visit(c).catch(report) }))));
    if (!due.length) dueList.append(el('li', { class: 'muted', text: '今天没有待巡查的点位' }));
  }

  async function visit(c) {
    await api('POST', `/v1/checkpoints/${c.id}/visits`, { body: { worker: worker.id, note: '网格员手机打卡' } });
    toast(`已打卡：${c.name}`);
    await loadDue();
  }

  // --- the tour ---------------------------------------------------------------------------------
  function clearTour() {
    for (const m of markers) m.remove();
    markers = [];
    stops.replaceChildren();
    tourInfo.textContent = '';
    clearOverlay(map, 'routes');
  }

  // The server treats WGS84 and CGCS2000 coordinates as the same numbers (they agree within
  // centimetres, far below a GPS fix), so the checkpoints' coordinates go as they are beside the
  // phone's start, the request labelled with the phone's CRS.
  async function planTour() {
    if (!worker) { toast('请先选择网格员'); return; }
    const open = due.filter((c) => !c.done);
    if (!open.length) { toast('今天没有待巡查的点位'); return; }
    const here = await locate();
    const body = {
      crs: 'EPSG:4326', profile: 'foot', start: { type: 'Point', coordinates: here },
      checkpoints: open.map((c) => ({ id: c.id, location: c.location, service_minutes: 5 })),
    };
    started = Date.now();
    const plan = (await api('POST', '/v1/patrol/tour', { body })).data;
    clearTour();
    setOverlay(map, 'routes', { type: 'FeatureCollection', features: [{ type: 'Feature', properties: {}, geometry: plan.geometry }] });
    const byId = new Map(open.map((c) => [c.id, c]));
    stops.replaceChildren(...plan.stops.map((s) => el('li', { 'data-id': String(s.id), 'data-arrival': String(s.arrival) },
      `${byId.get(s.id) ? byId.get(s.id).name : s.id} · 预计 ${clock(started + s.arrival * 1000)} 到达`)));
    for (const s of plan.stops) {
      const node = el('div', { class: 'stop-marker', 'data-sequence': String(s.sequence), text: String(s.sequence) });
      markers.push(new maplibregl.Marker({ element: node }).setLngLat(s.location).addTo(map));
    }
    const skipped = plan.unvisited.length ? `，${plan.unvisited.length} 处无法到达` : '';
    tourInfo.textContent = `步行 ${(plan.distance / 1000).toFixed(2)} 公里，约 ${Math.round(plan.duration / 60)} 分钟（含每处 5 分钟巡查）${skipped}；` +
      `${clock(started)} 出发，${clock(started + plan.duration * 1000)} 回到起点`;
    const line = plan.geometry.coordinates.concat([here]);
    map.fitBounds(bounds({ type: 'LineString', coordinates: line }), { padding: 40, duration: 0 });
    root.dataset.tour = String(plan.stops.length);
    tourInfo.scrollIntoView({ block: 'nearest' });
  }

  // --- report a case where I stand --------------------------------------------------------------
  async function reportCase() {
    if (!worker) { toast('请先选择网格员'); return; }
    if (!category.value) { toast('请选择事件类别'); return; }
    const here = await locate();
    const made = (await api('POST', '/v1/incidents', { body: {
      location: { type: 'Point', coordinates: here }, crs: 'EPSG:4326', category: category.value, source: 'worker',
      reporter: 'worker:' + worker.id, description: description.value.trim() } })).data;
    const grid = made.hierarchy && made.hierarchy.length ? made.hierarchy[made.hierarchy.length - 1] : null;
    reportResult.replaceChildren(el('p', { id: 'report-done', class: 'hint', 'data-id': String(made.id),
      text: `已上报事件 #${made.id}（${made.category}），位于 ${grid ? grid.name : '辖区外'}${made.grid ? ' · ' + made.grid : ''}` }));
    description.value = '';
    setOverlay(map, 'cases', { type: 'FeatureCollection', features: [
      { type: 'Feature', properties: { id: made.id, overdue: false }, geometry: made.location }] });
    reportResult.scrollIntoView({ block: 'nearest' });
  }

  async function setUp() {
    const lifecycle = (await api('GET', '/v1/incidents/lifecycle')).data;
    category.replaceChildren(el('option', { value: '', text: '— 事件类别 —' }),
      ...Object.keys(lifecycle.categories.categories || {}).map((n) => el('option', { value: n, text: n })));
    if (user.worker) {
      // The account stands for this worker: nothing to choose.
      document.getElementById('worker-choose').hidden = true;
      document.getElementById('worker-hint').hidden = true;
      await choose(user.worker.id);
      return;
    }
    const grids = await scopeGrids();
    byGrid.hidden = grids.length > 0;
    await listWorkers(grids);
  }
  let ready = null;

  return {
    async show() {
      if (!ready) ready = setUp().catch(report);
      await ready;
      if (worker) await loadDue().catch(report);
      root.dataset.ready = 'true';
    },
    // The routes layer is shared with the case screen: cleared only when this view drew on it.
    hide() {
      if (markers.length) clearTour();
    },
  };
}
