"""Helpers for the exchange tests: GDAL's own command-line tools (gdal-bin) read what wangge wrote."""
import json
import os
import struct
import subprocess


def gdal(*args, config=None):
    """Runs a GDAL utility and returns its stdout (text); raises with stderr on failure."""
    cmd = [args[0]]
    for key, value in (config or {}).items():
        cmd += ["--config", key, value]
    cmd += list(args[1:])
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} failed: {p.stderr[-2000:]}")
    return p.stdout


def read_features(path, layer=None, config=None, open_options=()):
    """Features of a dataset as GeoJSON dicts, converted by ogr2ogr (not by wangge)."""
    args = ["ogr2ogr", "-f", "GeoJSON", "/vsistdout/"]
    for o in open_options:
        args += ["-oo", o]
    args.append(path)
    if layer:
        args.append(layer)
    return json.loads(gdal(*args, config=config))["features"]


def dbf_header(path):
    """(LDID byte, [field names as bytes]) of a dBase file."""
    with open(path, "rb") as f:
        head = f.read(32)
        header_len = struct.unpack("<H", head[8:10])[0]
        rest = f.read(header_len - 32)
    names = []
    for i in range(0, len(rest) - 1, 32):
        if rest[i] == 0x0D:
            break
        names.append(rest[i:i + 11].split(b"\0", 1)[0])
    return head[29], names


def epsg_of_prj(path):
    """What GDAL identifies a .prj as (gdalsrsinfo -e)."""
    out = gdal("gdalsrsinfo", "-e", path)
    for line in out.splitlines():
        if line.startswith("EPSG:"):
            return line.strip()
    return out.strip()
