// The console's only way to the server: the public API with the session cookie, which the browser
// sends by itself. Writes carry the session's CSRF token. Problems (application/problem+json) are
// thrown as ApiError with their stable `code`, so screens react to codes, never to wording.

let csrfToken = '';

export function setCsrf(token) { csrfToken = token || ''; }

export class ApiError extends Error {
  constructor(status, problem) {
    super(problem.detail || problem.title || 'HTTP ' + status);
    this.status = status;
    this.problem = problem;
    this.code = problem.code || '';
  }
}

// api(method, path, {body, headers, etag}) → {status, data, etag, headers}
export async function api(method, path, options = {}) {
  const headers = Object.assign({}, options.headers);
  if (method !== 'GET' && method !== 'HEAD') headers['X-CSRF-Token'] = csrfToken;
  let body;
  if (options.body !== undefined) {
    headers['Content-Type'] = options.type || 'application/json';
    // A file (Blob) goes up as it is: the import takes the file itself as the body.
    body = typeof options.body === 'string' || options.body instanceof Blob ? options.body : JSON.stringify(options.body);
  }
  if (options.ifMatch) headers['If-Match'] = options.ifMatch;
  if (options.ifNoneMatch) headers['If-None-Match'] = options.ifNoneMatch;
  return answer(await fetch(path, { method, headers, body, cache: 'no-store' }));
}

// A fetch Response as api() returns it (or throws it): also for the requests the page's boot
// script sent before this code was parsed (index.html).
export async function answer(r) {
  const type = r.headers.get('Content-Type') || '';
  let data = null;
  if (r.status !== 204 && r.status !== 304) data = type.includes('json') ? await r.json() : await r.text();
  if (r.status >= 400) throw new ApiError(r.status, data && typeof data === 'object' ? data : { detail: String(data) });
  return { status: r.status, data, etag: r.headers.get('ETag'), headers: r.headers };
}

// What a person reads when a request fails: the server's detail is English and technical, so the
// common codes get a Chinese sentence and the detail stays available beside it.
const messages = {
  outside_scope: '超出您的管辖范围',
  role_forbidden: '您的角色无权执行此操作',
  precondition_failed: '数据已被他人修改',
  gap_opened: '修改会留下空隙',
  overlaps_sibling: '与相邻网格重叠',
  neighbour_would_vanish: '相邻网格将被完全覆盖',
  line_does_not_cut: '画线没有把网格分成两部分',
  split_piece_too_small: '拆分后的某一块太小',
  areas_not_touching: '所选网格不相邻',
  not_siblings: '所选网格不属于同一上级',
  invalid_geometry: '边界无效',
  outside_parent: '超出上级区域',
  transition_not_allowed: '当前状态不允许此操作',
  session_expired: '登录已过期，请重新登录',
  unauthorized: '请先登录',
  busy: '系统繁忙，请稍后再试',
};

export function describe(err) {
  if (!(err instanceof ApiError)) return '请求失败: ' + err.message;
  const head = messages[err.code] || '操作失败';
  return head + (err.code ? ' (' + err.code + ')' : '') + ': ' + err.message;
}
