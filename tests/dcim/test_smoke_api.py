"""Minimal API walk, to prove the harness runs on every backend."""


def test_create_and_list_site(client, admin):
    r = client.post("/api/v1/dcim/sites", json={"name": "DC Utama"}, headers=admin)
    assert r.status_code == 201, r.text
    r = client.get("/api/v1/dcim/sites", headers=admin)
    assert r.json()["count"] == 1
    assert r.json()["data"][0]["name"] == "DC Utama"
