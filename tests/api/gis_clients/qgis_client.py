"""A GIS user's session in QGIS (Debian's python3-qgis, headless), run by test_ogc_clients.py under
Debian's own /usr/bin/python3 (where the qgis package lives) and talking HTTP to a real server.

Usage: qgis_client.py BASE_URL TOKEN TOWNSHIP OUT_DIR. Prints one JSON object on its last line:
what QGIS saw and did, for the test to check against the server's own answers.

Authentication goes only through QGIS's authentication manager: a Basic configuration (user name
"qgis", the API token as the password) in an authentication database of its own, unlocked with a
master password set here, its id on the data source URI (no request preprocessor, no header added
by hand).
"""
import json
import os
import sys
import tempfile

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# The authentication database and the settings live in a throwaway profile, never the user's.
_profile = tempfile.mkdtemp(prefix="wangge-qgis-")
os.environ["QGIS_AUTH_DB_DIR_PATH"] = _profile
os.environ["QGIS_CUSTOM_CONFIG_PATH"] = _profile

from qgis.core import (QgsApplication, QgsAuthMethodConfig, QgsDataSourceUri, QgsFeatureRequest,  # noqa: E402
                       QgsGeometry, QgsMapRendererParallelJob, QgsMapSettings, QgsPointXY, QgsProject,
                       QgsVectorDataProvider, QgsVectorLayer, QgsBlockingNetworkRequest, QgsJsonExporter,
                       QgsCoordinateReferenceSystem, QgsRectangle, QgsWkbTypes)
from qgis.PyQt.QtCore import QByteArray, QSettings, QSize, QUrl  # noqa: E402
from qgis.PyQt.QtGui import QColor  # noqa: E402
from qgis.PyQt.QtNetwork import QNetworkRequest  # noqa: E402


def main():
    base, token, township, out_dir = sys.argv[1:5]
    report = {"qgis": None}
    app = QgsApplication([], False)
    app.initQgis()
    try:
        from qgis.core import Qgis
        report["qgis"] = Qgis.QGIS_VERSION
        session(app, base, token, township, out_dir, report)
    finally:
        print(json.dumps(report, ensure_ascii=False), flush=True)
        app.exitQgis()


def basic_config(token):
    am = QgsApplication.authManager()
    if not am.setMasterPassword("wangge-test-master", True):
        raise SystemExit("QGIS refused the master password")
    cfg = QgsAuthMethodConfig()
    cfg.setMethod("Basic")
    cfg.setName("wangge")
    cfg.setConfig("username", "qgis")
    cfg.setConfig("password", token)
    ok = am.storeAuthenticationConfig(cfg)
    if not ok or not cfg.id():
        raise SystemExit("QGIS did not store the Basic configuration")
    return cfg.id()


def oapif_uri(base, collection, authcfg):
    uri = QgsDataSourceUri()
    uri.setParam("url", base + "/ogc")
    uri.setParam("typename", collection)
    uri.setParam("pagingEnabled", "true")
    uri.setAuthConfigId(authcfg)
    return uri.uri(False)


def session(app, base, token, township, out_dir, report):
    authcfg = basic_config(token)
    report["authcfg"] = authcfg

    # 1. The collections, as QGIS's browser lists them for a saved WFS / OGC API - Features
    #    connection that names the Basic configuration.
    settings = QSettings()
    settings.setValue("qgis/connections-wfs/wangge/url", base + "/ogc")
    settings.setValue("qgis/connections-wfs/wangge/version", "OGC_API_FEATURES")
    settings.setValue("qgis/WFS/wangge/authcfg", authcfg)
    settings.sync()
    report["collections"] = browse_collections()

    # 2. The grids of one township, filtered by an expression that is CQL2 text as well.
    expression = f"code LIKE '{township}%'"
    report["filter"] = expression
    layer = QgsVectorLayer(oapif_uri(base, "grid", authcfg), "grid", "OAPIF")
    report["layer_valid"] = layer.isValid()
    if not layer.isValid():
        report["layer_error"] = layer.error().summary()
        return
    provider = layer.dataProvider()
    report["supports_subset_string"] = provider.supportsSubsetString()
    report["subset_accepted"] = layer.setSubsetString(expression)
    features = list(layer.getFeatures())
    report["count"] = len(features)
    report["codes"] = sorted(f["code"] for f in features)
    report["fields"] = [f.name() for f in layer.fields()]

    # 3. Move one vertex of a grid into its neighbour and save.
    caps = provider.capabilities()
    report["capabilities"] = {name: bool(caps & getattr(QgsVectorDataProvider, name))
                              for name in ("AddFeatures", "DeleteFeatures", "ChangeAttributeValues", "ChangeGeometries")}
    by_code = {f["code"]: f for f in features}
    grid, neighbour, vertex, moved = pick_shared_vertex(features)
    report["edited"] = {"code": grid["code"], "fid": grid.id(), "neighbour": neighbour["code"], "vertex": vertex,
                        "to": [moved.x(), moved.y()]}
    geometry = QgsGeometry(grid.geometry())
    if not geometry.moveVertex(moved.x(), moved.y(), vertex):
        raise SystemExit("QGIS could not move the vertex")
    report["start_editing"] = layer.startEditing()
    if report["start_editing"] and report["capabilities"]["ChangeGeometries"]:
        report["path"] = "provider"
        report["change_geometry"] = layer.changeGeometry(grid.id(), geometry)
        report["committed"] = layer.commitChanges()
        report["commit_errors"] = layer.commitErrors()
    else:
        # The provider cannot save (OGC API - Features Part 4 came to QGIS after 3.22): the same
        # edit, the Feature QGIS writes as GeoJSON, goes out through QGIS's own network stack
        # with the same authentication configuration.
        layer.rollBack()
        report["path"] = "qgis-network"
        # The provider numbers features itself (1, 2, ...) and keeps the server's ids to itself:
        # the edited grid's id comes from a filtered request.
        status, page = send("GET", base + "/ogc/collections/grid/items?filter=" +
                            QUrl.toPercentEncoding(f"code = '{grid['code']}'").data().decode(), None, authcfg)
        if status != 200 or len(page.get("features", [])) != 1:
            raise SystemExit(f"the server did not find grid {grid['code']}: {status} {page}")
        server_id = page["features"][0]["id"]
        report["edited"]["server_id"] = server_id
        edited = QgsJsonExporter(layer, 9)
        grid.setGeometry(geometry)
        body = json.loads(edited.exportFeature(grid))
        report["put_properties"] = body["properties"]
        for query in ("", "?adjust=neighbours"):
            status, answer = send("PUT", base + f"/ogc/collections/grid/items/{server_id}{query}", body, authcfg)
            report["put" + (query and "_adjust")] = {"status": status, "answer": answer}
            if status == 200:
                break

    # 3b. What QGIS's provider types the fields as, and what it makes of a collection the token
    #     sees empty (the provinces, for a township's token). QGIS 3.22 types a layer from the
    #     first page of items alone (GDAL's reading of `items?limit=10`): it asks for neither the
    #     schema nor the queryables, so an empty first page leaves it without fields, geometry type
    #     or CRS, and a time that is null on every feature of that page is a String.
    report["field_types"] = {f.name(): f.typeName() for f in layer.fields()}
    empty = QgsVectorLayer(oapif_uri(base, "province", authcfg), "province", "OAPIF")
    report["empty_layer"] = {"valid": empty.isValid(), "crs": empty.crs().authid(),
                             "geometry": QgsWkbTypes.displayString(empty.wkbType()),
                             "fields": [f.name() for f in empty.fields()]}

    # 4. Reload what the server now holds and draw it.
    layer = QgsVectorLayer(oapif_uri(base, "grid", authcfg), "grid", "OAPIF")
    layer.setSubsetString(expression)
    after = {f["code"]: f for f in layer.getFeatures()}
    report["after"] = {c: {"version": after[c]["version"], "fid": after[c].id()} for c in (grid["code"], neighbour["code"]) if c in after}
    report["png"] = render(layer, out_dir)


def browse_collections():
    from qgis.core import QgsDataItem
    provider = QgsApplication.dataItemProviderRegistry().provider("WFS")
    if provider is None:
        return {"error": "no WFS data item provider"}
    root = provider.createDataItem("", None)
    names = []
    for connection in root.createChildren():
        if connection.name() != "wangge":
            continue
        for item in connection.createChildren():
            names.append(item.name())
    return names


def pick_shared_vertex(features):
    """A vertex of one grid that lies on a neighbour's boundary and is shared with no third grid,
    and where to move it: a fifth of the way towards the neighbour's centroid."""
    for grid in features:
        g = grid.geometry()
        for neighbour in features:
            if neighbour.id() == grid.id() or not g.touches(neighbour.geometry()):
                continue
            n = neighbour.geometry()
            for i, v in enumerate(g.vertices()):
                p = QgsGeometry.fromPointXY(QgsPointXY(v.x(), v.y()))
                if n.distance(p) > 1e-9:
                    continue
                others = [f for f in features if f.id() not in (grid.id(), neighbour.id()) and f.geometry().distance(p) < 1e-6]
                if others:
                    continue
                c = n.centroid().asPoint()
                return grid, neighbour, i, QgsPointXY(v.x() + (c.x() - v.x()) * 0.2, v.y() + (c.y() - v.y()) * 0.2)
    raise SystemExit("no vertex shared by exactly two grids")


def send(method, url, body, authcfg):
    """One request through QGIS's network stack, authenticated by the configuration `authcfg`."""
    request = QgsBlockingNetworkRequest()
    request.setAuthCfg(authcfg)
    req = QNetworkRequest(QUrl(url))
    if method == "GET":
        request.get(req)
    else:
        req.setHeader(QNetworkRequest.ContentTypeHeader, "application/geo+json")
        request.put(req, QByteArray(json.dumps(body).encode()))
    reply = request.reply()
    status = reply.attribute(QNetworkRequest.HttpStatusCodeAttribute)
    text = bytes(reply.content()).decode("utf-8", "replace")
    try:
        answer = json.loads(text)
    except ValueError:
        answer = text[:500]
    return status, answer


def render(layer, out_dir):
    settings = QgsMapSettings()
    settings.setLayers([layer])
    settings.setDestinationCrs(layer.crs())
    settings.setExtent(layer.extent().buffered(layer.extent().width() * 0.05))
    settings.setOutputSize(QSize(900, 900))
    settings.setBackgroundColor(QColor("white"))
    job = QgsMapRendererParallelJob(settings)
    job.start()
    job.waitForFinished()
    path = os.path.join(out_dir, "qgis-grids.png")
    job.renderedImage().save(path, "PNG")
    return path


if __name__ == "__main__":
    main()
