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
