"""The service answers on loopback with the real database behind it."""

from __future__ import annotations


def test_ready_reports_database(server, database, http):
    response = http.get(server.url + "/ready", timeout=10)
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok"}


def test_created_offering_is_listed(catalog_url, http):
    created = http.post(catalog_url + "/productOffering", json={"name": "Smoke"}, timeout=10)
    assert created.status_code == 201, created.text
    listed = http.get(catalog_url + "/productOffering", timeout=10)
    assert [item["id"] for item in listed.json()] == [created.json()["id"]]


BASE_PATHS = {
    "tmf620-product-catalog.yaml": "/tmf-api/productCatalogManagement/v4",
    "tmf622-product-ordering.yaml": "/tmf-api/productOrderingManagement/v4",
    "tmf641-service-ordering.yaml": "/tmf-api/serviceOrdering/v4",
}


def test_each_api_serves_its_spec_and_a_swagger_ui_pointing_at_it(server, http):
    from tmf_common.openapi_bundle import api_spec_path, bundle

    for spec_file, base in BASE_PATHS.items():
        spec = http.get(server.url + base + "/openapi.json", timeout=10)
        assert spec.status_code == 200
        assert spec.json()["paths"].keys() == bundle(api_spec_path(spec_file))["paths"].keys()
        assert all("$ref" not in ref or ref.startswith("#") for ref in _refs(spec.json()))
        ui = http.get(server.url + base + "/ui/", timeout=10)
        assert ui.status_code == 200
        assert f"{base}/openapi.json" in ui.text


def _refs(node):
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref":
                yield value
            else:
                yield from _refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from _refs(value)
