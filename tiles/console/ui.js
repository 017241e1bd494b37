// Small DOM helpers: every text goes in through textContent, never innerHTML, so names and notes
// typed by people cannot inject markup.
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on')) node.addEventListener(k.slice(2), v);
    else if (k === 'text') node.textContent = v;
    else if (k === 'dataset') Object.assign(node.dataset, v);
    else node.setAttribute(k, v === true ? '' : v);
  }
  for (const c of children.flat()) if (c !== null && c !== undefined && c !== false) node.append(c instanceof Node ? c : String(c));
  return node;
}

let toastTimer = 0;
export function toast(text) {
  const t = document.getElementById('toast');
  t.textContent = text;
  t.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => { t.hidden = true; }, 6000);
}

// Beijing time (UTC+8, no daylight saving), whatever the browser's own zone: deadlines fall on
// the working calendar's hours (e.g. 17:30), and a dispatcher's colleagues read the same times.
export function formatTime(iso) {
  if (!iso) return '—';
  const ms = Date.parse(iso);
  if (Number.isNaN(ms)) return '—';
  return new Date(ms + 8 * 3600 * 1000).toISOString().slice(0, 19).replace('T', ' ');
}

// The roles as people call them (the header, and every sentence that names a person's role).
export const roleNames = { admin: '管理员', manager: '网格管理员', dispatcher: '调度员', analyst: '分析员', worker: '网格员', viewer: '查看' };

export const levelNames = { province: '省', city: '市', county: '区县', township: '乡镇街道', village: '村社区', grid: '网格', microgrid: '微网格' };

// Bounds [[minLon, minLat], [maxLon, maxLat]] of any GeoJSON geometry.
export function bounds(geometry) {
  let minx = Infinity, miny = Infinity, maxx = -Infinity, maxy = -Infinity;
  const walk = (c) => {
    if (typeof c[0] === 'number') {
      minx = Math.min(minx, c[0]); miny = Math.min(miny, c[1]); maxx = Math.max(maxx, c[0]); maxy = Math.max(maxy, c[1]);
    } else for (const x of c) walk(x);
  };
  walk(geometry.coordinates);
  return [[minx, miny], [maxx, maxy]];
}
