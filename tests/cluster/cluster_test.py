#!/usr/bin/env python3
"""The deployment of tools/cluster under failure, every figure printed:

1. coherence: an edit through one wangge process is seen by the other (area read, locate answer,
   tile) within 1 s; nginx's tile cache answers hits and If-None-Match itself, revalidates with a
   304 once a tile is older than its configured age, shows an edit within that age, and never
   answers an error or another client's credentials from memory;
2. a wangge process killed (-9) under a read load through nginx: failed reads;
3. a rolling restart (SIGTERM, drain, start) of every process under a read load: failed reads;
   every process stopped at once: cached tiles still answered by nginx, the rest 502 problem+json;
4. failover: a writer posts cases through nginx while the primary's PostgreSQL is killed (-9);
   acknowledged vs stored (lost), refused writes (503 problem+json), the time until writes succeed
   again (target <= 15 s), failed tile and locate reads meanwhile; then coherence again;
5. bulk reads (loads, exports) on a standby, read-your-writes kept (also with replay paused);
6. per-client back-off behind nginx (X-Forwarded-For from a trusted proxy).

Light by default (seconds per phase); WANGGE_CLUSTER_FULL=1 runs longer phases with more clients.
Loopback only, bounded in time and count. Exits 1 when a target is missed.
Usage: cluster_test.py  (with tools/cluster's variables in the environment, see tools/cluster-test)"""
import http.client
import json
import os
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FULL = os.environ.get("WANGGE_CLUSTER_FULL") == "1"
PHASE_S = 20 if FULL else 6
READERS = 4 if FULL else 2
ENV = os.environ
NGINX = ("127.0.0.1", int(ENV["NGINX_PORT"]))
WANGGE = [("127.0.0.1", int(ENV[f"WANGGE_PORT_{i}"])) for i in range(1, int(ENV["WANGGE_N"]) + 1)]
TOKEN = ENV["ADMIN_TOKEN"]
failures = []


def check(ok, what):
    print(("  PASS " if ok else "  FAIL ") + what, flush=True)
    if not ok:
        failures.append(what)


def cluster(*args):
    return subprocess.run([os.path.join(ROOT, "tools", "cluster"), *args], check=True, capture_output=True, text=True).stdout


def sql(query):
    out = subprocess.run(["psql", "-X", "-q", "-tA", "-F", "\t", ENV["DATABASE_URL"], "-c", query], check=True, capture_output=True,
                         text=True).stdout
    return [line.split("\t") for line in out.splitlines() if line]


class Client:
    """One kept-alive connection; reconnects after an error (as a browser or an app would)."""

    def __init__(self, addr):
        self.addr = addr
        self.conn = None

    def request(self, method, path, body=None, headers=None):
        h = {"Authorization": "Bearer " + TOKEN}
        h.update(headers or {})
        if body is not None:
            body = json.dumps(body)
            h["Content-Type"] = "application/json"
        try:
            if self.conn is None:
                self.conn = http.client.HTTPConnection(*self.addr, timeout=30)
            self.conn.request(method, path, body, h)
            r = self.conn.getresponse()
            data = r.read()
            if r.getheader("Connection", "").lower() == "close":
                self.conn.close()
                self.conn = None
            return r.status, dict((k.lower(), v) for k, v in r.getheaders()), data
        except (OSError, http.client.HTTPException) as e:
            if self.conn:
                self.conn.close()
            self.conn = None
            return None, {}, repr(e).encode()


def sample_points(n):
    rows = sql("SELECT code, ST_X(p), ST_Y(p) FROM (SELECT code, ST_PointOnSurface(geom) p FROM areas "
               f"WHERE level = 'grid' AND valid_to IS NULL ORDER BY code LIMIT {n}) t")
    return [(code, float(x), float(y)) for code, x, y in rows]


def tile_of(lon, lat, z):
    import math
    n = 2 ** z
    x = int((lon + 180) / 360 * n)
    y = int((1 - math.log(math.tan(math.radians(lat)) + 1 / math.cos(math.radians(lat))) / math.pi) / 2 * n)
    return z, x, y


class ReadLoad:
    """Readers of tiles and locate through nginx until stopped; counts answers and failures."""

    def __init__(self, points, readers=READERS):
        self.points = points
        self.stop_flag = threading.Event()
        self.ok = 0
        self.failed = []
        self.lock = threading.Lock()
        self.threads = [threading.Thread(target=self.run, args=(i,)) for i in range(readers)]

    def run(self, i):
        c = Client(NGINX)
        k = i
        while not self.stop_flag.is_set():
            code, x, y = self.points[k % len(self.points)]
            k += 1
            if k % 2:
                z, tx, ty = tile_of(x, y, 14)
                path = f"/tiles/grid/{z}/{tx}/{ty}.mvt"
                status, _, body = c.request("GET", path, headers={"Accept-Encoding": "gzip"})
                good = status in (200, 204)
            else:
                path = f"/v1/locate?lon={x}&lat={y}"
                status, _, body = c.request("GET", path)
                good = status == 200
            with self.lock:
                if good:
                    self.ok += 1
                else:
                    self.failed.append((time.time(), path, status, body[:200]))

    def __enter__(self):
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc):
        self.stop_flag.set()
        for t in self.threads:
            t.join(60)


def coherence(points, label):
    """Renames a grid through process 1; how long until process 2 answers the new name in an area
    read and a locate answer, and serves a tile with a new ETag."""
    code, x, y = points[len(points) // 2]
    a, b = Client(WANGGE[0]), Client(WANGGE[1])
    z, tx, ty = tile_of(x, y, 15)
    tile = f"/tiles/grid/{z}/{tx}/{ty}.mvt"
    _, h0, _ = b.request("GET", tile)
    status, headers, body = a.request("GET", f"/v1/areas/{code}")
    name = json.loads(body)["properties"]["name"]
    new = name.rstrip("0123456789") + str(int(time.time() * 1000) % 100000)
    status, _, body = a.request("PATCH", f"/v1/areas/{code}", {"properties": {"name": new}}, {"If-Match": headers.get("etag")})
    if status != 200:
        check(False, f"{label}: the edit through process 1 answered {status} {body[:200]!r}")
        return
    written = time.time()
    seen = {}
    while time.time() - written < 5 and len(seen) < 3:
        now = time.time() - written
        if "area" not in seen:
            s, _, body = b.request("GET", f"/v1/areas/{code}")
            if s == 200 and json.loads(body)["properties"]["name"] == new:
                seen["area"] = now
        if "locate" not in seen:
            s, _, body = b.request("GET", f"/v1/locate?lon={x}&lat={y}")
            if s == 200 and new in body.decode():
                seen["locate"] = now
        if "tile" not in seen:
            s, h, _ = b.request("GET", tile)
            if s == 200 and h.get("etag") != h0.get("etag"):
                seen["tile"] = now
        time.sleep(0.01)
    for what in ("area", "locate", "tile"):
        t = seen.get(what)
        check(t is not None and t <= 1.0,
              f"{label}: {what} on process 2 shows the edit after " + (f"{t * 1000:.0f} ms" if t is not None else "more than 5 s") +
              " (target <= 1000 ms)")


TILE_ROUTE = 'route="/tiles/{layers}/{z}/{x}/{y}.mvt",method="GET"'


def tile_cache(points):
    """nginx's tile cache (tools/nginx/tile_cache.lua): a second request is answered from it, a
    client's If-None-Match from it too; once the configured age has passed, the next request
    revalidates with wangge (a 304 there, counted in wangge's /metrics); after an edit the tile
    through nginx changes within that age (plus wangge's own 1 s); errors and other credentials are
    never answered from it."""
    fresh_s = float(ENV.get("WANGGE_CLUSTER_TILE_CACHE_S", "2"))
    code, x, y = points[len(points) // 3]
    z, tx, ty = tile_of(x, y, 15)
    tile = f"/tiles/grid/{z}/{tx}/{ty}.mvt"
    c = Client(NGINX)
    gz = {"Accept-Encoding": "gzip"}
    time.sleep(fresh_s)  # whatever an earlier phase left cached has aged
    s1, h1, b1 = c.request("GET", tile, headers=gz)
    s2, h2, b2 = c.request("GET", tile, headers=gz)
    check(s1 == 200 and s2 == 200 and b1 == b2 and h2.get("x-cache") == "HIT" and h2.get("etag") == h1.get("etag"),
          f"tile cache: the same tile asked twice: {s1} {h1.get('x-cache')}, then {s2} {h2.get('x-cache')}, same body {b1 == b2}")
    check(h2.get("content-encoding") == "gzip" and h2.get("cache-control") == h1.get("cache-control") and
          h2.get("content-type") == "application/vnd.mapbox-vector-tile",
          f"tile cache: a hit carries wangge's headers (Content-Encoding {h2.get('content-encoding')}, "
          f"Cache-Control {h2.get('cache-control')}, Content-Type {h2.get('content-type')})")
    s, h, b = c.request("GET", tile)
    check(s == 200 and h.get("content-encoding") is None and b != b1,
          f"tile cache: a client without gzip gets the tile uncompressed: {s}, Content-Encoding {h.get('content-encoding')}")
    s, h, b = c.request("GET", tile, headers={**gz, "If-None-Match": h1.get("etag", "")})
    check(s == 304 and not b and h.get("etag") == h1.get("etag"),
          f"tile cache: the client's own If-None-Match answered {s} ({h.get('x-cache')})")
    anonymous = http.client.HTTPConnection(*NGINX, timeout=10)
    anonymous.request("GET", tile, headers=gz)
    r = anonymous.getresponse()
    r.read()
    check(r.status == 401 and r.getheader("Content-Type") == "application/problem+json",
          f"tile cache: without credentials the cached tile is not answered: {r.status} {r.getheader('Content-Type')}")
    bad = "/tiles/grid/99/0/0.mvt"
    statuses = [c.request("GET", bad)[:2] for _ in range(2)]
    check([st for st, _ in statuses] == [400, 400] and all(hh.get("x-cache") == "MISS" for _, hh in statuses),
          f"tile cache: an error is passed on and not kept: {[(st, hh.get('x-cache')) for st, hh in statuses]}")
    before = sum(metric(a, "wangge_http_requests_total", TILE_ROUTE + ',status="304"') or 0 for a in WANGGE)
    time.sleep(fresh_s + 0.2)
    s, h, b = c.request("GET", tile, headers=gz)
    after = sum(metric(a, "wangge_http_requests_total", TILE_ROUTE + ',status="304"') or 0 for a in WANGGE)
    check(s == 200 and b == b1 and h.get("x-cache") == "REVALIDATED" and after == before + 1,
          f"tile cache: {fresh_s:g} s later the tile is revalidated: {s} {h.get('x-cache')}, wangge answered "
          f"{after - before:g} x 304")
    s, h, _ = c.request("GET", tile, headers=gz)
    check(h.get("x-cache") == "HIT", f"tile cache: and then answered from the cache again: {s} {h.get('x-cache')}")
    rename(Client(WANGGE[0]), code)
    written = time.time()
    changed = None
    while time.time() - written < fresh_s + 5:
        s, h, _ = c.request("GET", tile, headers=gz)
        if s == 200 and h.get("etag") != h1.get("etag"):
            changed = time.time() - written
            break
        time.sleep(0.02)
    check(changed is not None and changed <= fresh_s + 1.0,
          "tile cache: after an edit the tile through nginx changes after " +
          (f"{changed * 1000:.0f} ms" if changed is not None else f"more than {fresh_s + 5:g} s") +
          f" (target <= {fresh_s:g} s cache age + 1 s)")


def problem_code(headers, body):
    """The `code` of a problem+json answer (headers by lower-case name), else None."""
    if headers.get("content-type") != "application/problem+json":
        return None
    try:
        return json.loads(body).get("code")
    except ValueError:
        return None


def edge_errors():
    """What nginx refuses itself is answered as wangge answers errors: problem+json, a stable code."""
    import socket

    def raw(request):  # each of these requests ends its connection: read to the end
        with socket.create_connection(NGINX, timeout=10) as sock:
            sock.sendall(request)
            data = b""
            while chunk := sock.recv(65536):
                data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        headers = dict((k.strip().lower(), v.strip()) for k, _, v in (ln.partition(":") for ln in lines[1:]))
        return int(lines[0].split()[1]), headers, body

    cases = [
        ("a path kept off the edge (/metrics)", b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 404, "not_found"),
        ("a body over the limit (40 MB announced)", b"POST /v1/incidents HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
         b"Content-Length: 40000000\r\nConnection: close\r\n\r\n", 413, "payload_too_large"),
        ("a request line of 70,000 bytes", b"GET /" + b"a" * 70000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", 431, "headers_too_large"),
        ("a request nginx cannot read", b"GARBAGE\r\n\r\n", 400, "malformed_request"),
    ]
    for what, request, want_status, want_code in cases:
        status, headers, body = raw(request)
        code = problem_code(headers, body)
        check(status == want_status and code == want_code,
              f"nginx's own refusals: {what}: {status} {headers.get('content-type')} code {code}")


def metric(addr, name, labels=""):
    _, _, body = Client(addr).request("GET", "/metrics")
    for line in body.decode().splitlines():
        if line.startswith(name + (("{" + labels + "}") if labels else "") + " "):
            return float(line.rsplit(" ", 1)[1])
    return None


def rename(client, code):
    """Renames a grid through `client`; the new name."""
    _, headers, body = client.request("GET", f"/v1/areas/{code}")
    name = json.loads(body)["properties"]["name"]
    new = name.rstrip("0123456789") + str(int(time.time() * 1000) % 100000)
    status, _, body = client.request("PATCH", f"/v1/areas/{code}", {"properties": {"name": new}}, {"If-Match": headers.get("etag")})
    if status != 200:
        raise RuntimeError(f"renaming {code} answered {status} {body[:200]!r}")
    return new


def standbys_replay(pause):
    """Pauses (or resumes) WAL replay on every standby. Patroni resumes a paused replay within a
    loop unless the cluster is in maintenance mode, so that mode is on while replay is paused
    (Patroni does nothing meanwhile: no failover either, for these seconds)."""
    def maintenance(on):
        req = urllib.request.Request(f"http://127.0.0.1:{ENV['PATRONI_PORT_1']}/config", method="PATCH",
                                     data=json.dumps({"pause": True if on else None}).encode())
        urllib.request.urlopen(req, timeout=5).read()

    if pause:
        maintenance(True)
        time.sleep(2.5)  # every member's loop (loop_wait 1 s) sees it
    for i in range(1, int(ENV["PG_NODES"]) + 1):
        url = f"postgresql://postgres:{ENV['SUPERUSER_PW']}@127.0.0.1:{ENV[f'PG_PORT_{i}']}/postgres"
        fn = "pg_wal_replay_pause" if pause else "pg_wal_replay_resume"
        subprocess.run(["psql", "-X", "-q", "-tA", url, "-c", f"SELECT {fn}() WHERE pg_is_in_recovery()"], check=True,
                       capture_output=True, text=True)
    if not pause:
        maintenance(False)


def standbys_without(code, name):
    """How many standbys do not show `name` for the grid `code` yet."""
    n = 0
    for i in range(1, int(ENV["PG_NODES"]) + 1):
        url = f"postgresql://postgres:{ENV['SUPERUSER_PW']}@127.0.0.1:{ENV[f'PG_PORT_{i}']}/wangge"
        out = subprocess.run(["psql", "-X", "-q", "-tA", url, "-c", "SELECT pg_is_in_recovery(), count(*) FROM areas "
                              f"WHERE code = '{code}' AND valid_to IS NULL AND name = '{name}'"], check=True, capture_output=True,
                             text=True).stdout.strip()
        if out.startswith("t|0"):
            n += 1
    return n


def bulk_reads(points):
    """Bulk reads (WANGGE_DATABASE_BULK_URL, prefer-standby): the start-up loads came from a
    standby; an export right after a write through the other process sees the write, from a
    standby; with replay paused on every standby, the export waits, then reads on the primary,
    and still sees the write (read-your-writes)."""
    b = WANGGE[1]
    standby = "served_by=\"standby\""
    primary = "served_by=\"primary\""
    loads = metric(b, "wangge_db_bulk_reads_total", standby)
    check(loads is not None and loads >= 2, f"bulk reads: process 2's start-up loads (statistics, street graph) on a standby: {loads}")
    code = points[1][0]
    a, reader = Client(WANGGE[0]), Client(b)
    export = f"/v1/export?layer=areas&area={code}&format=geojson"
    before = metric(b, "wangge_db_bulk_reads_total", standby)
    new = rename(a, code)
    started = time.time()
    status, _, body = reader.request("GET", export)
    took = time.time() - started
    after = metric(b, "wangge_db_bulk_reads_total", standby)
    check(status == 200 and new in body.decode(), f"bulk reads: an export through process 2 right after a rename through process 1 "
          f"shows it ({status}, {took * 1000:.0f} ms)")
    check(after == before + 1, f"bulk reads: that export was served by a standby (standby reads {before} -> {after})")
    before = metric(b, "wangge_db_bulk_reads_total", primary)
    standbys_replay(True)
    try:
        new = rename(a, code)
        started = time.time()
        status, _, body = reader.request("GET", export)
        took = time.time() - started
        stale = standbys_without(code, new)
    finally:
        standbys_replay(False)
    after = metric(b, "wangge_db_bulk_reads_total", primary)
    check(stale > 0, f"bulk reads: with replay paused, {stale} standbys still show the old name (the lag is real)")
    check(status == 200 and new in body.decode(), f"bulk reads: with replay paused on the standbys, an export after a rename still "
          f"shows it ({status}, {took * 1000:.0f} ms, waited for the standby first)")
    check(after == before + 1, f"bulk reads: that export went to the primary (primary reads {before} -> {after})")


def forwarded_clients():
    """Behind nginx every request comes from nginx's address: wangge takes the client from
    X-Forwarded-For (WANGGE_TRUSTED_PROXIES). A guesser (from 127.0.0.2) backs off; another client
    (127.0.0.3) through the same nginx is not held back."""
    def from_address(source, token, n):
        statuses = []
        conn = http.client.HTTPConnection(*NGINX, timeout=30, source_address=(source, 0))
        for _ in range(n):
            # A client's own X-Forwarded-For is replaced by nginx: it cannot pose as someone else.
            conn.request("GET", "/v1/areas?limit=1", headers={"Authorization": "Bearer " + token, "X-Forwarded-For": "10.9.9.9"})
            r = conn.getresponse()
            r.read()
            statuses.append(r.status)
        conn.close()
        return statuses
    guesses = from_address("127.0.0.2", "wg_" + "0" * 64, 60)
    check(429 in guesses, f"forwarded clients: 60 wrong tokens from 127.0.0.2 through nginx back off "
          f"({guesses.count(401)} x 401, {guesses.count(429)} x 429)")
    others = from_address("127.0.0.3", TOKEN, 4)
    check(others == [200] * 4, f"forwarded clients: meanwhile 127.0.0.3 through the same nginx is answered: {others}")


def kill_under_load(points):
    with ReadLoad(points) as load:
        time.sleep(PHASE_S / 3)
        before = load.ok
        cluster("kill-wangge", "2")
        killed = time.time()
        time.sleep(PHASE_S / 3)
    check(not load.failed, f"wangge process 2 killed (-9) under read load: {load.ok} reads answered "
          f"({load.ok - before} after the kill), {len(load.failed)} failed" + (f": {load.failed[:3]}" if load.failed else ""))
    cluster("start-wangge", "2")
    return killed


def rolling_restart(points):
    started = time.time()
    with ReadLoad(points) as load:
        time.sleep(1)
        for i in range(1, len(WANGGE) + 1):
            cluster("restart-wangge", str(i))
        time.sleep(1)
    took = time.time() - started
    check(not load.failed, f"rolling restart of {len(WANGGE)} processes in {took:.1f} s under read load: {load.ok} reads answered, "
          f"{len(load.failed)} failed" + (f": {load.failed[:3]}" if load.failed else ""))


def every_process_down(points):
    """Both wangge processes stopped at once: nginx answers a tile it has cached from memory (STALE),
    and what it cannot answer as a problem document (502 no_server); then both start again."""
    c = Client(NGINX)
    code, x, y = points[0]
    z, tx, ty = tile_of(x, y, 14)
    cached = f"/tiles/grid/{z}/{tx}/{ty}.mvt"
    s0, _, b0 = c.request("GET", cached, headers={"Accept-Encoding": "gzip"})
    for i in range(1, len(WANGGE) + 1):
        cluster("kill-wangge", str(i))
    try:
        s1, h1, b1 = c.request("GET", cached, headers={"Accept-Encoding": "gzip"})
        s2, h2, b2 = c.request("GET", f"/tiles/grid/{z}/{tx}/{ty + 1}.mvt?uncached={time.time()}")
        s3, h3, b3 = c.request("GET", f"/v1/areas/{code}")
    finally:
        for i in range(1, len(WANGGE) + 1):
            cluster("start-wangge", str(i))
    check(s0 in (200, 204) and s1 == s0 and b1 == b0,
          f"every process down: a cached tile is answered from nginx's memory: {s1} {h1.get('x-cache')}")
    check(s2 == 502 and problem_code(h2, b2) == "no_server",
          f"every process down: an uncached tile answers {s2} {problem_code(h2, b2)}")
    check(s3 == 502 and problem_code(h3, b3) == "no_server",
          f"every process down: an area read answers {s3} {problem_code(h3, b3)}")


def failover(points):
    run = f"failover-{int(time.time())}"
    acked, refused, other = [], [], []
    stop = threading.Event()
    first_fail, recovered = [None], [None]
    killed_at = [None]
    writers = 2 if FULL else 1

    def writer(w):
        c = Client(NGINX)
        i = 0
        while not stop.is_set():
            code, x, y = points[(i * 7 + w) % len(points)]
            i += 1
            body = {"location": {"type": "Point", "coordinates": [x, y]}, "category": "市容环境", "source": "hotline",
                    "description": f"{run}-{w}-{i}", "reporter": "12345"}
            s, h, data = c.request("POST", "/v1/incidents", body)
            now = time.time()
            if s == 201:
                acked.append(json.loads(data)["id"])
                if first_fail[0] is not None and recovered[0] is None:
                    recovered[0] = now
            else:
                if killed_at[0] is not None and first_fail[0] is None:
                    first_fail[0] = now
                if s == 503 and h.get("content-type", "").startswith("application/problem+json"):
                    refused.append(json.loads(data).get("code"))
                else:
                    other.append((s, data[:200]))
                time.sleep(0.05)

    threads = [threading.Thread(target=writer, args=(w,)) for w in range(writers)]
    with ReadLoad(points) as load:
        for t in threads:
            t.start()
        time.sleep(2)
        acked_before = len(acked)
        out = cluster("kill-primary")
        killed_at[0] = time.time()
        print("  " + out.strip())
        deadline = time.time() + 60
        while time.time() < deadline and not (recovered[0] and time.time() - recovered[0] > 2):
            time.sleep(0.1)
        stop.set()
        for t in threads:
            t.join(60)
    stored = {int(r[0]) for r in sql(f"SELECT id FROM incidents WHERE description LIKE '{run}-%'")}
    lost = [i for i in acked if i not in stored]
    print(f"  writes: {acked_before} acknowledged before the kill, {len(acked)} in all; {len(stored)} stored; "
          f"{len(refused)} refused with 503 problem+json ({', '.join(sorted(set(refused))) or '-'}); {len(other)} other failures")
    check(not lost, f"failover: {len(lost)} acknowledged cases lost of {len(acked)}")
    check(not other, "failover: every refused write is a 503 problem+json" + (f" (others: {other[:3]})" if other else ""))
    if first_fail[0] is None:
        outage = 0.0
        print("  no write failed during the failover")
    else:
        outage = (recovered[0] or time.time()) - killed_at[0]
    check(recovered[0] is not None or first_fail[0] is None, "failover: writes succeed again")
    check(outage <= 15, f"failover: writes succeed again {outage:.1f} s after the kill (target <= 15 s)")
    check(not load.failed, f"failover: tiles and locate through nginx meanwhile: {load.ok} answered, {len(load.failed)} failed" +
          (f": {load.failed[:3]}" if load.failed else ""))
    print("  " + cluster("status").replace("\n", "\n  ").rstrip())


def main():
    print(f"cluster test ({'full' if FULL else 'light'}: {PHASE_S} s phases, {READERS} readers)", flush=True)
    points = sample_points(200)
    print("coherence:")
    coherence(points, "coherence")
    print("nginx's tile cache:")
    tile_cache(points)
    print("nginx's own refusals:")
    edge_errors()
    print("bulk reads on a standby:")
    bulk_reads(points)
    print("clients behind nginx:")
    forwarded_clients()
    print("a process killed under load:")
    kill_under_load(points)
    print("rolling restart:")
    rolling_restart(points)
    print("every process down:")
    every_process_down(points)
    print("failover of the primary:")
    failover(points)
    print("coherence after the failover:")
    time.sleep(1)
    coherence(points, "coherence after failover")
    print(f"cluster test: {len(failures)} failed" + (": " + "; ".join(failures) if failures else ""))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
