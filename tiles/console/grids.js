// 网格管理: find an area (search box, tree), read it (details, workers, history), and change it
// with the toolkit: redraw by dragging vertices (snapping to the neighbours), split along a drawn
// line, merge with neighbours, restore an earlier version, redistrict a village or township (an
// uploaded plan of its children), retire, assign and unassign workers; and read the coverage
// report of an area's children (gaps, overlaps, parts outside it) on the map. Every change is
// first sent as a dry run (预览) whose impact is shown on the map and in a list; 提交 sends the
// same request with If-Match carrying the ETags the dry run named, so a change made by someone
// else in between answers 412.
import { TerraDraw, TerraDrawSelectMode, TerraDrawLineStringMode, TerraDrawPolygonMode } from 'terra-draw';
import { TerraDrawMapLibreGLAdapter } from 'terra-draw-maplibre-gl-adapter';
import { api, answer, describe, ApiError } from './api.js';
import { el, toast, formatTime, levelNames, roleNames, bounds } from './ui.js';
import { setOverlay, clearOverlay } from './overlays.js';

const SNAP_PX = 12;
const changeNames = { sample: '示例数据', replace: '整体替换', create: '新建', update: '修改', adjust: '随相邻调整', redraw: '重绘', split: '拆分', merge: '合并', restore: '恢复',
                      reparent: '调整上级', redistrict: '重新划分', import: '导入' };
const opNames = { redraw: '重绘边界', split: '拆分', merge: '合并', restore: '恢复历史版本', retire: '退役', workers: '分配网格员',
                  redistrict: '重新划分' };
const childLevel = { province: 'city', city: 'county', county: 'township', township: 'village', village: 'grid', grid: 'microgrid' };

export function startGrids(root, ctx) {
  const { map, user } = ctx;
  const mayEditRole = user.role === 'admin' || user.role === 'manager';
  const inScope = (code) => !user.scope || code.startsWith(user.scope);

  let selected = null;   // {feature, etag, code}
  let neighbours = [];   // sibling Features of the selected area (snapping, merge candidates)
  let edit = null;       // {kind, drawId?, request: () => {method, path, body}, result?, render?, done?}

  const clearCoverage = () => clearOverlay(map, 'coverage');

  // --- layout -----------------------------------------------------------------------------------
  const search = el('input', { id: 'area-search', type: 'search', placeholder: '按名称或代码查找区域', 'aria-label': '查找区域', autocomplete: 'off' });
  const results = el('ul', { id: 'area-results', class: 'list' });
  const tree = el('ul', { id: 'area-tree', class: 'tree' });
  const detail = el('div', { id: 'area-detail' });
  const editor = el('div', { id: 'area-editor', hidden: true });
  root.append(
    el('h2', { text: '网格管理' }),
    el('form', { id: 'area-search-form', class: 'row', onsubmit: (e) => { e.preventDefault(); runSearch(); } }, search, el('button', { type: 'submit', text: '查找' })),
    results,
    el('details', { open: true, class: 'tree-box' }, el('summary', { text: '区划树' }), tree),
    detail,
    editor);

  // --- search and tree ----------------------------------------------------------------------------
  async function runSearch() {
    const q = search.value.trim();
    results.replaceChildren();
    if (!q) return;
    try {
      const { data } = await api('GET', '/v1/areas?' + new URLSearchParams({ q, limit: '20' }));
      if (!data.features.length) results.append(el('li', { class: 'muted', text: '没有找到 “' + q + '”' }));
      for (const f of data.features) {
        const p = f.properties;
        results.append(el('li', {}, el('a', { href: '#', dataset: { code: p.code }, onclick: (e) => { e.preventDefault(); select(p.code); } },
          p.name), el('span', { class: 'muted', text: ' ' + (levelNames[p.level] || p.level) + ' ' + p.code })));
      }
      if (data.numberMatched > data.numberReturned) results.append(el('li', { class: 'muted', text: `共 ${data.numberMatched} 个，只列出前 ${data.numberReturned} 个` }));
    } catch (err) { results.append(el('li', { class: 'error', text: describe(err) })); }
  }

  function treeNode(f) {
    const p = f.properties;
    const children = el('ul');
    const leaf = p.level === 'grid' || p.level === 'microgrid';
    let loaded = false;
    const twisty = el('button', { type: 'button', class: 'twisty', 'aria-label': '展开', text: leaf ? '·' : '▸', disabled: leaf });
    twisty.addEventListener('click', async () => {
      if (children.childElementCount && twisty.textContent === '▾') { children.hidden = true; twisty.textContent = '▸'; return; }
      children.hidden = false;
      twisty.textContent = '▾';
      if (loaded) return;
      loaded = true;
      try {
        const { data } = await api('GET', `/v1/areas/${p.code}/children`);
        for (const c of data.features) children.append(treeNode(c));
        if (!data.features.length) children.append(el('li', { class: 'muted', text: '无下级' }));
      } catch (err) { children.append(el('li', { class: 'error', text: describe(err) })); }
    });
    return el('li', { dataset: { code: p.code } }, twisty,
      el('a', { href: '#', dataset: { code: p.code }, onclick: (e) => { e.preventDefault(); select(p.code); } }, p.name), children);
  }

  async function loadTree() {
    try {
      const roots = await (ctx.treeRoots || fetchTreeRoots(user));
      tree.replaceChildren(...roots.map(treeNode));
    } catch (err) { tree.replaceChildren(el('li', { class: 'error', text: describe(err) })); }
  }

  // --- selection and details ----------------------------------------------------------------------
  async function select(code, { fit = true } = {}) {
    stopEditing();
    clearCoverage();
    detail.replaceChildren(el('p', { class: 'muted', text: '读取 ' + code + ' …' }));
    let area;
    try {
      area = await api('GET', '/v1/areas/' + code);
    } catch (err) {
      selected = null;
      const outside = err instanceof ApiError && err.code === 'outside_scope';
      detail.replaceChildren(el('p', { id: 'area-denied', class: 'error',
        text: outside ? `区域 ${code} 不在您的管辖范围 (${user.scope}) 内，不能查看或修改。` : describe(err) }));
      return;
    }
    selected = { feature: area.data, etag: area.etag, code };
    const p = area.data.properties;
    setOverlay(map, 'selection', area.data);
    if (fit) map.fitBounds(bounds(area.data.geometry), { padding: 60, animate: false, maxZoom: 17 });
    const rows = [['代码', p.code], ['级别', levelNames[p.level] || p.level], ['上级', p.parent || '—'], ['版本', 'v' + p.version],
                  ['户数', p.households ?? '—'], ['人口', p.population ?? '—'], ['最后修改', formatTime(p.valid_from) + ' · ' + (p.changed_by || '—')]];
    const workers = el('ul', { id: 'area-workers', class: 'list' });
    const historyList = el('ol', { id: 'area-history', class: 'timeline' });
    const actions = el('div', { class: 'row', id: 'area-actions' });
    const why = editDenied(p);
    const isGrid = p.level === 'grid' || p.level === 'microgrid';
    if (why) actions.append(el('p', { id: 'edit-denied', class: 'warn', text: why }));
    else if (p.level !== 'county' && p.level !== 'province' && p.level !== 'city') {
      actions.append(el('button', { id: 'btn-redraw', type: 'button', text: '编辑边界', onclick: startRedraw }),
                     el('button', { id: 'btn-split', type: 'button', text: '拆分', onclick: startSplit }),
                     el('button', { id: 'btn-merge', type: 'button', text: '合并', onclick: startMerge }),
                     el('button', { id: 'btn-retire', type: 'button', text: '退役', onclick: startRetire }));
      if (isGrid) actions.append(el('button', { id: 'btn-workers', type: 'button', text: '分配网格员', onclick: startWorkers }));
    }
    // Redistricting replaces the children of the selected area, so the scope's own township may do it.
    if (mayEditRole && inScope(p.code) && (p.level === 'village' || p.level === 'township'))
      actions.append(el('button', { id: 'btn-redistrict', type: 'button', text: '重新划分', onclick: startRedistrict }));
    if (childLevel[p.level] && p.level !== 'province')
      actions.append(el('button', { id: 'btn-coverage', type: 'button', text: '覆盖检查', onclick: () => showCoverage(coverage) }));
    const coverage = el('div', { id: 'coverage' });
    detail.replaceChildren(
      el('h3', { id: 'area-name', text: p.name }),
      el('table', { class: 'props' }, ...rows.map(([k, v]) => el('tr', {}, el('th', { text: k }), el('td', { text: String(v) })))),
      actions,
      coverage,
      el('h4', { text: '网格员' }), workers,
      el('h4', { text: '历史版本' }), historyList);
    loadWorkers(p, workers);
    loadHistory(code, historyList, !why);
  }

  // --- coverage -------------------------------------------------------------------------------------
  async function showCoverage(box) {
    const code = selected.code;
    box.replaceChildren(el('p', { class: 'muted', text: '正在检查覆盖…' }));
    try {
      const { data } = await api('GET', `/v1/areas/${code}/coverage`);
      const features = [];
      const item = (kind, f, text) => {
        features.push({ type: 'Feature', geometry: f.geometry, properties: { kind } });
        return el('li', { dataset: { kind } }, text, ' ', el('button', { type: 'button', class: 'small', text: '定位',
          onclick: () => map.fitBounds(bounds(f.geometry), { padding: 80, animate: false, maxZoom: 18 }) }));
      };
      const m2 = (v) => (v >= 10000 ? (v / 10000).toFixed(2) + ' 公顷' : Math.round(v) + ' m²');
      const gaps = data.gaps.features.map((f) => item('gap', f, '空隙 ' + m2(f.properties.area_m2)));
      const overlaps = data.overlaps.features.map((f) => item('overlap', f, `重叠 ${f.properties.codes.join(' / ')} · ${m2(f.properties.area_m2)}`));
      const outside = data.outside.features.map((f) => item('outside', f, `${f.properties.code} 超出上级 ${m2(f.properties.area_m2)}`));
      setOverlay(map, 'coverage', { type: 'FeatureCollection', features });
      const list = (title, id, items) => el('div', { id }, el('h4', { text: `${title} (${items.length})` }),
        items.length ? el('ul', { class: 'list' }, ...items) : el('p', { class: 'muted', text: '无' }));
      box.replaceChildren(
        el('h4', { text: '覆盖检查 · ' + selected.feature.properties.name }),
        el('p', { id: 'coverage-summary', class: data.partition ? 'hint' : 'warn', dataset: { partition: String(data.partition) },
          text: `${data.children} 个下级覆盖 ${(data.share_covered * 100).toFixed(2)}%` +
                (data.partition ? '：无空隙、无重叠、无超出 (容差 ' + data.tolerance_m2 + ' m²)。' : '：划分有问题，见下方和地图 (红: 空隙，橙: 重叠，紫: 超出)。') }),
        list('空隙', 'coverage-gaps', gaps), list('重叠', 'coverage-overlaps', overlaps), list('超出上级', 'coverage-outside', outside),
        el('button', { type: 'button', class: 'small', text: '清除', onclick: () => { clearCoverage(); box.replaceChildren(); } }));
      if (features.length) map.fitBounds(bounds({ type: 'GeometryCollection', coordinates: features.map((f) => f.geometry.coordinates) }),
                                         { padding: 60, animate: false, maxZoom: 17 });
    } catch (err) { box.replaceChildren(el('p', { class: 'error', text: describe(err) })); }
  }

  function editDenied(p) {
    if (!mayEditRole) return '您的角色 (' + (roleNames[user.role] || user.role) + ') 只能查看，不能修改区域。';
    if (!inScope(p.code)) return `此区域不在您的管辖范围 (${user.scope}) 内，不能修改。`;
    if (user.scope && p.code === user.scope) return '这是您的辖区本身，其边界由上级管理。';
    return '';
  }

  async function loadWorkers(p, list) {
    if (p.level !== 'grid' && p.level !== 'microgrid') { list.append(el('li', { class: 'muted', text: '(只有网格和微网格有网格员)' })); return; }
    try {
      const { data } = await api('GET', `/v1/areas/${p.code}/workers`);
      if (!data.workers.length) list.append(el('li', { class: 'muted', text: '未分配' }));
      for (const w of data.workers) list.append(el('li', { text: `${w.name} · ${w.phone || ''}` }));
    } catch (err) { list.append(el('li', { class: 'error', text: describe(err) })); }
  }

  async function loadHistory(code, list, mayRestore) {
    try {
      const { data } = await api('GET', `/v1/areas/${code}/history`);
      data.versions.forEach((f, i) => {
        const p = f.properties;
        const item = el('li', { dataset: { version: String(p.version) } },
          el('strong', { text: 'v' + p.version }), ' ',
          el('span', { text: `${formatTime(p.valid_from)} · ${changeNames[p.change] || p.change || ''} · ${p.changed_by || ''}` }));
        if (i === 0) item.append(el('span', { class: 'tag', text: '当前' }));
        else if (mayRestore && !p.retired_by) {
          item.append(' ', el('button', { type: 'button', class: 'small', text: '恢复此版本', dataset: { restore: String(p.version) },
            onclick: () => startRestore(f) }));
        }
        list.append(item);
      });
    } catch (err) { list.append(el('li', { class: 'error', text: describe(err) })); }
  }

  // --- drawing ------------------------------------------------------------------------------------
  let draw = null;
  function ensureDraw() {
    if (draw) return draw;
    draw = new TerraDraw({
      adapter: new TerraDrawMapLibreGLAdapter({ map }),
      modes: [
        new TerraDrawSelectMode({
          // Every drag event moves the vertex: it stays under the pointer, where it is let go.
          dragEventThrottle: 0,
          flags: { polygon: { feature: { draggable: false,
            coordinates: { draggable: true, midpoints: true, deletable: true, snappable: { toCustom: snapToNeighbours } } } } },
        }),
        new TerraDrawPolygonMode(),
        new TerraDrawLineStringMode({ snapping: { toCustom: snapToNeighbours } }),
      ],
    });
    draw.start();
    draw.on('change', () => { if (edit && edit.kind === 'redraw') markDirty(); });
    draw.on('finish', (id) => { if (edit && edit.kind === 'split') finishLine(id); });
    ctx.draw = draw;
    return draw;
  }

  // Snapping: the nearest vertex of a neighbour within SNAP_PX pixels, else the nearest point on a
  // neighbour's edge, so a dragged border lands exactly on the neighbour's border.
  function snapToNeighbours(event) {
    const here = [event.containerX, event.containerY];
    let best = null, bestD = SNAP_PX;
    const rings = [];
    for (const f of neighbours) for (const ring of ringsOf(f.geometry)) rings.push(ring);
    for (const ring of rings) for (const c of ring) {
      const p = map.project(c);
      const d = Math.hypot(p.x - here[0], p.y - here[1]);
      if (d < bestD) { bestD = d; best = c; }
    }
    if (best) return best;
    bestD = SNAP_PX / 2;
    for (const ring of rings) for (let i = 1; i < ring.length; i++) {
      const a = map.project(ring[i - 1]), b = map.project(ring[i]);
      const dx = b.x - a.x, dy = b.y - a.y, len = dx * dx + dy * dy;
      if (!len) continue;
      const t = Math.max(0, Math.min(1, ((here[0] - a.x) * dx + (here[1] - a.y) * dy) / len));
      const d = Math.hypot(a.x + t * dx - here[0], a.y + t * dy - here[1]);
      if (d < bestD) { bestD = d; const ll = map.unproject([a.x + t * dx, a.y + t * dy]); best = [round9(ll.lng), round9(ll.lat)]; }
    }
    return best || undefined;
  }

  async function loadNeighbours() {
    const p = selected.feature.properties;
    neighbours = [];
    if (!p.parent) return;
    const { data } = await api('GET', `/v1/areas/${p.parent}/children`);
    neighbours = data.features.filter((f) => f.properties.code !== p.code);
  }

  // --- the editor panel ---------------------------------------------------------------------------
  function openEditor(kind, hint, extra) {
    stopEditing();
    edit = { kind };
    const impact = el('div', { id: 'impact' });
    const previewBtn = el('button', { id: 'btn-preview', type: 'button', text: '预览', onclick: preview });
    const commitBtn = el('button', { id: 'btn-commit', type: 'button', text: '提交', disabled: true, onclick: commit });
    edit.ui = { impact, previewBtn, commitBtn };
    editor.replaceChildren(
      el('h3', { text: opNames[kind] + ' · ' + selected.feature.properties.name }),
      el('p', { class: 'hint', id: 'edit-hint', text: hint }),
      ...(extra ? [extra] : []),
      el('div', { class: 'row' }, previewBtn, commitBtn, el('button', { id: 'btn-cancel', type: 'button', text: '取消', onclick: () => stopEditing() })),
      impact);
    editor.hidden = false;
    // The editor opens below the details and the history: bring it, not the page's top, into view.
    editor.scrollIntoView({ block: 'nearest' });
    return edit;
  }

  function markDirty() {
    if (!edit) return;
    edit.result = null;
    edit.ui.commitBtn.disabled = true;
    edit.ui.impact.replaceChildren(el('p', { class: 'muted', text: '已修改，请点 “预览” 查看影响。' }));
    clearOverlay(map, 'preview');
  }

  function stopEditing() {
    if (draw) {
      draw.clear();
      draw.setMode('static');
    }
    edit = null;
    editor.hidden = true;
    editor.replaceChildren();
    clearOverlay(map, 'preview');
  }

  async function startRedraw() {
    const g = polygonOf(selected.feature.geometry);
    if (!g) { toast('此区域由多个部分组成，请用拆分/合并或导入修改'); return; }
    await loadNeighbours();
    openEditor('redraw', '拖动蓝色边界上的顶点修改边界 (靠近相邻网格的顶点或边时自动吸附)。相邻网格随之调整，不会留下空隙。');
    const d = ensureDraw();
    d.setMode('select');
    const id = crypto.randomUUID();
    const errors = d.addFeatures([{ id, type: 'Feature', geometry: g, properties: { mode: 'polygon' } }]);
    if (errors.some((e) => !e.valid)) { toast('无法编辑此边界: ' + errors.map((e) => e.reason).join('; ')); return; }
    d.selectFeature(id);
    edit.drawId = id;
    edit.request = () => ({ method: 'PATCH', path: `/v1/areas/${selected.code}?adjust=neighbours`,
                            body: { geometry: d.getSnapshotFeature(id).geometry } });
    edit.ui.impact.replaceChildren(el('p', { class: 'muted', text: '尚未修改。' }));
  }

  async function startRestore(version) {
    const v = version.properties.version;
    await loadNeighbours();
    openEditor('restore', `把边界恢复为 v${v} (${formatTime(version.properties.valid_from)}) 的样子，作为新版本保存。相邻网格随之调整；若相邻网格已改变而无法恢复，会说明原因。`);
    edit.version = v;
    edit.request = () => ({ method: 'PATCH', path: `/v1/areas/${selected.code}?adjust=neighbours`, body: { geometry: version.geometry } });
    setOverlay(map, 'preview', version);
    await preview();
  }

  async function startSplit() {
    await loadNeighbours();
    openEditor('split', '在地图上画一条穿过网格的线：逐点单击，在最后一点上再单击一次结束。');
    const d = ensureDraw();
    d.setMode('linestring');
    edit.ui.previewBtn.disabled = true;
  }

  function finishLine(id) {
    const d = draw;
    const line = d.getSnapshotFeature(id).geometry;
    d.setMode('static');
    edit.line = line;
    edit.request = () => ({ method: 'POST', path: `/v1/areas/${selected.code}/split`, body: { line } });
    edit.ui.previewBtn.disabled = false;
    preview();
  }

  async function startMerge() {
    await loadNeighbours();
    const p = selected.feature.properties;
    const choices = el('fieldset', { id: 'merge-choices' }, el('legend', { text: '选择要合并的相邻区域' }));
    for (const f of neighbours) {
      const q = f.properties;
      choices.append(el('label', {}, el('input', { type: 'checkbox', value: q.code, onchange: () => markDirty() }), ` ${q.name} (${q.code})`));
    }
    const name = el('input', { id: 'merge-name', value: p.name, 'aria-label': '合并后的名称' });
    openEditor('merge', '勾选与本区域相邻的同级区域；合并后生成新代码，原区域退役。', el('div', {}, choices, el('label', {}, '合并后名称 ', name)));
    edit.check = () => (choices.querySelector('input:checked') ? '' : '请先勾选至少一个要合并的相邻区域。');
    edit.request = () => {
      const codes = [p.code, ...[...choices.querySelectorAll('input:checked')].map((i) => i.value)];
      return { method: 'POST', path: '/v1/areas/merge', body: { codes, name: name.value.trim() || p.name } };
    };
  }

  // --- retire, workers, redistrict -----------------------------------------------------------------
  async function startRetire() {
    const p = selected.feature.properties;
    openEditor('retire', `退役 “${p.name}”：当前版本结束，历史保留，代码不再使用；其网格员解除分配。有下级区域时不能退役。` +
                         '要让相邻区域接管它的范围，请改用 “合并”。');
    setOverlay(map, 'preview', selected.feature);
    edit.request = () => ({ method: 'DELETE', path: `/v1/areas/${selected.code}` });
    edit.render = (r, ms) => {
      const workerItems = r.workers_unassigned.map((id) => {
        const li = el('li', { dataset: { worker: String(id) } }, `网格员 #${id} 解除分配`);
        api('GET', '/v1/workers/' + id).then(({ data }) => { li.textContent = `${data.name} (#${id}) 解除分配`; }).catch(() => {});
        return li;
      });
      const checkpointItems = r.checkpoints_without_grid.map((id) => el('li', { dataset: { checkpoint: String(id) } }, `巡查点 #${id} 暂无所属网格`));
      edit.ui.impact.replaceChildren(
        el('p', { id: 'preview-summary', text: `预览 (未提交，用时 ${Math.round(ms)} 毫秒): ${p.name} (${r.code}) v${r.version} 将退役，` +
                                                 `${r.workers_unassigned.length} 名网格员解除分配，${r.checkpoints_without_grid.length} 个巡查点暂无网格。` }),
        el('p', { id: 'retire-gap', class: 'warn', text: `提交后 “${p.name}” 的范围不属于任何区域，成为上级的空隙 (覆盖检查可见)，直到相邻区域接管 (合并或重新划分)。` }),
        el('div', { id: 'impact-workers' }, el('h4', { text: `解除分配的网格员 (${workerItems.length})` }), el('ul', { class: 'list' }, ...workerItems)),
        el('div', { id: 'impact-checkpoints' }, el('h4', { text: `暂无网格的巡查点 (${checkpointItems.length})` }), el('ul', { class: 'list' }, ...checkpointItems)));
    };
    edit.done = async () => {
      const code = selected.code;
      toast(`${p.name} (${code}) 已退役`);
      ctx.refreshTiles();
      stopEditing();
      selected = null;
      clearOverlay(map, 'selection');
      detail.replaceChildren(el('p', { id: 'area-retired', class: 'hint', text: `${p.name} (${code}) 已退役；历史版本仍保留：在 “数据交换” 导出时填历史日期即可取回退役前的边界。` }));
      detail.dataset.committed = 'retire:' + code;
    };
    await preview();
  }

  async function startWorkers() {
    const p = selected.feature.properties;
    const code = selected.code;
    const pool = user.scope || p.parent || code;
    let assigned = [], candidates = [];
    try {
      assigned = (await api('GET', `/v1/areas/${code}/workers`)).data.workers;
      candidates = (await api('GET', '/v1/workers?' + new URLSearchParams({ area: pool }))).data.workers;
    } catch (err) { toast(describe(err)); return; }
    const mine = new Set(assigned.map((w) => w.id));
    for (const w of assigned) if (!candidates.some((c) => c.id === w.id)) candidates.unshift(w);
    const filter = el('input', { id: 'worker-filter', type: 'search', placeholder: '按姓名筛选', 'aria-label': '筛选网格员' });
    const choices = el('fieldset', { id: 'worker-choices', class: 'board-box' }, el('legend', { text: `勾选本网格的网格员 (${pool} 的网格员)` }));
    for (const w of candidates) {
      const elsewhere = (w.grids || []).filter((g) => g !== code);
      choices.append(el('label', { dataset: { name: w.name } }, el('input', { type: 'checkbox', value: String(w.id), checked: mine.has(w.id), onchange: () => markDirty() }),
        ` ${w.name} #${w.id}${w.phone ? ' · ' + w.phone : ''}`, elsewhere.length ? el('span', { class: 'muted', text: ' (也在 ' + elsewhere.join(', ') + ')' }) : ''));
    }
    filter.addEventListener('input', () => {
      for (const l of choices.querySelectorAll('label')) l.hidden = !!filter.value && !l.dataset.name.includes(filter.value.trim());
    });
    openEditor('workers', '勾选或取消勾选网格员，预览后提交。取消勾选即解除分配 (分配记录保留历史)。', el('div', {}, filter, choices));
    edit.request = () => ({ method: 'PUT', path: `/v1/areas/${code}/workers`,
                            body: { workers: [...choices.querySelectorAll('input:checked')].map((i) => Number(i.value)) } });
    const nameOf = (id) => (candidates.find((w) => w.id === id) || { name: '#' + id }).name;
    edit.render = (r, ms) => {
      const added = r.added.map((id) => el('li', { dataset: { worker: String(id) } }, `${nameOf(id)} (#${id}) 分配到本网格`));
      const removed = r.removed.map((id) => el('li', { dataset: { worker: String(id) } }, `${nameOf(id)} (#${id}) 解除分配`));
      edit.ui.impact.replaceChildren(
        el('p', { id: 'preview-summary', text: `预览 (未提交，用时 ${Math.round(ms)} 毫秒): 新增 ${added.length} 名，解除 ${removed.length} 名；提交后本网格共 ${r.workers.length} 名网格员。` }),
        el('div', { id: 'impact-added' }, el('h4', { text: `新增 (${added.length})` }), added.length ? el('ul', { class: 'list' }, ...added) : el('p', { class: 'muted', text: '无' })),
        el('div', { id: 'impact-removed' }, el('h4', { text: `解除 (${removed.length})` }), removed.length ? el('ul', { class: 'list' }, ...removed) : el('p', { class: 'muted', text: '无' })));
      // The same set as now: nothing to commit (勾选或取消勾选后再预览).
      if (!added.length && !removed.length) {
        edit.ui.impact.prepend(el('p', { id: 'preview-unchanged', class: 'warn', text: '没有改变：请勾选或取消勾选网格员后再预览。' }));
        return false;
      }
      return true;
    };
    edit.done = async (r) => {
      toast(`网格员已更新：新增 ${r.added.length} 名，解除 ${r.removed.length} 名`);
      await select(code, { fit: false });
      detail.dataset.committed = 'workers:' + r.added.join(',') + '/' + r.removed.join(',');
    };
    edit.ui.impact.replaceChildren(el('p', { class: 'muted', text: '尚未修改。' }));
  }

  async function startRedistrict() {
    const p = selected.feature.properties;
    const code = selected.code;
    const kids = childLevel[p.level];
    const file = el('input', { id: 'redistrict-file', type: 'file', accept: '.geojson,.json' });
    // The current children as a plan to start from: the properties a plan takes, nothing else.
    const current = el('a', { id: 'redistrict-current', href: '#', text: '下载当前划分 (GeoJSON) 作为起点' });
    current.addEventListener('click', async (e) => {
      if (current.download) return;
      e.preventDefault();
      try {
        const { data } = await api('GET', `/v1/areas/${code}/children`);
        const keep = ['code', 'name', 'households', 'population', 'attributes'];
        const plan = { type: 'FeatureCollection', features: data.features.map((f) => ({ type: 'Feature', geometry: f.geometry,
          properties: Object.fromEntries(keep.filter((k) => f.properties[k] !== undefined && f.properties[k] !== null).map((k) => [k, f.properties[k]])) })) };
        current.href = URL.createObjectURL(new Blob([JSON.stringify(plan)], { type: 'application/geo+json' }));
        current.download = `${code}-${kids}.geojson`;
        current.click();
      } catch (err) { toast(describe(err)); }
    });
    openEditor('redistrict', `上传 “${p.name}” 全部${levelNames[kids]}的新方案 (GeoJSON FeatureCollection，每个要素有 name，保留的区域写原 code，新区域不写 code)。` +
                             '方案必须无空隙、无重叠、不超出本区域；未列出的现有区域将退役。',
               el('div', {}, el('div', { class: 'row' }, el('span', { text: '方案文件' }), file),
                  el('p', {}, current)));
    edit.ui.previewBtn.disabled = true;
    file.addEventListener('change', async () => {
      markDirty();
      edit.plan = null;
      edit.ui.previewBtn.disabled = true;
      const f = file.files[0];
      if (!f) return;
      try {
        const plan = JSON.parse(await f.text());
        if (plan.type !== 'FeatureCollection') throw new Error('不是 FeatureCollection');
        edit.plan = plan;
      } catch (err) { edit.ui.impact.replaceChildren(el('p', { class: 'error', text: '无法读取方案: ' + err.message })); return; }
      setOverlay(map, 'preview', edit.plan);
      edit.ui.previewBtn.disabled = false;
      await preview();
    });
    edit.request = () => ({ method: 'PUT', path: `/v1/areas/${code}/children`, body: edit.plan });
  }

  // --- preview and commit -------------------------------------------------------------------------
  async function preview() {
    if (!edit || !edit.request) return;
    const { impact, commitBtn } = edit.ui;
    // A request the server would refuse for a reason the page already knows is not sent.
    const why = edit.check ? edit.check() : '';
    if (why) {
      commitBtn.disabled = true;
      impact.replaceChildren(el('p', { class: 'warn', id: 'preview-error', text: why }));
      impact.scrollIntoView({ block: 'nearest' });
      return;
    }
    const req = edit.request();
    const sep = req.path.includes('?') ? '&' : '?';
    impact.replaceChildren(el('p', { class: 'muted', text: '正在预览…' }));
    commitBtn.disabled = true;
    const started = performance.now();
    try {
      const { data } = await api(req.method, req.path + sep + 'dry_run=true', { body: req.body });
      if (!edit) return;
      edit.result = data;
      edit.sent = req;
      const worth = (edit.render || showImpact)(data, performance.now() - started);
      commitBtn.disabled = worth === false;
      // The result is below the editor's buttons: a person must see it without scrolling for it.
      impact.scrollIntoView({ block: 'nearest' });
    } catch (err) {
      impact.replaceChildren(el('p', { class: 'error', id: 'preview-error', text: '无法执行: ' + describe(err) }));
      impact.scrollIntoView({ block: 'nearest' });
      // Where the change fails: the geometry a refusal names (a redistricting plan's gaps,
      // overlaps or the part outside the parent).
      const q = err.problem || {};
      const where = q.geometry || q.gaps || q.overlaps || q.outside;
      if (where) setOverlay(map, 'preview', where);
    }
  }

  function showImpact(r, ms) {
    const { impact } = edit.ui;
    const changed = r.areas.features;
    // Each changed area its own shade (alternating), so a split's two pieces read as two.
    setOverlay(map, 'preview', { type: 'FeatureCollection',
      features: changed.map((f, i) => ({ ...f, properties: { ...f.properties, piece: i % 2 } })) });
    const list = (title, id, items) => el('div', { id }, el('h4', { text: `${title} (${items.length})` }),
      items.length ? el('ul', { class: 'list' }, ...items) : el('p', { class: 'muted', text: '无' }));
    const areaItems = changed.map((f) => el('li', { dataset: { code: f.properties.code } },
      `${f.properties.name} (${f.properties.code}) → v${f.properties.version}`));
    // Grids by name as the person knows them (the code beside it): the neighbours, the area and
    // the areas the change makes.
    const names = new Map([...neighbours, selected.feature, ...changed].map((f) => [f.properties.code, f.properties.name]));
    const place = (code) => (!code ? '未分配' : names.has(code) ? `${names.get(code)} (${code})` : code);
    for (const code of r.retired) areaItems.push(el('li', { dataset: { code } }, `${place(code)} 退役`));
    const incidentItems = r.impact.incidents.changes.map((c) => {
      const li = el('li', { dataset: { incident: String(c.id) } }, `事件 #${c.id}: ${place(c.from)} → ${place(c.to)}`);
      api('GET', '/v1/incidents/' + c.id).then(({ data }) => {
        li.textContent = `事件 #${c.id} ${data.category || ''} ${data.description || ''}: ${place(c.from)} → ${place(c.to)}`;
      }).catch(() => {});
      return li;
    });
    const checkpointItems = r.impact.checkpoints.changes.map((c) => el('li', { dataset: { checkpoint: String(c.id) } }, `巡查点 #${c.id}: ${place(c.from)} → ${place(c.to)}`));
    const workerItems = r.impact.workers.changes.map((c) => {
      const li = el('li', { dataset: { worker: String(c.id) } }, `网格员 #${c.id}: ${place(c.from)} → ${place(c.to)}`);
      api('GET', '/v1/workers/' + c.id).then(({ data }) => { li.textContent = `${data.name} (#${c.id}): ${place(c.from)} → ${place(c.to)}`; }).catch(() => {});
      return li;
    });
    const households = r.impact.households.count;
    impact.replaceChildren(
      el('p', { id: 'preview-summary', text: `预览 (未提交，用时 ${Math.round(ms)} 毫秒): ${changed.length} 个区域改变，${r.retired.length} 个退役，约 ${households} 户随边界移动。` }),
      list('改变的区域', 'impact-areas', areaItems),
      list('移动的事件', 'impact-incidents', incidentItems),
      list('移动的巡查点', 'impact-checkpoints', checkpointItems),
      list('移动的网格员', 'impact-workers', workerItems));
  }

  async function commit() {
    if (!edit || !edit.result) return;
    const req = edit.sent;
    const ifMatch = edit.result.touched ? Object.values(edit.result.touched).join(', ') : undefined;
    const { impact, commitBtn } = edit.ui;
    commitBtn.disabled = true;
    try {
      const { data } = await api(req.method, req.path, { body: req.body, ifMatch });
      if (edit.done) { await edit.done(data); return; }
      const kind = edit.kind;
      const next = kind === 'split' ? (data.pieces && data.pieces[0] && (data.pieces[0].code || data.pieces[0]))
                 : kind === 'merge' ? data.code : selected.code;
      toast(`${opNames[kind]}已提交 (操作 #${data.operation_id})`);
      ctx.refreshTiles();
      const target = typeof next === 'string' ? next : (data.areas.features[0] || {}).properties?.code;
      await select(target || selected.code, { fit: false });
      detail.dataset.committed = String(data.operation_id);
    } catch (err) {
      if (err instanceof ApiError && err.code === 'precondition_failed') { await showConflict(err); return; }
      // One refusal shown, the latest (a second try must not stack a second copy below the first).
      impact.querySelector('#commit-error')?.remove();
      impact.append(el('p', { class: 'error', id: 'commit-error', text: '提交失败: ' + describe(err) }));
      impact.scrollIntoView({ block: 'nearest' });
      commitBtn.disabled = false;
    }
  }

  // 412: name who changed what since the preview, and offer to start again from the current state.
  async function showConflict(err) {
    const p = err.problem;
    const stale = p.stale_codes || [selected.code];
    const box = el('div', { id: 'conflict', class: 'conflict' }, el('h4', { text: '提交被拒绝：预览之后数据已被他人修改' }));
    for (const code of stale) {
      try {
        const { data } = await api('GET', '/v1/areas/' + code);
        const q = data.properties;
        box.append(el('p', { text: `${q.name} (${code}) 已于 ${formatTime(q.valid_from)} 被 ${q.changed_by || '未知'} 修改 (${changeNames[q.change] || q.change})，现为 v${q.version}。` }));
      } catch (e) { box.append(el('p', { text: `${code}: ${describe(e)}` })); }
    }
    box.append(el('button', { id: 'btn-reload', type: 'button', text: '重新加载', onclick: () => select(selected.code, { fit: false }) }));
    edit.ui.impact.replaceChildren(box);
  }

  // Clicking a grid on the map selects it (while no edit is in progress).
  map.on('click', (e) => {
    if (root.hidden || edit) return;
    const hit = map.queryRenderedFeatures(e.point, { layers: ['grid-fill', 'township-fill', 'county-fill'] })[0];
    if (hit && hit.properties.code) select(hit.properties.code, { fit: false });
  });

  loadTree();
  return {
    show() { root.hidden = false; },
    hide() { stopEditing(); },
    select,
  };
}

// The tree's first level: the person's own area, or the highest level the registry has. Exported
// so that the console asks for it while the map is still loading.
// first: the boot script's answer (a fetch Response) to the first of these questions, or nothing.
export async function fetchTreeRoots(user, first) {
  let early = null;
  try { early = first ? await first : null; } catch (err) { early = null; }
  const ask = async (path) => {
    const r = early;
    early = null;
    return r ? answer(r) : api('GET', path);
  };
  if (user.scope) return [(await ask('/v1/areas/' + user.scope)).data];
  for (const level of ['province', 'city', 'county', 'township']) {
    const roots = (await ask('/v1/areas?' + new URLSearchParams({ level, limit: '100' }))).data.features;
    if (roots.length) return roots;
  }
  return [];
}

function round9(v) { return Math.round(v * 1e9) / 1e9; }

function ringsOf(g) {
  if (g.type === 'Polygon') return g.coordinates;
  if (g.type === 'MultiPolygon') return g.coordinates.flat();
  return [];
}

// terra-draw edits Polygons; a one-part MultiPolygon (how the registry stores areas) is one.
function polygonOf(g) {
  if (g.type === 'Polygon') return g;
  if (g.type === 'MultiPolygon' && g.coordinates.length === 1) return { type: 'Polygon', coordinates: g.coordinates[0] };
  return null;
}
