import json


def show(r):
    print(r.request.method, r.request.url, r.status_code, r.headers.get("etag"), r.text[:400])


def test_probe(catalog_url, http, database):
    u = catalog_url
    r = http.post(
        u + "/productOffering",
        json={"name": "A", "channel": [], "validFor": {"startDateTime": "2024-05-01T12:00:00+02:00"}},
    )
    show(r)
    oid = r.json()["id"]
    r = http.patch(u + "/productOffering/" + oid, json={"name": "A"})
    show(r)
    r = http.patch(u + "/productOffering/" + oid, json={"name": "B"})
    show(r)
    r = http.patch(
        u + "/productOffering/" + oid,
        data=json.dumps({"description": "d"}),
        headers={"Content-Type": "application/merge-patch+json"},
    )
    show(r)
    r = http.patch(
        u + "/productOffering/" + oid,
        data=json.dumps({"description": None}),
        headers={"Content-Type": "application/merge-patch+json"},
    )
    show(r)
    r = http.patch(
        u + "/productOffering/" + oid,
        data=json.dumps([{"op": "test", "path": "/name", "value": "Z"}]),
        headers={"Content-Type": "application/json-patch+json"},
    )
    show(r)
    r = http.patch(
        u + "/productOffering/" + oid,
        data=json.dumps([{"op": "add", "path": "/channel/-", "value": {"id": "c1"}}]),
        headers={"Content-Type": "application/json-patch+json"},
    )
    show(r)
    r = http.patch(u + "/productOffering/" + oid, json={"lastUpdate": "2020-01-01T00:00:00Z"})
    show(r)
    r = http.patch(u + "/productOffering/" + oid, json={"id": "zz"})
    show(r)
    r = http.patch(u + "/productOffering/" + oid, json={"name": 5})
    show(r)
    r = http.patch(
        u + "/productOffering/" + oid,
        data=json.dumps({"name": 5}),
        headers={"Content-Type": "application/merge-patch+json"},
    )
    show(r)
    r = http.patch(
        u + "/productOffering/" + oid,
        data=json.dumps([{"op": "remove", "path": "/name"}]),
        headers={"Content-Type": "application/json-patch+json"},
    )
    show(r)
    r = http.patch(
        u + "/productOffering/" + oid,
        data=json.dumps([{"op": "remove", "path": "/lifecycleStatus"}]),
        headers={"Content-Type": "application/json-patch+json"},
    )
    show(r)
