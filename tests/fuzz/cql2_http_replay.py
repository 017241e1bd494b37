#!/usr/bin/env python3
"""Replays the inputs fuzz_cql2 found (build/fuzz/corpus/cql2, after `tools/fuzz --long N -- cql2`)
as filters of GET /ogc/collections/grid/items on a real server and database, and fails on any 5xx
answer: the parser may accept what PostgreSQL then refuses, which the in-process fuzzer cannot see.
The first byte picks the encoding as in tests/fuzz/cql2.cpp. Not part of ctest (the corpus is made
by a long fuzz run). Environment as for the API tests (tools/test sets it):
  python3 tests/fuzz/cql2_http_replay.py [CORPUS_DIR]"""
import collections
import os
import pathlib
import sys
import urllib.parse

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent / "api"))
from harness import Server  # noqa: E402

root = pathlib.Path(__file__).resolve().parent.parent.parent
corpus = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else root / "build" / "fuzz" / "corpus" / "cql2")
inputs = sorted(p for p in corpus.iterdir() if p.is_file()) + sorted((root / "tests/fuzz/corpus/cql2").iterdir())
server = Server()
statuses = collections.Counter()
failures = []
try:
    for path in inputs:
        data = path.read_bytes()
        if len(data) < 1:
            continue
        lang = "cql2-json" if data[0] % 2 else "cql2-text"
        crs = {} if data[0] % 4 < 2 else {"filter-crs": "http://www.opengis.net/def/crs/EPSG/0/4549"}
        q = urllib.parse.urlencode({"limit": "1", "filter": data[1:], "filter-lang": lang, **crs})
        r = server.request("GET", "/ogc/collections/grid/items?" + q, token=server.admin_token)
        statuses[r.status] += 1
        if r.status >= 500:
            failures.append((path.name, r.status, r.body[:200]))
finally:
    server.stop()
print(f"replayed {sum(statuses.values())} inputs over HTTP: " + ", ".join(f"{s}: {n}" for s, n in sorted(statuses.items())))
for f in failures:
    print("5xx:", *f)
sys.exit(1 if failures else 0)
