"""Who may read what: every endpoint but the public ambient data and health refuses a caller
without a token; enterprise users see only their own enterprise's outlets, cases and ledger,
and no dead letters."""

from __future__ import annotations

from support.api_users import token_for

PUBLIC = ("/api/stations", "/api/cities", "/api/health")
# Alert levels are public (as published on MQTT); submitting a forecast needs a token.
PUBLIC_GET = ("/api/emergency/{city}",)
OWN_MN = "020000B7700021E000214AA7"  # 京能热电示范厂 in config/outlets.yaml
OTHER_MN = "030000C1100031F000318BB1"  # 首钢示范钢铁


def _concrete(path: str) -> str:
    return (path.replace("{station_id}", "Dongsi").replace("{city}", "beijing")
            .replace("{mn}", OWN_MN).replace("{case_id}", "1").replace("{name}", "x"))


def test_every_non_public_endpoint_needs_a_token(api_client) -> None:  # type: ignore[no-untyped-def]
    client, _ = api_client
    paths = client.get("/openapi.json").json()["paths"]
    checked = 0
    for path, operations in paths.items():
        for method in operations:
            url = _concrete(path)
            response = client.request(method.upper(), url, json={})
            if path.startswith(PUBLIC) or (method == "get" and path in PUBLIC_GET):
                assert response.status_code != 401, url
                continue
            assert response.status_code == 401, (method, url, response.status_code)
            assert response.headers["www-authenticate"] == "Bearer"
            checked += 1
    assert checked >= 14  # outlets, enterprises, cases, actions, events, ledger, dead letters


def test_enterprise_users_see_only_their_own_enterprise(api_client) -> None:  # type: ignore[no-untyped-def]
    client, ledger_url = api_client
    own = {"Authorization": f"Bearer {token_for(ledger_url, 'enterprise', '京能热电示范厂')}"}
    outlets = client.get("/api/outlets", headers=own).json()
    assert {o["enterprise"] for o in outlets["data"]} == {"京能热电示范厂"}
    assert outlets["count"] == 2
    assert client.get(f"/api/outlets/{OWN_MN}", headers=own).status_code == 200
    assert client.get(f"/api/outlets/{OTHER_MN}", headers=own).status_code == 404
    assert client.get(f"/api/outlets/{OTHER_MN}/series", headers=own).status_code == 404
    assert client.get("/api/enterprises/首钢示范钢铁/outlets", headers=own).status_code == 404
    assert [e["name"] for e in client.get("/api/enterprises", headers=own).json()["data"]] \
        == ["京能热电示范厂"]
    letters = client.get("/api/dead-letters", headers=own)
    assert letters.status_code == 403 and "dead letters" in letters.json()["detail"]
    viewer = {"Authorization": f"Bearer {token_for(ledger_url, 'viewer')}"}
    assert client.get("/api/outlets", headers=viewer).json()["count"] == 6
    assert client.get("/api/dead-letters", headers=viewer).status_code == 200
