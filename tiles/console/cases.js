// 事件分拨: the case board (filters, counts, sorted by deadline, following changes by polling),
// intake (a coordinate in any supported CRS, or a click on the map), and the case detail (timeline,
// the actions its state allows, dispatch to a department or to the nearest workers with their
// routes, verification by another worker of the grid, urgings). The lifecycle comes from the server
// (GET /v1/incidents/lifecycle): buttons, and the pickers an action needs (its `inputs`), are built
// from it, so a new action or state appears here without a change to this file.
import { api, describe } from './api.js';
import { el, toast, formatTime } from './ui.js';
import { setOverlay, clearOverlay, overlayFeatures } from './overlays.js';

const POLL_MS = 5000;
// The board shows the most urgent cases first: the server sorts by deadline and counts every
// match, so a filter change moves one page of rows, however many cases are open.
const BOARD_ROWS = 300;
// The rows a filter change draws at once: the board's box shows about 13, and a screenful more is
// there before the first scroll; the rest of the page follows in the next frame.
const BOARD_FIRST_ROWS = 40;
const BOARD_FIELDS = 'location,category,status,overdue,grid,grid_name,assignee,assignee_name,suggested_assignee,suggested_assignee_name,deadline';
// Names for the states and actions this version of the lifecycle has; any other shows its own name.
const stateNames = { collect: '待受理', register: '已立案', dispatch: '已派遣', handle: '处置中', feedback: '已反馈', verified: '已核查',
                     closed: '已结案', cancelled: '已作废', hold: '挂账' };
const actionNames = { register: '立案', cancel: '作废', dispatch: '派遣', redispatch: '改派', handle: '开始处置', feedback: '反馈结果',
                      verify: '核查通过', rework: '返工', close: '结案', return: '退回', hold: '挂账', resume: '恢复', extend: '延期', urge: '督办' };
const sourceNames = { hotline: '热线', app: 'APP', worker: '网格员上报', video: '视频' };
const crsChoices = [['gcj02', 'GCJ-02 (高德/腾讯)'], ['bd09', 'BD-09 (百度)'], ['EPSG:4326', 'WGS84 (GPS)'], ['EPSG:4490', 'CGCS2000']];
const ENDED = new Set(['closed', 'cancelled']);

export function startCases(root, ctx) {
  const { map } = ctx;
  let lifecycle = { states: [], actions: [], categories: { categories: {} } };
  let cases = [];
  let boardTag = null;
  let afterPaint = 0;  // the frame request that adds the board's further rows and redraws the map's cases, if any
  let pendingCases = null;  // the case layer's update waiting for the view to move, if any
  let drawnInView = false;  // whether the case layer as drawn has a dot in the map's view
  let timer = 0, visible = false, picking = false;
  let current = null;  // {data, etag}
  // Names of assignees ("department:3" → 城管执法中队), from the departments list and every worker
  // list the page has read: the board's rows carry only the reference.
  const assigneeNames = new Map();

  // --- layout -----------------------------------------------------------------------------------
  const fStatus = el('select', { id: 'filter-status', 'aria-label': '状态' }, el('option', { value: '', text: '全部未结' }));
  const fCategory = el('select', { id: 'filter-category', 'aria-label': '类别' }, el('option', { value: '', text: '全部类别' }));
  const fSource = el('select', { id: 'filter-source', 'aria-label': '来源' }, el('option', { value: '', text: '全部来源' }),
    ...Object.entries(sourceNames).map(([v, t]) => el('option', { value: v, text: t })));
  const fArea = el('input', { id: 'filter-area', placeholder: '区域代码 (乡镇/网格)', 'aria-label': '区域代码', size: 14 });
  const fOverdue = el('input', { id: 'filter-overdue', type: 'checkbox' });
  const counts = el('div', { id: 'case-counts', class: 'counts' });
  const board = el('table', { id: 'case-board', class: 'board' });
  // One listener for every row (a board has hundreds of them, redrawn at each filter change).
  const rowOf = (e) => e.target.closest && e.target.closest('tr[data-id]');
  board.addEventListener('click', (e) => { const row = rowOf(e); if (row) open(Number(row.dataset.id)); });
  board.addEventListener('keydown', (e) => { const row = rowOf(e); if (row && e.key === 'Enter') open(Number(row.dataset.id)); });
  const detail = el('div', { id: 'case-detail' });
  for (const f of [fStatus, fCategory, fSource, fOverdue]) f.addEventListener('change', () => refresh(true));
  fArea.addEventListener('change', () => refresh(true));

  const coord = el('input', { id: 'intake-coord', placeholder: '经度,纬度 (可直接粘贴)', 'aria-label': '坐标' });
  const crs = el('select', { id: 'intake-crs', 'aria-label': '坐标系' }, ...crsChoices.map(([v, t]) => el('option', { value: v, text: t })));
  const category = el('select', { id: 'intake-category', 'aria-label': '事件类别' });
  const source = el('select', { id: 'intake-source', 'aria-label': '来源' }, ...Object.entries(sourceNames).map(([v, t]) => el('option', { value: v, text: t })));
  const description = el('input', { id: 'intake-description', placeholder: '事件描述', 'aria-label': '事件描述' });
  const intakeResult = el('div', { id: 'intake-result' });
  const pick = el('button', { id: 'intake-pick', type: 'button', text: '地图点选', onclick: () => {
    picking = true; map.getCanvas().style.cursor = 'crosshair'; toast('请在地图上单击事件位置'); } });
  root.append(
    el('h2', { text: '事件分拨' }),
    el('details', { id: 'intake', class: 'box' }, el('summary', { text: '新建事件' }),
      el('div', { class: 'row' }, coord, crs, pick),
      el('div', { class: 'row' }, category, source),
      el('div', { class: 'row' }, description),
      el('div', { class: 'row' }, el('button', { id: 'intake-submit', type: 'button', class: 'primary', text: '新建事件', onclick: intake })),
      intakeResult),
    counts,
    el('div', { class: 'row' }, fStatus, fCategory, fSource),
    el('div', { class: 'row' }, fArea, el('label', {}, fOverdue, ' 只看超期')),
    el('div', { class: 'board-box' }, board),
    detail);

  // --- board ------------------------------------------------------------------------------------
  function query() {
    // Only what the rows and the map's dots show (the detail reads the whole case when opened).
    const q = new URLSearchParams({ limit: String(BOARD_ROWS), sort: 'deadline', fields: BOARD_FIELDS });
    if (fStatus.value) q.set('status', fStatus.value);
    else q.set('open', 'true');
    if (fCategory.value) q.set('category', fCategory.value);
    if (fSource.value) q.set('source', fSource.value);
    if (fArea.value.trim()) q.set('area', fArea.value.trim());
    if (fOverdue.checked) q.set('overdue', 'true');
    return '/v1/incidents?' + q;
  }

  async function refresh(reset = false) {
    const path = query();
    if (reset) boardTag = null;
    try {
      // An unchanged board answers 304 (its ETag is of the whole answer).
      const r = await api('GET', path, { ifNoneMatch: boardTag || undefined });
      if (r.status === 304) return;
      boardTag = r.etag;
      cases = r.data.incidents;
      render(r.data.numberMatched, r.data.counts);
    } catch (err) { counts.replaceChildren(el('span', { class: 'error', text: describe(err) })); }
  }

  function render(matched, tally) {
    // The server filtered (open cases unless a state is chosen) and sorted by deadline; the
    // counts are of every match, not only of the rows shown.
    const shown = cases;
    // Whether the new page has a dot in the map's view, asked before the board changes: the
    // canvas's size read after the rows are replaced would lay the whole page out at once, and
    // again in the frame that draws it.
    const features = shown.filter((c) => c.location).map((c) => ({
      type: 'Feature', geometry: c.location, properties: { id: c.id, overdue: !!c.overdue } }));
    const inView = features.some(onCanvas);
    counts.replaceChildren(el('strong', { id: 'case-total', text: `${matched} 件` }),
      ...Object.entries(tally.status).map(([s, n]) => el('span', { class: 'count', dataset: { status: s }, text: `${stateNames[s] || s} ${n}` })),
      el('span', { class: 'count overdue', id: 'case-overdue', text: `超期 ${tally.overdue}` }),
      matched > cases.length ? el('span', { class: 'muted', text: `(按期限列出前 ${cases.length} 件)` }) : '');
    // The rows are copies of one row (a filter change redraws hundreds of them at once).
    const head = el('tr', {}, ...['编号', '类别', '状态', '网格', '承办', '期限'].map((t) => el('th', { text: t })));
    const proto = el('tr', { tabindex: 0 }, el('td'), el('td'), el('td'), el('td'), el('td', { class: 'assignee' }), el('td'));
    // The server names each case's assignee and first suggestion beside their references.
    for (const c of shown) {
      if (c.assignee && c.assignee_name) assigneeNames.set(c.assignee, c.assignee_name);
      if (c.suggested_assignee && c.suggested_assignee_name) assigneeNames.set(c.suggested_assignee, c.suggested_assignee_name);
    }
    const rows = shown.map((c) => {
      const tr = proto.cloneNode(true);
      tr.dataset.id = String(c.id);
      tr.dataset.status = c.status;
      if (c.overdue) tr.className = 'overdue';
      const td = tr.children;
      td[0].textContent = '#' + c.id;
      td[1].textContent = c.category;
      td[2].textContent = stateNames[c.status] || c.status;
      td[3].textContent = lastName(c);
      td[4].textContent = c.assignee ? nameOf(c.assignee, true) : c.suggested_assignee ? '建议: ' + nameOf(c.suggested_assignee, true) : '—';
      td[5].textContent = c.deadline ? formatTime(c.deadline).slice(5, 16) + (c.overdue ? ' 超期' : '') : '—';
      return tr;
    });
    // The rows the board's box shows come first, the rest once they are on screen: laying out
    // and painting all of a page's rows makes the frame that shows the first ones several times
    // longer (a new row is laid out in full once, content-visibility or not), and the rest lie
    // below the box's fold until the dispatcher scrolls.
    board.replaceChildren(head, ...rows.slice(0, BOARD_FIRST_ROWS));
    // The map's case layer follows once the list is on screen too: the list is what a dispatcher
    // reads first, and a map frame in software WebGL costs a tenth of a second or more. When no
    // case of the old page nor of the new one is in the map's view, nothing the map shows
    // changes: the layer is updated when the view next moves, not redrawn now.
    cancelAnimationFrame(afterPaint);
    if (pendingCases) map.off('movestart', pendingCases);
    pendingCases = null;
    const redraw = inView || drawnInView;
    if (!redraw) {
      pendingCases = () => { pendingCases = null; drawCases(features); };
      map.once('movestart', pendingCases);
    }
    if (rows.length <= BOARD_FIRST_ROWS && !redraw) return;
    afterPaint = requestAnimationFrame(() => {
      afterPaint = requestAnimationFrame(() => {
        afterPaint = 0;
        board.append(...rows.slice(BOARD_FIRST_ROWS));
        if (redraw) drawCases(features);
      });
    });
  }

  function drawCases(features) {
    setOverlay(map, 'cases', { type: 'FeatureCollection', features });
    drawnInView = features.some(onCanvas);
  }

  // Whether a case's dot would be on the map's canvas (its radius and stroke included).
  function onCanvas(f) {
    const p = map.project(f.geometry.coordinates);
    const c = map.getCanvas();
    const w = c.clientWidth, h = c.clientHeight;
    return p.x >= -12 && p.y >= -12 && p.x <= w + 12 && p.y <= h + 12;
  }

  function nameOf(ref, short = false) {
    if (!ref) return '—';
    const name = assigneeNames.get(ref);
    if (short) return name || ref;
    const kind = ref.startsWith('department:') ? '部门' : ref.startsWith('worker:') ? '网格员' : '';
    return name ? `${name} (${kind})` : ref;
  }

  function lastName(c) {
    if (c.grid_name) return c.grid_name;
    const h = c.hierarchy || [];
    const last = h[h.length - 1];
    return last ? last.name || last.code : c.grid || '—';
  }

  // --- intake -----------------------------------------------------------------------------------
  async function intake() {
    const parts = coord.value.trim().split(/[\s,，]+/).filter(Boolean).map(Number);
    if (parts.length !== 2 || !parts.every(Number.isFinite)) { intakeResult.replaceChildren(el('p', { class: 'error', text: '请输入 经度,纬度，例如 119.98,30.515' })); return; }
    const body = { location: { type: 'Point', coordinates: parts }, crs: crs.value, category: category.value, source: source.value,
                   description: description.value.trim() };
    try {
      const { data } = await api('POST', '/v1/incidents', { body });
      const names = (data.hierarchy || []).map((h) => h.name).join(' › ');
      intakeResult.replaceChildren(el('p', { id: 'intake-done', class: 'hint',
        text: `已新建事件 #${data.id}: ${names || '辖区外'}${data.grid ? ' (' + data.grid + ')' : ''}` }));
      coord.value = ''; description.value = '';
      await refresh(true);
      await open(data.id);
    } catch (err) { intakeResult.replaceChildren(el('p', { class: 'error', text: describe(err) })); }
  }

  map.on('click', (e) => {
    if (!visible) return;
    if (picking) {
      picking = false;
      map.getCanvas().style.cursor = '';
      coord.value = e.lngLat.lng.toFixed(6) + ',' + e.lngLat.lat.toFixed(6);
      crs.value = 'EPSG:4490';
      root.querySelector('#intake').open = true;
      return;
    }
    const hit = overlayFeatures(map, e.point, ['cases-dot'])[0];
    if (hit) open(hit.properties.id);
  });

  // --- detail -----------------------------------------------------------------------------------
  async function open(id) {
    try {
      const r = await api('GET', '/v1/incidents/' + id);
      current = { data: r.data, etag: r.etag };
    } catch (err) { detail.replaceChildren(el('p', { class: 'error', text: describe(err) })); return; }
    const c = current.data;
    if (c.assignee && c.assignee_name) assigneeNames.set(c.assignee, c.assignee_name);
    for (const s of c.suggested_assignees || []) if (s.name) assigneeNames.set(s.assignee, s.name);
    for (const e of c.events || []) if (e.detail && e.detail.assignee && e.detail.assignee_name) assigneeNames.set(e.detail.assignee, e.detail.assignee_name);
    // Urging is refused unless the case is overdue or due within a working day: offered only then.
    const urgent = c.overdue || (c.remaining_working_minutes != null && c.remaining_working_minutes < workingDayMinutes());
    const allowed = lifecycle.actions.filter((a) => a.from.includes(c.status) && (a.action !== 'urge' || urgent));
    const needs = (a, name) => (a.inputs || []).some((i) => i.name === name && i.required);
    const assigneePick = el('select', { id: 'dispatch-assignee', 'aria-label': '承办人' });
    const workerPick = el('select', { id: 'verify-worker', 'aria-label': '核查网格员' });
    const note = el('input', { id: 'action-note', placeholder: '办理意见 (可选)', 'aria-label': '办理意见' });
    const hours = el('input', { id: 'action-hours', type: 'number', min: '1', value: '4', 'aria-label': '延期工作小时', size: 4 });
    const buttons = el('div', { id: 'case-actions', class: 'row' },
      ...allowed.map((a) => el('button', { type: 'button', dataset: { action: a.action }, text: actionNames[a.action] || a.action,
        onclick: () => act(a.action, { note: note.value.trim(), hours: Number(hours.value),
                                       assignee: needs(a, 'assignee') ? assigneePick.value : undefined,
                                       worker: needs(a, 'worker') ? Number(workerPick.value) : undefined }) })));
    const rows = [['状态', (stateNames[c.status] || c.status) + (c.overdue ? ' · 已超期' : '')], ['类别', c.category],
                  ['来源', sourceNames[c.source] || c.source], ['位置', (c.hierarchy || []).map((h) => h.name).join(' › ') || '—'],
                  ['网格', c.grid || '—'], ['承办', nameOf(c.assignee)], ['建议承办', (c.suggested_assignees || []).map((s) =>
                    `${s.name} (${s.reason === 'category' ? '按类别' : s.reason === 'grid' ? '本网格' : s.reason})`).join('；') || '—'],
                  ['处置人', nameOf(c.handled_by)], ['核查时间', c.verified_at ? formatTime(c.verified_at) : '—'],
                  ['返工次数', String(c.rework_count || 0)], ['上报时间', formatTime(c.reported_at)], ['处置期限', c.deadline ? formatTime(c.deadline) : '派遣后计时'],
                  ['剩余工作时间', c.remaining_working_minutes != null ? formatMinutes(c.remaining_working_minutes) : '—'], ['描述', c.description || '—']];
    const timeline = el('ol', { id: 'case-timeline', class: 'timeline' }, ...(c.events || []).map((e) => el('li', { dataset: { action: e.action } },
      `${formatTime(e.at)} · ${actionNames[e.action] || e.action}${e.to ? ' → ' + (stateNames[e.to] || e.to) : ''} · ${e.actor || ''}` +
      (e.detail && e.detail.assignee_name ? ' · 派给 ' + e.detail.assignee_name : '') +
      (e.detail && e.detail.worker ? ` · ${e.action === 'rework' ? '返工' : '核查'}人 ${nameOf(e.detail.worker)}` : '') +
      (e.detail && e.detail.note ? ' · ' + e.detail.note : ''))));
    const nearest = el('div', { id: 'nearest' });
    const urgings = (c.urgings || []).length ? el('ol', { id: 'case-urgings', class: 'timeline' }, ...c.urgings.map((u) => el('li', {
      dataset: { urging: String(u.id) } }, `${formatTime(u.at)} · ${u.actor} 督办 ${nameOf(u.assignee)}` + (u.note ? ' · ' + u.note : '') +
      (u.level ? ` · 已升级 ${u.level} 级` : '') + (u.answered_at ? ' · 已响应' : ' · 待响应')))) : '';
    const assigning = allowed.some((a) => needs(a, 'assignee'));
    const verifying = allowed.some((a) => needs(a, 'worker'));
    detail.replaceChildren(
      el('h3', { id: 'case-title', class: c.overdue ? 'overdue' : '', text: `事件 #${c.id} ${c.category}` }),
      el('table', { class: 'props' }, ...rows.map(([k, v]) => el('tr', {}, el('th', { text: k }), el('td', { text: String(v) })))),
      el('h4', { text: '可办理' }),
      allowed.length ? buttons : el('p', { class: 'muted', id: 'case-actions', text: '此状态没有可办理的操作' }),
      el('div', { class: 'row' }, note, allowed.some((a) => a.action === 'extend') ? el('label', {}, '延期 ', hours, ' 工作小时') : ''),
      assigning ? el('div', { class: 'row', id: 'dispatch-panel' }, el('label', {}, '派给 ', assigneePick)) : '',
      verifying ? el('div', { class: 'row', id: 'verify-panel' }, el('label', {}, '核查人 (本网格其他网格员) ', workerPick)) : '',
      urgings ? el('h4', { text: '督办记录' }) : '', urgings,
      nearest,
      el('h4', { text: '办理记录' }), timeline);
    if (c.location) map.flyTo({ center: c.location.coordinates, zoom: Math.max(map.getZoom(), 15) });
    if (verifying) loadVerifiers(c, workerPick);
    if (assigning) { loadAssignees(c, assigneePick); loadNearest(c, nearest); }
    else { clearOverlay(map, 'routes'); clearOverlay(map, 'workers'); }
  }

  async function act(action, { note, hours, assignee, worker }) {
    const body = { action };
    if (note) body.note = note;
    if (action === 'extend') body.working_hours = hours || 4;
    if (assignee !== undefined) {
      if (!assignee) { toast('请先选择承办部门或网格员'); return; }
      body.assignee = assignee;
    }
    if (worker !== undefined) {
      if (!worker) { toast('请先选择核查的网格员'); return; }
      body.worker = worker;
    }
    if (action === 'rework' && !note) { toast('返工请填写办理意见：还有什么问题'); return; }
    let refused = null;
    try {
      await api('PATCH', '/v1/incidents/' + current.data.id, { body, ifMatch: current.etag });
      toast(`事件 #${current.data.id}: ${actionNames[action] || action} 完成`);
    } catch (err) { refused = describe(err); toast(refused); }
    await open(current.data.id);
    // A refusal stays on the case (a toast is gone in seconds): what was refused and why, under the
    // case's title, until the case is opened again.
    if (refused) {
      const title = document.getElementById('case-title');
      if (title) title.after(el('p', { id: 'case-action-error', class: 'warn', role: 'alert', text: `${actionNames[action] || action} 未完成: ${refused}` }));
    }
    refresh(true);
  }

  async function loadNearest(c, box) {
    const [lon, lat] = c.location.coordinates;
    box.replaceChildren(el('h4', { text: '最近的网格员 (按步行时间)' }), el('p', { class: 'muted', text: '计算中…' }));
    try {
      // Only workers the case's grid may be dispatched to: the nearest offered is one the dispatch accepts.
      const query = { lon, lat, k: '5', profile: 'foot' };
      if (c.grid) query.grid = c.grid;
      const { data } = await api('GET', '/v1/dispatch/nearest-workers?' + new URLSearchParams(query));
      const list = el('ol', { id: 'nearest-list', class: 'list' });
      const now = Date.now();
      for (const w of data.workers) {
        assigneeNames.set('worker:' + w.id, w.name);
        const age = w.position_at ? Math.round((now - Date.parse(w.position_at)) / 60000) : null;
        list.append(el('li', { dataset: { worker: String(w.id) } },
          `${w.name} · 步行 ${Math.round(w.duration / 60)} 分钟 (${Math.round(w.distance)} 米)` + (age != null ? ` · 位置 ${age} 分钟前` : '') + ' ',
          el('button', { type: 'button', class: 'small', text: '派遣', dataset: { dispatchTo: String(w.id) },
            onclick: () => act(c.status === 'register' ? 'dispatch' : 'redispatch', { note: '', assignee: 'worker:' + w.id }) })));
      }
      if (!data.workers.length) list.append(el('li', { class: 'muted', text: '附近没有有位置的网格员' }));
      box.replaceChildren(el('h4', { text: '最近的网格员 (按步行时间)' }), list,
        data.without_position_count ? el('p', { class: 'muted', text: `另有 ${data.without_position_count} 人无可用位置` }) : '');
      setOverlay(map, 'workers', { type: 'FeatureCollection', features: data.workers.filter((w) => w.position).map((w) => ({
        type: 'Feature', geometry: w.position.type ? w.position : { type: 'Point', coordinates: w.position },
        properties: { id: w.id, name: w.name, stale: false } })) });
      const routes = await Promise.all(data.workers.slice(0, 3).filter((w) => w.position).map(async (w) => {
        const from = (w.position.coordinates || w.position).join(',');
        try {
          return (await api('GET', '/v1/route?' + new URLSearchParams({ from, to: `${lon},${lat}`, profile: 'foot' }))).data.geometry;
        } catch (e) { return null; }
      }));
      setOverlay(map, 'routes', { type: 'FeatureCollection', features: routes.filter(Boolean).map((g) => ({ type: 'Feature', geometry: g, properties: {} })) });
    } catch (err) { box.replaceChildren(el('p', { class: 'error', text: '最近网格员: ' + describe(err) })); }
  }

  // How near its deadline a case must be for an urging to be accepted (the lifecycle document says).
  function workingDayMinutes() { return lifecycle.urge_within_working_minutes || 480; }

  // Who may take the case: its suggested assignees first, then the departments serving its area
  // and category, then the workers of its grid.
  async function loadAssignees(c, select) {
    const option = (ref, text) => el('option', { value: ref, text });
    const suggested = (c.suggested_assignees || []).filter((s) => s.assignee !== c.assignee);
    select.replaceChildren(option('', '— 选择部门或网格员 —'));
    if (suggested.length) select.append(el('optgroup', { label: '建议' }, ...suggested.map((s) => option(s.assignee, s.name))));
    const code = c.grid || ((c.hierarchy || []).slice(-1)[0] || {}).code || '';
    try {
      const q = new URLSearchParams({ category: c.category });
      if (code) q.set('area', code);
      const deps = (await api('GET', '/v1/departments?' + q)).data.departments;
      for (const d of deps) assigneeNames.set('department:' + d.id, d.name);
      if (deps.length) select.append(el('optgroup', { label: '部门', id: 'dispatch-departments' },
        ...deps.filter((d) => 'department:' + d.id !== c.assignee).map((d) => option('department:' + d.id, d.name))));
      if (c.grid) {
        const ws = (await api('GET', `/v1/areas/${encodeURIComponent(c.grid)}/workers`)).data.workers;
        for (const w of ws) assigneeNames.set('worker:' + w.id, w.name);
        if (ws.length) select.append(el('optgroup', { label: '本网格网格员' },
          ...ws.filter((w) => 'worker:' + w.id !== c.assignee).map((w) => option('worker:' + w.id, w.name))));
      }
    } catch (err) { toast('承办人列表: ' + describe(err)); }
    if (suggested.length) select.value = suggested[0].assignee;
  }

  // The verifying worker: one of the case's grid other than the one who handled it.
  async function loadVerifiers(c, select) {
    select.replaceChildren(el('option', { value: '', text: '— 选择核查网格员 —' }));
    if (!c.grid) { select.append(el('option', { value: '', text: '事件不在网格内，无法核查' })); return; }
    try {
      const ws = (await api('GET', `/v1/areas/${encodeURIComponent(c.grid)}/workers`)).data.workers;
      const others = ws.filter((w) => 'worker:' + w.id !== c.handled_by);
      for (const w of ws) assigneeNames.set('worker:' + w.id, w.name);
      select.append(...others.map((w) => el('option', { value: String(w.id), text: w.name })));
      if (!others.length) select.append(el('option', { value: '', text: '本网格没有其他网格员' }));
      else select.value = String(others[0].id);
    } catch (err) { toast('核查人列表: ' + describe(err)); }
  }

  async function loadLifecycle() {
    lifecycle = (await api('GET', '/v1/incidents/lifecycle')).data;
    const open = lifecycle.states.filter((s) => !ENDED.has(s));
    fStatus.append(...open.map((s) => el('option', { value: s, text: stateNames[s] || s })),
                   ...[...ENDED].map((s) => el('option', { value: s, text: stateNames[s] || s })));
    const names = Object.keys(lifecycle.categories.categories || {});
    fCategory.append(...names.map((n) => el('option', { value: n, text: n })));
    category.append(...names.map((n) => el('option', { value: n, text: n })));
    try {
      for (const d of (await api('GET', '/v1/departments')).data.departments) assigneeNames.set('department:' + d.id, d.name);
    } catch (err) { /* names then show as references */ }
  }
  const ready = loadLifecycle().catch((err) => toast('读取事件流程失败: ' + describe(err)));

  return {
    async show() {
      visible = true;
      await ready;
      await refresh(true);
      clearInterval(timer);
      timer = setInterval(() => { if (!document.hidden) refresh(); }, POLL_MS);
    },
    hide() { visible = false; clearInterval(timer); },
    open,
  };
}

function formatMinutes(m) {
  const sign = m < 0 ? '超期 ' : '';
  const a = Math.abs(Math.round(m));
  return sign + (a >= 60 ? Math.floor(a / 60) + ' 小时 ' : '') + (a % 60) + ' 分钟';
}
