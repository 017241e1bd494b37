"""OWSLib (Debian's python3-owslib) reading /ogc with HTTP Basic authentication: the collections
and one page of a CQL2 filter. Usage: owslib_client.py BASE_URL TOKEN FILTER; prints one JSON
object on its last line for test_ogc_clients.py."""
import json
import sys

from owslib.ogcapi.features import Features
from owslib.util import Authentication


def main():
    base, token, flt = sys.argv[1:4]
    api = Features(base + "/ogc", auth=Authentication(username="owslib", password=token))
    collections = [c["id"] for c in api.collections()["collections"]]
    page = api.collection_items("grid", limit=10, filter=flt)
    print(json.dumps({"collections": collections, "matched": page["numberMatched"], "returned": page["numberReturned"],
                      "codes": [f["properties"]["code"] for f in page["features"]]}, ensure_ascii=False))


if __name__ == "__main__":
    main()
