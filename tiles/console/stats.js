// 统计分析: the case figures of an area over a period (headline counts and rates, a chart over time,
// a chart by category or by sub-area), the evaluation ranking (考核) with the figures behind each
// score, and the grid workers' table; every table downloads as XLSX or CSV from the same endpoint
// (format=xlsx|csv), which the browser fetches with the session cookie like any other request.
// Only the public API: GET /v1/stats/cases, /v1/stats/workers, /v1/stats/evaluation.
// ECharts comes as a bundle of its own (charts.js), loaded when the page is first opened.
import { api, describe } from './api.js';
import { el, toast, levelNames } from './ui.js';

let echarts = null;
let chartsLoading = null;
function loadCharts() {
  if (!chartsLoading) {
    chartsLoading = new Promise((resolve, reject) => {
      const script = document.createElement('script');
      script.src = '/vendor/console-charts.js';
      script.onload = () => { echarts = window.wanggeCharts; resolve(); };
      script.onerror = () => { chartsLoading = null; reject(new Error('图表库加载失败')); };
      document.head.append(script);
    });
  }
  return chartsLoading;
}

const DAY_MS = 86400000;
// Figures are counted by Asia/Shanghai calendar days (UTC+8 all year).
const shanghaiToday = () => new Date(Date.now() + 8 * 3600 * 1000).toISOString().slice(0, 10);
const addDays = (day, n) => new Date(Date.parse(day + 'T00:00:00Z') + n * DAY_MS).toISOString().slice(0, 10);
const percent = (r) => (r === null || r === undefined ? '—' : (r * 100).toFixed(1) + '%');
const number = (v, digits = 0) => (v === null || v === undefined ? '—' : Number(v).toFixed(digits));
// Longer periods are drawn by month: a year of days is too many bars to read.
const MAX_DAYS_BY_DAY = 62;

const figureNames = [['reported', '上报'], ['registered', '立案'], ['dispatched', '派遣'], ['closed', '结案'],
                     ['closed_on_time', '按期结案'], ['overdue_now', '当前超期'], ['returned', '返工'], ['verification_due', '应核查'],
                     ['verified_on_time', '及时核查']];
const rateNames = [['on_time_close_rate', '按期结案率'], ['rework_rate', '返工率'], ['timely_verification_rate', '及时核查率']];
const scoreNames = { closure_rate: '结案率', on_time_close_rate: '按期结案率', timely_verification_rate: '及时核查率', rework_rate: '返工率',
                     overdue_rate: '超期率' };

export function startStats(root, ctx) {
  const { user } = ctx;
  let charts = [];
  let loaded = false;
  let loading = null;
  // The chart drawn on an element, as ECharts holds it (its options are the numbers it shows):
  // what the browser tests read back.
  ctx.chartOf = (node) => (echarts ? echarts.getInstanceByDom(node) : null);

  // --- layout -----------------------------------------------------------------------------------
  const area = el('select', { id: 'stats-area', 'aria-label': '统计区域' });
  const from = el('input', { id: 'stats-from', type: 'date', 'aria-label': '开始日期' });
  const to = el('input', { id: 'stats-to', type: 'date', 'aria-label': '结束日期' });
  const month = el('input', { id: 'stats-month', type: 'month', 'aria-label': '考核月份' });
  const byWhat = el('select', { id: 'stats-by', 'aria-label': '分布方式' },
    el('option', { value: 'category', text: '按事件类别' }), el('option', { value: 'area', text: '按下级区域' }));
  const headline = el('div', { id: 'stats-headline', class: 'figures' });
  const timeChart = el('div', { id: 'chart-time', class: 'chart', role: 'img', 'aria-label': '事件数量随时间变化' });
  const splitChart = el('div', { id: 'chart-split', class: 'chart', role: 'img', 'aria-label': '事件分布' });
  const evaluation = el('div', { id: 'stats-evaluation' });
  const workers = el('div', { id: 'stats-workers' });
  const casesTable = el('div', { id: 'stats-cases' });
  const status = el('span', { id: 'stats-status', class: 'muted' });
  // Shown when the period has no cases but an earlier one has: says so and offers that period.
  const note = el('div', { id: 'stats-note', class: 'row notice', hidden: true });
  const quick = (text, fn) => el('button', { type: 'button', text, onclick: () => { fn(); refresh(); } });
  root.append(
    el('h2', { text: '统计分析' }),
    el('div', { class: 'row stats-pickers' },
      el('label', {}, '区域 ', area),
      el('label', {}, '从 ', from), el('label', {}, '至 ', to),
      quick('近30天', () => { to.value = shanghaiToday(); from.value = addDays(to.value, -29); }),
      quick('本月', () => { to.value = shanghaiToday(); from.value = to.value.slice(0, 8) + '01'; }),
      el('button', { id: 'stats-apply', type: 'button', class: 'primary', text: '查询', onclick: () => refresh() }),
      status),
    note,
    headline,
    el('div', { class: 'charts' },
      el('section', {}, el('h3', { id: 'chart-time-title', text: '事件趋势' }), timeChart),
      el('section', {}, el('h3', {}, '事件分布 ', byWhat), splitChart)),
    el('section', {}, el('h3', {}, '考核排名 ', el('label', { class: 'muted' }, '考核月份 ', month)), evaluation),
    el('section', {}, el('h3', { text: '分组明细' }), casesTable),
    el('section', {}, el('h3', { text: '网格员工作统计' }), workers));
  byWhat.addEventListener('change', () => refresh());
  month.addEventListener('change', () => refreshEvaluation().catch(report));
  area.addEventListener('change', () => refresh());

  // --- the parameters ---------------------------------------------------------------------------
  function params(extra = {}) {
    const q = new URLSearchParams();
    if (area.value) q.set('area', area.value);
    if (from.value) q.set('from', from.value);
    if (to.value) q.set('to', to.value);
    for (const [k, v] of Object.entries(extra)) q.set(k, v);
    return q;
  }
  const days = () => Math.round((Date.parse(to.value) - Date.parse(from.value)) / DAY_MS) + 1;

  // The person's scope first (a township leader sees the township), then the areas under it.
  async function fillAreas() {
    const scope = user.scope;
    area.replaceChildren();
    let children = [];
    if (scope) {
      const own = (await api('GET', '/v1/areas/' + encodeURIComponent(scope))).data.properties;
      area.append(el('option', { value: own.code, text: `${own.name} (${levelNames[own.level] || own.level})` }));
      if (own.level !== 'grid' && own.level !== 'microgrid') children = (await api('GET', `/v1/areas/${encodeURIComponent(scope)}/children`)).data.features;
    } else {
      area.append(el('option', { value: '', text: '全部辖区' }));
      children = (await api('GET', '/v1/areas?level=county&limit=50')).data.features;
    }
    area.append(...children.map((f) => el('option', { value: f.properties.code,
      text: '· ' + f.properties.name + ' (' + (levelNames[f.properties.level] || f.properties.level) + ')' })));
  }

  // A table with its XLSX and CSV downloads: the same request as the table's, with format=.
  function downloads(path, q, name) {
    const link = (format, text) => {
      const p = new URLSearchParams(q);
      p.set('format', format);
      return el('a', { class: 'download', href: `${path}?${p}`, download: `${name}.${format}`, 'data-format': format, text });
    };
    return el('span', { class: 'downloads', 'data-table': name }, link('xlsx', '下载 XLSX'), link('csv', '下载 CSV'));
  }

  // The board's look (class board), with a table's own layout (console.css, table.board.stats).
  function table(id, columns, rows) {
    return el('div', { class: 'table-box' }, el('table', { id, class: 'board stats' },
      el('thead', {}, el('tr', {}, ...columns.map(([, title]) => el('th', { text: title })))),
      el('tbody', {}, ...rows.map((r) => el('tr', {}, ...columns.map(([key, , fmt]) => el('td', { text: fmt ? fmt(r[key], r) : r[key] ?? '—' })))))));
  }

  // --- the figures ------------------------------------------------------------------------------
  function showHeadline(totals) {
    const avg = totals.avg_handling_working_hours;
    headline.replaceChildren(
      ...figureNames.map(([k, t]) => el('div', { class: 'figure', 'data-key': k }, el('b', { text: String(totals[k]) }), el('span', { text: t }))),
      ...rateNames.map(([k, t]) => el('div', { class: 'figure rate', 'data-key': k }, el('b', { text: percent(totals[k]) }), el('span', { text: t }))),
      el('div', { class: 'figure', 'data-key': 'avg_handling_working_hours' }, el('b', { text: number(avg, 1) }), el('span', { text: '平均处置工时' })),
      el('div', { class: 'figure', 'data-key': 'p90_handling_working_hours' }, el('b', { text: number(totals.p90_handling_working_hours, 1) }),
        el('span', { text: 'P90处置工时' })));
  }

  // Every day (or month) of the period on the axis, those without cases at zero.
  function axisOf(by) {
    const labels = [];
    if (by === 'day') for (let d = from.value; d <= to.value; d = addDays(d, 1)) labels.push(d);
    else for (let m = from.value.slice(0, 7); m <= to.value.slice(0, 7);) {
      labels.push(m);
      const [y, mo] = m.split('-').map(Number);
      m = mo === 12 ? `${y + 1}-01` : `${y}-${String(mo + 1).padStart(2, '0')}`;
    }
    return labels;
  }

  function drawTime(doc) {
    const by = doc.group_by;
    const labels = axisOf(by);
    const of = new Map(doc.groups.map((g) => [g.group, g]));
    const series = (key) => labels.map((l) => (of.get(l) ? of.get(l)[key] : 0));
    const rate = labels.map((l) => { const g = of.get(l); return g && g.on_time_close_rate !== null ? Math.round(g.on_time_close_rate * 1000) / 10 : null; });
    document.getElementById('chart-time-title').textContent = by === 'day' ? '事件趋势 (按日)' : '事件趋势 (按月)';
    chart(timeChart).setOption({
      tooltip: { trigger: 'axis' },
      legend: { top: 0, data: ['上报', '结案', '按期结案率'] },
      grid: { left: 40, right: 48, bottom: 30, top: 56 },
      xAxis: { type: 'category', data: labels },
      yAxis: [{ type: 'value', name: '件', minInterval: 1 }, { type: 'value', name: '%', max: 100, min: 0 }],
      series: [{ name: '上报', type: 'bar', data: series('reported') }, { name: '结案', type: 'bar', data: series('closed') },
               { name: '按期结案率', type: 'line', yAxisIndex: 1, data: rate, connectNulls: true }],
    }, true);
  }

  function drawSplit(doc) {
    const groups = doc.groups.slice().sort((a, b) => b.reported - a.reported);
    chart(splitChart).setOption({
      tooltip: { trigger: 'axis' },
      legend: { top: 0, data: ['上报', '结案', '当前超期'] },
      grid: { left: 110, right: 20, bottom: 30, top: 40 },
      yAxis: { type: 'category', data: groups.map((g) => g.name || g.group), inverse: true },
      xAxis: { type: 'value', minInterval: 1 },
      series: [{ name: '上报', type: 'bar', data: groups.map((g) => g.reported) },
               { name: '结案', type: 'bar', data: groups.map((g) => g.closed) },
               { name: '当前超期', type: 'bar', data: groups.map((g) => g.overdue_now) }],
    }, true);
    const rows = doc.groups.concat([Object.assign({ group: '合计', name: '合计' }, doc.totals)]);
    casesTable.replaceChildren(
      el('div', { class: 'row' }, downloads('/v1/stats/cases', params({ group_by: byWhat.value }), 'cases')),
      table('stats-cases-table', [['name', byWhat.value === 'area' ? '区域' : '类别', (v, r) => v || r.group],
        ...figureNames.map(([k, t]) => [k, t]), ...rateNames.map(([k, t]) => [k, t, percent]),
        ['avg_handling_working_hours', '平均工时', (v) => number(v, 1)]], rows));
  }

  function chart(node) {
    let c = echarts.getInstanceByDom(node);
    if (!c) { c = echarts.init(node, null, { renderer: 'canvas' }); charts.push(c); }
    return c;
  }

  async function refreshEvaluation() {
    const q = new URLSearchParams({ period: month.value });
    if (area.value) q.set('area', area.value);
    const doc = (await api('GET', '/v1/stats/evaluation?' + q)).data;
    const items = Object.keys(doc.weights);
    const weights = items.map((k) => `${scoreNames[k] || k} ${doc.weights[k].weight}${doc.weights[k].higher_is_better ? '' : ' (越低越好)'}`).join('，');
    const columns = [['rank', '排名'], ['name', '区域'], ['score', '得分', (v) => number(v, 2)],
      ...items.map((k) => [k, scoreNames[k] || k, percent]),
      ['reported', '上报'], ['registered', '立案'], ['closed', '结案'], ['closed_on_time', '按期结案'], ['overdue_now', '当前超期'],
      ['returned', '返工'], ['verification_due', '应核查'], ['verified_on_time', '及时核查']];
    const parts = [el('p', { class: 'muted', text: `${doc.from} 至 ${doc.to}；权重：${weights}` }),
      el('div', { class: 'row' }, downloads('/v1/stats/evaluation', q, 'evaluation')),
      table('stats-evaluation-table', columns, doc.areas)];
    if (Array.isArray(doc.departments) && doc.departments.length)
      parts.push(el('h4', { text: '处置部门考核' }),
        el('div', { class: 'row' }, downloads('/v1/stats/evaluation', Object.fromEntries([...q, ['table', 'departments']]), 'evaluation-departments')),
        table('stats-departments-table', columns.map((c) => (c[0] === 'name' ? ['name', '部门'] : c)), doc.departments));
    evaluation.replaceChildren(...parts);
  }

  async function refreshWorkers() {
    const q = params();
    const doc = (await api('GET', '/v1/stats/workers?' + q)).data;
    workers.replaceChildren(
      el('div', { class: 'row' }, downloads('/v1/stats/workers', q, 'workers'), el('span', { class: 'muted', text: `共 ${doc.workers.length} 名网格员` })),
      table('stats-workers-table', [['name', '网格员'], ['area', '所属区域'], ['checkpoints_due', '应巡查'], ['checkpoints_visited', '已巡查'],
        ['patrol_completion_rate', '巡查完成率', percent], ['patrol_metres', '巡查里程(公里)', (v) => number(v / 1000, 2)],
        ['patrol_hours', '巡查时长(小时)', (v) => number(v, 1)], ['cases_reported', '上报事件'], ['cases_handled', '处置事件'],
        ['verifications', '核查次数']], doc.workers));
  }

  // The case figures may still be loading right after a start (503 stats_loading): asked again.
  async function casesOf(q) {
    for (let attempt = 0; ; attempt++) {
      try {
        return (await api('GET', '/v1/stats/cases?' + q)).data;
      } catch (err) {
        if (err.code !== 'stats_loading' || attempt >= 10) throw err;
        await new Promise((r) => setTimeout(r, 1000));
      }
    }
  }

  function report(err) { toast('统计: ' + describe(err)); status.textContent = '加载失败'; }

  // A period without cases (a fresh page on data of months ago opens on an empty last 30 days):
  // the latest month with cases over the ten years the API counts at most, then its latest day,
  // give the 30 days up to that day, offered with a button (the period asked for is kept).
  let noteFor = 0;
  async function offerLatest(totals, asked) {
    note.hidden = true;
    note.replaceChildren();
    if (totals.reported > 0) return;
    const today = shanghaiToday();
    const q = (f, t, by) => { const p = params({ group_by: by }); p.set('from', f); p.set('to', t); return p; };
    const months = (await casesOf(q(addDays(today, -3659), today, 'month'))).groups.filter((g) => g.reported > 0);
    if (!months.length || asked !== noteFor) return;
    const latest = months.map((g) => g.group).sort().pop();
    const [y, m] = latest.split('-').map(Number);
    const monthEnd = addDays(m === 12 ? `${y + 1}-01-01` : `${y}-${String(m + 1).padStart(2, '0')}-01`, -1);
    const days = (await casesOf(q(latest + '-01', monthEnd < today ? monthEnd : today, 'day'))).groups.filter((g) => g.reported > 0);
    if (!days.length || asked !== noteFor) return;
    const last = days.map((g) => g.group).sort().pop();
    const first = addDays(last, -29);
    note.append(el('span', { text: `${from.value} 至 ${to.value} 没有事件；最近的事件在 ${last}。` }),
      el('button', { id: 'stats-latest', type: 'button', text: `查看 ${first} 至 ${last}`,
        onclick: () => { from.value = first; to.value = last; refresh(); } }));
    note.hidden = false;
  }

  async function refresh() {
    if (!from.value || !to.value) return;
    if (from.value > to.value) { toast('开始日期不能晚于结束日期'); return; }
    status.textContent = '加载中…';
    delete root.dataset.loaded;
    const asked = ++noteFor;
    note.hidden = true;
    const by = days() <= MAX_DAYS_BY_DAY ? 'day' : 'month';
    try {
      const [overTime, split] = await Promise.all([casesOf(params({ group_by: by })), casesOf(params({ group_by: byWhat.value }))]);
      showHeadline(overTime.totals);
      drawTime(overTime);
      drawSplit(split);
      await Promise.all([refreshEvaluation(), refreshWorkers()]);
      status.textContent = `${overTime.area ? overTime.area.name : '全部辖区'} · ${overTime.from} 至 ${overTime.to}`;
      root.dataset.loaded = params().toString();
      offerLatest(overTime.totals, asked).catch(() => {});  // only a hint: the figures asked for are shown
    } catch (err) { report(err); }
  }

  return {
    async show() {
      document.getElementById('console').classList.add('wide');
      if (!loaded) {
        loaded = true;
        to.value = shanghaiToday();
        from.value = addDays(to.value, -29);
        month.value = to.value.slice(0, 7);
        loading = fillAreas().catch((err) => toast('区域: ' + describe(err)));
      }
      try {
        await Promise.all([loading, loadCharts()]);
      } catch (err) { toast(err.message); return; }
      await refresh();
      for (const c of charts) c.resize();
    },
    hide() {
      const main = document.getElementById('console');
      if (main.classList.contains('wide')) {
        main.classList.remove('wide');
        ctx.map.resize();
      }
    },
  };
}
