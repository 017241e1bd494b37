"""GCJ-02 and BD-09 from the published formulas (Krasovsky a = 6378245, ee = 0.00669342162296594323;
BD-09 via x_pi = π·3000/180), written independently of the server's C++ so tests can make input
and check output. No mainland-China test here: callers use points inside Zhejiang."""
import math

A, EE = 6378245.0, 0.00669342162296594323


def _dlat(x, y):
    r = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * math.sqrt(abs(x))
    r += (20.0 * math.sin(6.0 * x * math.pi) + 20.0 * math.sin(2.0 * x * math.pi)) * 2.0 / 3.0
    r += (20.0 * math.sin(y * math.pi) + 40.0 * math.sin(y / 3.0 * math.pi)) * 2.0 / 3.0
    r += (160.0 * math.sin(y / 12.0 * math.pi) + 320 * math.sin(y * math.pi / 30.0)) * 2.0 / 3.0
    return r


def _dlon(x, y):
    r = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * math.sqrt(abs(x))
    r += (20.0 * math.sin(6.0 * x * math.pi) + 20.0 * math.sin(2.0 * x * math.pi)) * 2.0 / 3.0
    r += (20.0 * math.sin(x * math.pi) + 40.0 * math.sin(x / 3.0 * math.pi)) * 2.0 / 3.0
    r += (150.0 * math.sin(x / 12.0 * math.pi) + 300.0 * math.sin(x / 30.0 * math.pi)) * 2.0 / 3.0
    return r


def to_gcj02(lon, lat):
    """WGS84/CGCS2000 → GCJ-02."""
    dlat, dlon = _dlat(lon - 105.0, lat - 35.0), _dlon(lon - 105.0, lat - 35.0)
    rad = lat / 180.0 * math.pi
    magic = 1 - EE * math.sin(rad) ** 2
    sq = math.sqrt(magic)
    dlat = (dlat * 180.0) / ((A * (1 - EE)) / (magic * sq) * math.pi)
    dlon = (dlon * 180.0) / (A / sq * math.cos(rad) * math.pi)
    return lon + dlon, lat + dlat


def from_gcj02(lon, lat):
    """GCJ-02 → WGS84/CGCS2000, by fixed-point iteration to 1e-9°."""
    x, y = lon, lat
    for _ in range(100):
        gx, gy = to_gcj02(x, y)
        if abs(gx - lon) < 1e-9 and abs(gy - lat) < 1e-9:
            break
        x, y = x - (gx - lon), y - (gy - lat)
    return x, y


def to_bd09(lon, lat):
    """WGS84/CGCS2000 → BD-09 (through GCJ-02)."""
    x, y = to_gcj02(lon, lat)
    xpi = math.pi * 3000.0 / 180.0
    z = math.sqrt(x * x + y * y) + 0.00002 * math.sin(y * xpi)
    theta = math.atan2(y, x) + 0.000003 * math.cos(x * xpi)
    return z * math.cos(theta) + 0.0065, z * math.sin(theta) + 0.006
