-- The tile cache in front of wangge, run by nginx's Lua module (Debian's libnginx-mod-http-lua).
--
-- What it does is what nginx's proxy_cache did for tiles, from shared memory instead of files:
--   * a tile wangge answered is answered again from memory for `fresh_s` seconds (the configured
--     age limit: an older copy is answered only while a request is revalidating it, at most 5 s,
--     or while wangge cannot answer, as below);
--   * after that, the next request revalidates it: it asks wangge with If-None-Match, a 304 (no
--     re-encoding, no body) makes it fresh again, a 200 replaces it;
--   * while one request revalidates a tile, the others are answered the stale copy rather than all
--     going to wangge (proxy_cache_use_stale updating), and so are requests while wangge cannot
--     answer at all (error, timeout, 502, 503);
--   * a client's own If-None-Match is answered 304 from memory.
-- nginx remains the proxy: every request that reaches wangge goes through the internal location
-- `upstream_location` (proxy_pass with its balancing and health checks); this file only decides
-- whether one is needed.
--
-- Why not proxy_cache: nginx's file cache answers a hit with two preads of the cache file (its
-- header, then the body again) beside the client's recv and writev; on this kind of machine a
-- system call is most of a hit's cost, and a hit cost 1.6x nginx's bare `return 200`. From memory
-- a hit is the client's recv and writev only.
--
-- The key is what wangge varies a tile by: the path with its query, the credentials (a scoped
-- token sees less; Authorization and Cookie) and whether the client takes gzip.
-- An entry is one shared-dict value: "fresh_until\tetag\tcontent-type\tcontent-encoding\t
-- cache-control\tvary\tstatus\n" followed by the body. It lives `keep_s` seconds after it was last
-- stored (nginx's proxy_cache_path inactive=), so that an old tile still costs only a 304.

local lrucache = require "resty.lrucache"

local M = {}

-- The settings, all given by nginx.conf (tools/cluster writes it): one place to tune them.
local dict
local fresh_s, keep_s, max_entry_bytes, upstream_location
-- Each worker keeps the entries it answered lately already split into their parts: a hit then
-- costs no copy out of shared memory and no parsing. The shared dict stays the truth; a worker's
-- copy is used only while it is fresh, and a stale one is looked up again in the dict (another
-- worker may have revalidated it). Bounded: at most the `worker_entries` setting of entries, at most
-- `worker_entry_max_bytes` each; larger tiles are read from the dict each time.
local worker_entries, worker_entry_max_bytes

local ngx = ngx
local var = ngx.var
local header = ngx.header
local now = ngx.now
local find, sub, concat = string.find, string.sub, table.concat

-- Settings, from nginx.conf's init_by_lua_block (before the workers start).
function M.configure(settings)
  local function given(name)
    return assert(settings[name], "tile_cache.configure: no " .. name)
  end
  dict = assert(ngx.shared[given("dict")], "no lua_shared_dict named " .. tostring(settings.dict))
  fresh_s = given("fresh_s")
  keep_s = given("keep_s")
  max_entry_bytes = given("max_entry_bytes")
  upstream_location = given("upstream_location")
  worker_entry_max_bytes = given("worker_entry_max_bytes")
  -- Created before the workers fork: each worker gets its own.
  worker_entries = assert(lrucache.new(given("worker_entries")))
end

local function split_entry(value)
  local nl = find(value, "\n", 1, true)
  local meta = sub(value, 1, nl - 1)
  local fields, i, start = {}, 1, 1
  while true do
    local tab = find(meta, "\t", start, true)
    if not tab then
      fields[i] = sub(meta, start)
      break
    end
    fields[i] = sub(meta, start, tab - 1)
    i, start = i + 1, tab + 1
  end
  return {
    fresh_until = tonumber(fields[1]),
    etag = fields[2],
    content_type = fields[3],
    content_encoding = fields[4],
    cache_control = fields[5],
    vary = fields[6],
    status = tonumber(fields[7]),
    body = sub(value, nl + 1),
  }
end

local function keep_in_worker(key, entry)
  if #entry.body <= worker_entry_max_bytes then
    worker_entries:set(key, entry)
  end
end

local function store(key, entry)
  local value = concat({ entry.fresh_until, entry.etag, entry.content_type, entry.content_encoding,
    entry.cache_control, entry.vary, entry.status }, "\t") .. "\n" .. entry.body
  if #value > max_entry_bytes then
    return
  end
  -- A full dictionary evicts the least recently used entries (forcibly); a value that still does
  -- not fit is not cached, which costs only a trip to wangge.
  dict:set(key, value, keep_s)
  keep_in_worker(key, entry)
end

-- A header value as one string (a repeated header arrives as a table) and without the separators
-- of an entry's first line.
local function one(value)
  if type(value) == "table" then
    value = concat(value, ", ")
  end
  if value == nil then
    return ""
  end
  return (value:gsub("[\t\n]", " "))
end

-- Sends the status and, unless it has none, the body; headers set before are sent with it. The
-- headers go first even without a body: ngx.exit with an error status before them would send
-- nginx's own error page instead.
local function finish(status, body)
  ngx.status = status
  if body and #body > 0 and status ~= 204 and status ~= 304 then
    header["Content-Length"] = #body
    ngx.print(body)
  else
    ngx.send_headers()
  end
  return ngx.exit(ngx.HTTP_OK)
end

local function set_unless_empty(name, value)
  if value ~= "" then
    header[name] = value
  end
end

local function send_entry(entry, cache_status)
  local inm = var.http_if_none_match
  header["X-Cache"] = cache_status
  set_unless_empty("ETag", entry.etag)
  set_unless_empty("Cache-Control", entry.cache_control)
  set_unless_empty("Vary", entry.vary)
  if inm and entry.etag ~= "" and (inm == "*" or find(inm, entry.etag, 1, true)) then
    return finish(304)
  end
  if entry.status ~= 204 then
    set_unless_empty("Content-Type", entry.content_type)
    set_unless_empty("Content-Encoding", entry.content_encoding)
  end
  return finish(entry.status, entry.body)
end

-- Hop-by-hop and framing headers are nginx's own to send.
local not_passed = {
  ["connection"] = true, ["keep-alive"] = true, ["transfer-encoding"] = true,
  ["content-length"] = true, ["upgrade"] = true, ["trailer"] = true,
}

-- wangge's answer as it is, uncached (an error, a tile too large to keep).
local function pass_through(res, cache_status)
  header["X-Cache"] = cache_status
  if res.status >= 400 and (res.body == nil or #res.body == 0) then
    -- nginx's own failure to reach wangge (502, 504): a subrequest carries no error page, so
    -- the request's own error_page (a problem document, in nginx.conf) answers it.
    return ngx.exit(res.status)
  end
  for name, value in pairs(res.header) do
    if not not_passed[name:lower()] then
      header[name] = value
    end
  end
  return finish(res.status, res.body)
end

local function cacheable(res)
  return (res.status == 200 or res.status == 204) and res.header["Set-Cookie"] == nil and not res.truncated
end

local function from_response(res, t)
  local h = res.header
  return {
    fresh_until = t + fresh_s,
    etag = one(h["ETag"]),
    content_type = one(h["Content-Type"]),
    content_encoding = one(h["Content-Encoding"]),
    cache_control = one(h["Cache-Control"]),
    vary = one(h["Vary"]),
    status = res.status,
    body = res.body or "",
  }
end

local function ask_wangge(request_uri, etag)
  return ngx.location.capture(upstream_location, {
    method = ngx.HTTP_GET,
    vars = { wangge_tile_uri = request_uri, wangge_tile_inm = etag or "" },
  })
end

-- The content handler of nginx's `location /tiles/`.
function M.serve()
  local method = ngx.req.get_method()
  if method ~= "GET" and method ~= "HEAD" then
    -- wangge answers its own 405 (with Allow) for anything else under /tiles/.
    return ngx.exec("@wangge")
  end
  local request_uri = var.request_uri
  local key = request_uri .. "|" .. (var.http_authorization or "") .. "|" .. (var.http_cookie or "") .. "|" .. var.wangge_gzip
  local t = now()
  local entry = worker_entries:get(key)
  if not entry or t >= entry.fresh_until then
    local value = dict:get(key)
    entry = value and split_entry(value)
    if entry then
      keep_in_worker(key, entry)
    end
  end
  if entry and t < entry.fresh_until then
    return send_entry(entry, "HIT")
  end
  if entry then
    -- Stale: one request revalidates it, the others get the stale copy meanwhile.
    local lock = "lock|" .. key
    if not dict:add(lock, true, 5) then  -- 5 s: a revalidation that died leaves no lock behind
      return send_entry(entry, "UPDATING")
    end
    local res = ask_wangge(request_uri, entry.etag ~= "" and entry.etag or nil)
    dict:delete(lock)
    if res.status == 304 then
      entry.fresh_until = now() + fresh_s
      store(key, entry)
      return send_entry(entry, "REVALIDATED")
    end
    if cacheable(res) then
      entry = from_response(res, now())
      store(key, entry)
      return send_entry(entry, "EXPIRED")
    end
    if res.status == 502 or res.status == 503 or res.status == 504 then
      return send_entry(entry, "STALE")
    end
    dict:delete(key)
    worker_entries:delete(key)
    return pass_through(res, "EXPIRED")
  end
  local res = ask_wangge(request_uri, nil)
  if cacheable(res) then
    entry = from_response(res, now())
    store(key, entry)
    return send_entry(entry, "MISS")
  end
  return pass_through(res, "MISS")
end

return M
