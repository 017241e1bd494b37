// 数据交换 (GIS teams): import a file (shapefile ZIP, GeoPackage, GeoJSON, KML, CSV) through
// POST /v1/import, first as a dry run whose report is shown in a list and on the map (the ground
// two features overlap, the part outside the parent, the spot where a ring is invalid), then for
// real; export a layer through GET /v1/export with every option the API takes; and the OGC API
// address a desktop GIS (QGIS) connects to, with how it authenticates.
import { api, describe } from './api.js';
import { setOverlay, clearOverlay, setOverlayVisible } from './overlays.js';
import { el, toast, levelNames, roleNames, bounds } from './ui.js';

const problemNames = {
  invalid_geometry: '几何无效', overlap: '与文件中另一要素重叠', overlaps_sibling: '与现有同级区域重叠', outside_parent: '超出上级区域',
  code_taken: '代码已被占用', code_retired: '代码属于已退役区域', children_outside: '下级区域会落在外面', gap: '上级区域留有空隙',
  has_children: '将退役的区域仍有下级', area_too_small: '面积过小', parent_not_found: '上级不存在', parent_level_mismatch: '上级级别不符',
  no_areas: '文件中没有可导入的区域', outside_scope: '超出管辖范围',
};
const formats = { shapefile: 'Shapefile (ZIP)', gpkg: 'GeoPackage', geojson: 'GeoJSON', flatgeobuf: 'FlatGeobuf', kml: 'KML', csv: 'CSV (WKT)' };
const crsChoices = { 'EPSG:4490': 'CGCS2000 经纬度 (EPSG:4490)', 'EPSG:4326': 'WGS84 (EPSG:4326)', 'EPSG:3857': 'Web 墨卡托 (EPSG:3857)',
                     'EPSG:4527': 'CGCS2000 3度带 39 (EPSG:4527)', 'EPSG:4528': 'CGCS2000 3度带 40 (EPSG:4528)', 'EPSG:4529': 'CGCS2000 3度带 41 (EPSG:4529)',
                     'EPSG:4548': 'CGCS2000 3度带 CM 117E (EPSG:4548)', 'EPSG:4549': 'CGCS2000 3度带 CM 120E (EPSG:4549)', 'EPSG:4550': 'CGCS2000 3度带 CM 123E (EPSG:4550)' };

export function startGis(root, ctx) {
  const { map, user } = ctx;
  const mayImport = user.role === 'admin' || user.role === 'manager';

  const setVisible = (on) => setOverlayVisible(map, ['gis-file', 'gis-problems'], on);

  const select = (id, options, value) => el('select', { id }, ...Object.entries(options).map(([v, t]) => el('option', { value: v, selected: v === value, text: t })));
  const labelled = (text, control) => el('label', { class: 'row' }, el('span', { text }), control);
  const levels = Object.fromEntries(Object.entries(levelNames));

  // --- import -------------------------------------------------------------------------------------
  const file = el('input', { id: 'import-file', type: 'file', accept: '.zip,.gpkg,.geojson,.json,.kml,.csv' });
  const level = select('import-level', levels, 'grid');
  const parent = el('input', { id: 'import-parent', placeholder: '上级代码 (如 330521001001)', value: user.scope || '', autocomplete: 'off' });
  const mode = select('import-mode', { insert: '只新增', upsert: '新增或更新 (同代码更新)', 'replace-children': '替换上级的全部下级 (重新划分)' }, 'upsert');
  const crs = select('import-crs', { '': '按文件 (.prj)', 'EPSG:4490': 'CGCS2000 (EPSG:4490)', 'EPSG:4326': 'WGS84 (EPSG:4326)', gcj02: '高德/腾讯 (GCJ-02)', bd09: '百度 (BD-09)' }, '');
  const encoding = select('import-encoding', { '': '自动 (.cpg / LDID / 识别)', 'utf-8': 'UTF-8', gbk: 'GBK' }, '');
  const checkBtn = el('button', { id: 'btn-import-check', type: 'button', text: '检查 (预演)', onclick: () => runImport(true) });
  const commitBtn = el('button', { id: 'btn-import-commit', type: 'button', class: 'primary', text: '导入', disabled: true, onclick: () => runImport(false) });
  const report = el('div', { id: 'import-report' });
  let checked = null;  // {file, query} of the last clean dry run: only that exact file and those options are imported

  for (const control of [file, level, parent, mode, crs, encoding]) control.addEventListener('change', () => reset());
  file.addEventListener('change', () => readLocally());

  // --- export -------------------------------------------------------------------------------------
  const exLayer = select('export-layer', { areas: '区域', incidents: '事件', checkpoints: '巡查点' }, 'areas');
  const exLevel = select('export-level', Object.assign({ '': '全部级别' }, levels), 'grid');
  const exArea = el('input', { id: 'export-area', placeholder: '区域代码 (留空为全部)', value: user.scope || '', autocomplete: 'off' });
  const exFormat = select('export-format', formats, 'shapefile');
  const exCrs = select('export-crs', crsChoices, 'EPSG:4490');
  const exEncoding = select('export-encoding', { 'utf-8': 'UTF-8', gbk: 'GBK (旧版 ArcGIS 等)' }, 'utf-8');
  const exAt = el('input', { id: 'export-at', type: 'date', 'aria-label': '历史日期' });
  const exLink = el('a', { id: 'export-link', class: 'button primary', href: '#', download: '', text: '下载' });
  const exUrl = el('code', { id: 'export-url' });
  const exNote = el('p', { class: 'muted', id: 'export-note' });
  for (const control of [exLayer, exLevel, exArea, exFormat, exCrs, exEncoding, exAt]) {
    control.addEventListener('change', updateExport);
    control.addEventListener('input', updateExport);
  }

  // --- OGC API ------------------------------------------------------------------------------------
  const ogc = location.origin + '/ogc';
  const collections = el('ul', { id: 'ogc-collections', class: 'list' });

  root.append(
    el('h2', { text: '数据交换' }),
    el('details', { class: 'box', open: true, id: 'import-box' }, el('summary', { text: '导入' }),
      mayImport ? el('div', {},
        el('p', { class: 'hint', text: '上传 Shapefile (ZIP)、GeoPackage、GeoJSON、KML 或 CSV。先 “检查”：问题会列在下面并标在地图上；没有问题时再 “导入”。一次导入全部成功或全部不写入。' }),
        labelled('文件', file), labelled('级别', level), labelled('上级', parent), labelled('方式', mode), labelled('坐标系', crs), labelled('编码', encoding),
        el('div', { class: 'row' }, checkBtn, commitBtn),
        report)
        : el('p', { class: 'warn', id: 'import-denied', text: '您的角色 (' + (roleNames[user.role] || user.role) + ') 不能导入，只能导出。' })),
    el('details', { class: 'box', open: true, id: 'export-box' }, el('summary', { text: '导出' }),
      labelled('图层', exLayer), labelled('级别', exLevel), labelled('区域', exArea), labelled('格式', exFormat), labelled('坐标系', exCrs),
      labelled('编码', exEncoding), labelled('历史日期 (at)', exAt),
      el('p', { class: 'muted', text: '历史日期留空为当前状态；填日期则导出该日 24 时 (北京时间) 的状态。编码只对 Shapefile 有效。' }),
      el('div', { class: 'row' }, exLink), exUrl, exNote),
    el('details', { class: 'box', open: true, id: 'ogc-box' }, el('summary', { text: 'QGIS / OGC API' }),
      el('p', {}, 'OGC API - Features 地址: ', el('code', { id: 'ogc-url', text: ogc })),
      el('ol', { id: 'ogc-howto' },
        el('li', { text: 'QGIS: 图层 → 添加图层 → 添加 WFS / OGC API - Features 图层 → 新建连接。' }),
        el('li', { text: 'URL 填上面的地址；版本选 “OGC API - Features”。' }),
        el('li', { text: '认证 → 基本 (Basic)：用户名填您的账号 (' + user.login + ')，密码填 API 令牌 (不是登录密码)。令牌由管理员用 wangge token create --role analyst --scope ' + (user.scope || '<区域代码>') + ' 生成，权限与辖区同样生效。' }),
        el('li', {}, 'GDAL/ogr2ogr: ', el('code', { text: 'GDAL_HTTP_AUTH=BASIC GDAL_HTTP_USERPWD=' + user.login + ':<令牌> ogrinfo OAPIF:' + ogc }))),
      el('h4', { text: '可用的图层 (collections)' }), collections));

  function queryOf(dryRun) {
    const q = { level: level.value, mode: mode.value, dry_run: String(dryRun) };
    if (parent.value.trim()) q.parent = parent.value.trim();
    if (crs.value) q.crs = crs.value;
    if (encoding.value) q.encoding = encoding.value;
    return new URLSearchParams(q).toString();
  }

  function reset() {
    checked = null;
    commitBtn.disabled = true;
    report.replaceChildren();
    clearOverlay(map, 'gis-problems');
  }

  // A GeoJSON file is read by the page too, so the features the report names are outlined on
  // the map (the server names them by their position in the file, counted from 1).
  let fileFeatures = [];
  async function readLocally() {
    fileFeatures = [];
    clearOverlay(map, 'gis-file');
    const f = file.files[0];
    if (!f || !/\.(geo)?json$/i.test(f.name) || f.size > 50 << 20) return;
    try {
      const doc = JSON.parse(await f.text());
      fileFeatures = doc.type === 'FeatureCollection' ? doc.features : [];
      drawFile(new Set());
    } catch (err) { fileFeatures = []; }
  }

  function drawFile(flagged) {
    const features = fileFeatures.filter((f) => f && f.geometry).map((f, i) => ({ type: 'Feature', geometry: f.geometry,
      properties: { n: i + 1, problem: flagged.has(i + 1) } }));
    setOverlay(map, 'gis-file', { type: 'FeatureCollection', features });
  }

  async function runImport(dryRun) {
    const f = file.files[0];
    if (!f) { toast('请选择文件'); return; }
    const query = queryOf(dryRun);
    if (!dryRun && (!checked || checked.file !== f || checked.query !== queryOf(true))) { toast('请先检查此文件'); return; }
    const type = /\.zip$/i.test(f.name) ? 'application/zip' : /\.(geo)?json$/i.test(f.name) ? 'application/geo+json' : 'application/octet-stream';
    checkBtn.disabled = commitBtn.disabled = true;
    report.replaceChildren(el('p', { class: 'muted', text: dryRun ? '正在检查…' : '正在导入…' }));
    try {
      const { status, data } = await api('POST', '/v1/import?' + query, { body: f, type });
      if (dryRun) {
        showReport(data);
        if (data.valid) checked = { file: f, query };
        commitBtn.disabled = !data.valid;
      } else {
        showReport(data);
        report.prepend(el('p', { id: 'import-done', class: 'hint', dataset: { written: String(data.written) },
          text: status === 201 ? `已导入：写入 ${data.written} 个区域。` : '已导入：文件与现有数据相同，没有改变。' }));
        checked = null;
        ctx.refreshTiles();
        toast('导入完成');
      }
    } catch (err) {
      // A real run refused (the data changed since the check): its report comes with the problem.
      if (err.code === 'import_invalid' && err.problem.report) showReport(err.problem.report);
      else report.replaceChildren(el('p', { id: 'import-error', class: 'error', text: describe(err) }));
    } finally {
      checkBtn.disabled = false;
    }
  }

  function showReport(r) {
    const problems = r.problems || [];
    const places = [];
    const flagged = new Set();
    const items = problems.map((p, i) => {
      if (p.feature) flagged.add(p.feature);
      const geometry = p.geometry || (Array.isArray(p.location) ? { type: 'Point', coordinates: p.location } : null);
      if (geometry) places.push({ type: 'Feature', geometry, properties: { i } });
      const target = geometry || (p.feature && fileFeatures[p.feature - 1] && fileFeatures[p.feature - 1].geometry);
      const words = [(problemNames[p.problem] || p.problem)];
      if (p.feature) words.push('第 ' + p.feature + ' 个要素');
      if (p.code) words.push('代码 ' + p.code);
      if (p.with) words.push('与 ' + p.with);
      if (p.area_m2) words.push(Math.round(p.area_m2) + ' m²');
      if (p.outside_m2) words.push('超出 ' + Math.round(p.outside_m2) + ' m²');
      // A problem the page can name is said in Chinese from its fields; the server's detail (in
      // English) stays as the line's tooltip, and is shown only for a problem the page cannot name.
      const known = Boolean(problemNames[p.problem]);
      const item = el('li', { title: p.detail || '', dataset: { problem: p.problem, feature: p.feature ? String(p.feature) : undefined, located: geometry ? 'true' : undefined } },
        el('strong', { text: words.join(' · ') }), known ? '' : el('div', { class: 'muted', text: p.detail || '' }));
      if (target) {
        item.append(el('button', { type: 'button', class: 'small', text: '在地图上查看', onclick: () => fit(target) }));
      }
      return item;
    });
    const skipped = (r.skipped || []).map((s) => el('li', { text: `第 ${s.feature} 个要素: ${s.reason || s.detail || ''}` }));
    const summary = [];
    if (r.features !== undefined) summary.push(`文件中 ${r.features} 个要素`);
    // The server names a CRS it read from the file's own description in English.
    if (r.crs) summary.push('坐标系 ' + (r.crs === 'from the file' ? '按文件自身的说明' : r.crs));
    if (r.encoding) summary.push(r.encoding);
    if (r.dry_run && r.inserted !== undefined) summary.push(`将新增 ${r.inserted} 个`);
    if (r.updated_or_unchanged !== undefined) summary.push(`将更新或保持 ${r.updated_or_unchanged} 个`);
    if (r.updated !== undefined) summary.push(`更新 ${r.updated} 个，未变 ${r.unchanged ?? 0} 个，新增 ${r.inserted ?? 0} 个`);
    if (r.gap_m2) summary.push(`上级未覆盖 ${Math.round(r.gap_m2)} m²`);
    report.replaceChildren(
      el('p', { id: 'import-summary', class: problems.length ? 'warn' : 'hint', dataset: { valid: String(!problems.length) },
        text: (r.dry_run ? '检查结果 (未写入): ' : '') + (problems.length ? `发现 ${problems.length} 个问题，不能导入。` : '没有问题，可以导入。') + ' ' + summary.join('，') }),
      problems.length ? el('ul', { id: 'import-problems', class: 'list' }, ...items) : '',
      skipped.length ? el('div', {}, el('h4', { text: `跳过的要素 (${skipped.length})` }), el('ul', { class: 'list', id: 'import-skipped' }, ...skipped)) : '');
    if (r.operation && r.operation.areas) {
      const changed = r.operation.areas.features || [];
      report.append(el('p', { id: 'import-operation', text: `重新划分: ${changed.length} 个区域改变，${(r.operation.retired || []).length} 个退役。` }));
    }
    setOverlay(map, 'gis-problems', { type: 'FeatureCollection', features: places.flatMap(explode) });
    drawFile(flagged);
    const firstPlace = places[0] ? places[0].geometry : [...flagged].map((n) => fileFeatures[n - 1] && fileFeatures[n - 1].geometry).find(Boolean);
    if (firstPlace) fit(firstPlace);
    else if (fileFeatures.length) fit({ type: 'GeometryCollection', geometries: fileFeatures.map((f) => f.geometry).filter(Boolean) });
  }

  function fit(geometry) {
    const b = boundsOf(geometry);
    if (b) map.fitBounds(b, { padding: 80, animate: false, maxZoom: 17 });
  }

  // --- export -------------------------------------------------------------------------------------
  function exportUrl() {
    const q = { layer: exLayer.value, format: exFormat.value, crs: exCrs.value };
    if (exLayer.value === 'areas' && exLevel.value) q.level = exLevel.value;
    if (exArea.value.trim()) q.area = exArea.value.trim();
    if (exFormat.value === 'shapefile') q.encoding = exEncoding.value;
    if (exAt.value) {
      // The state at the end of that day in Beijing time, or now when the day is today.
      const end = new Date(exAt.value + 'T23:59:59+08:00');
      q.at = (end > new Date() ? new Date() : end).toISOString().replace(/\.\d+Z$/, 'Z');
    }
    return '/v1/export?' + new URLSearchParams(q).toString();
  }

  function updateExport() {
    exLevel.disabled = exLayer.value !== 'areas';
    exEncoding.disabled = exFormat.value !== 'shapefile';
    const url = exportUrl();
    exLink.href = url;
    exUrl.textContent = location.origin + url;
    exNote.textContent = '下载使用您当前的登录；在脚本中请用 API 令牌 (Authorization: Bearer <令牌>)。';
  }

  async function loadCollections() {
    try {
      const { data } = await api('GET', '/ogc/collections');
      collections.replaceChildren(...data.collections.map((c) => el('li', { dataset: { collection: c.id } },
        el('code', { text: c.id }), ' ', c.title || '')));
    } catch (err) { collections.replaceChildren(el('li', { class: 'error', text: describe(err) })); }
  }

  updateExport();
  let started = false;
  return {
    show() {
      root.hidden = false;
      setVisible(true);
      if (!started) { started = true; loadCollections(); }
    },
    hide() { setVisible(false); },
  };
}

// Polygons and points one by one, so each layer's filter on the geometry type finds them.
function explode(f) {
  const g = f.geometry;
  if (g.type === 'MultiPolygon') return g.coordinates.map((c) => ({ type: 'Feature', properties: f.properties, geometry: { type: 'Polygon', coordinates: c } }));
  if (g.type === 'MultiPoint') return g.coordinates.map((c) => ({ type: 'Feature', properties: f.properties, geometry: { type: 'Point', coordinates: c } }));
  if (g.type === 'GeometryCollection') return g.geometries.flatMap((x) => explode({ type: 'Feature', properties: f.properties, geometry: x }));
  return [f];
}

function boundsOf(geometry) {
  if (geometry.type === 'GeometryCollection') {
    const all = geometry.geometries.map(boundsOf).filter(Boolean);
    if (!all.length) return null;
    return [[Math.min(...all.map((b) => b[0][0])), Math.min(...all.map((b) => b[0][1]))], [Math.max(...all.map((b) => b[1][0])), Math.max(...all.map((b) => b[1][1]))]];
  }
  if (!geometry.coordinates || !geometry.coordinates.length) return null;
  const b = bounds(geometry);
  // A point has no extent: a small box around it.
  if (b[0][0] === b[1][0] && b[0][1] === b[1][1]) return [[b[0][0] - 0.002, b[0][1] - 0.002], [b[1][0] + 0.002, b[1][1] + 0.002]];
  return b;
}
