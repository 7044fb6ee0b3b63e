"""Auth, per-client rate limits, body limits, CORS and the generated token."""

import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from api_settings import AUTH, TOKEN, SettingsFactory
from fastapi.testclient import TestClient

from somafractalmemory.http_api import create_app
from somafractalmemory.settings import Settings


def test_missing_token_is_401_and_wrong_token_is_403(client: TestClient) -> None:
    missing = client.get("/stats", headers={"Authorization": ""})
    assert missing.status_code == 401
    assert missing.headers["www-authenticate"] == "Bearer"
    assert missing.json() == {
        "detail": "Missing bearer token",
        "error": {
            "code": "unauthenticated",
            "message": "missing bearer token: send 'Authorization: Bearer <token>'",
        },
    }
    wrong = client.get("/stats", headers={"Authorization": "Bearer wrong"})
    assert wrong.status_code == 403
    assert wrong.json() == {
        "detail": "Invalid token",
        "error": {"code": "forbidden", "message": "the bearer token is not valid for this server"},
    }
    assert client.get("/stats", headers={"Authorization": f"Basic {TOKEN}"}).status_code == 401
    assert (
        client.post(
            "/store", json={"coord": "1", "payload": {}}, headers={"Authorization": "Bearer x"}
        ).status_code
        == 403
    )
    assert client.get("/v1/namespaces/a/stats", headers={"Authorization": ""}).status_code == 401
    assert client.get("/stats").status_code == 200


def test_the_api_documents_stay_open_and_unknown_paths_ask_for_the_token(
    make_settings: SettingsFactory,
) -> None:
    with TestClient(create_app(make_settings())) as app_client:
        assert [app_client.get(p).status_code for p in ("/openapi.json", "/docs", "/redoc")] == [
            200,
            200,
            200,
        ]
        assert app_client.get("/no/such/path").status_code == 401
        assert app_client.get("/no/such/path", headers=AUTH).status_code == 404


def test_rate_limit_is_per_client(make_settings: SettingsFactory) -> None:
    with TestClient(create_app(make_settings(rate_limit_per_minute=3))) as app_client:
        for _ in range(3):
            assert app_client.get("/stats", headers=AUTH).status_code == 200
        limited = app_client.get("/stats", headers=AUTH)
        assert limited.status_code == 429
        assert int(limited.headers["retry-after"]) >= 1
        assert limited.json() == {
            "detail": "Rate limit exceeded",
            "error": {"code": "rate_limited", "message": "rate limit of 3 requests a minute exceeded"},
        }
        # a different client (another token) still has its own budget
        assert app_client.get("/stats", headers={"Authorization": "Bearer other"}).status_code == 403
        assert app_client.get("/healthz").status_code == 200  # probes are never limited


def test_rate_limit_counts_the_token_however_its_header_is_spelled(make_settings: SettingsFactory) -> None:
    """Issue 9, finding 6: each spelling of the same token (spaces, case) used to get a fresh budget."""
    spellings = [f"Bearer {TOKEN}", f"Bearer  {TOKEN}", f"bearer   {TOKEN}", f"BEARER {TOKEN} "]
    with TestClient(create_app(make_settings(rate_limit_per_minute=3))) as app_client:
        statuses = [app_client.get("/stats", headers={"Authorization": a}).status_code for a in spellings]
        assert statuses == [200, 200, 200, 429]


def test_wrong_tokens_are_throttled_per_address(make_settings: SettingsFactory) -> None:
    """Issue 9, finding 6: the limit ran on the raw header, so every junk token had a budget of its own."""
    with TestClient(create_app(make_settings(rate_limit_per_minute=3))) as app_client:
        junk = [app_client.get("/stats", headers={"Authorization": f"Bearer junk-{n}"}) for n in range(5)]
        assert [r.status_code for r in junk] == [403, 403, 403, 429, 429]
        assert junk[-1].json()["error"]["message"] == "rate limit of 3 requests a minute exceeded"
        assert app_client.get("/stats", headers={"Authorization": ""}).status_code == 429
        assert app_client.get("/stats", headers=AUTH).status_code == 200  # the token has its own budget


def test_unauthenticated_requests_are_refused_before_the_body_is_read(make_settings: SettingsFactory) -> None:
    """Issue 9, finding 7: the body was read (up to the limit, or without one on paths ending in /import)
    before the token was checked."""
    read: list[int] = []

    def body() -> Iterator[bytes]:
        for _ in range(100):
            read.append(1)
            yield b"x" * 65536

    with TestClient(create_app(make_settings())) as app_client:
        for path in ("/store", "/v1/namespaces/a/memories/import", "/v1/namespaces/a/import"):
            method = "PUT" if path.endswith("memories/import") else "POST"
            refused = app_client.request(method, path, content=body(), headers={"Authorization": "Bearer no"})
            assert refused.status_code == 403
            assert refused.headers["connection"] == "close"
        assert read == []


def test_the_body_limit_holds_on_paths_ending_in_import(make_settings: SettingsFactory) -> None:
    """Issue 9, finding 7: PUT /v1/namespaces/x/memories/import (coordinate 'import') had no body limit."""
    with TestClient(create_app(make_settings(max_body_bytes=2048, max_import_bytes=8192))) as app_client:
        app_client.headers.update(AUTH)
        payload = {"payload": {"text": "x" * 4096}}
        response = app_client.put("/v1/namespaces/a/memories/import", json=payload)
        assert response.status_code == 413
        assert response.json()["error"]["message"] == "request body is larger than 2048 bytes"
        lines = [b'{"kind": "memory", "coord": [%d], "payload": {}}\n' % n for n in range(300)]
        assert app_client.post("/v1/namespaces/a/import", content=b"".join(lines[:5])).status_code == 200
        too_much = app_client.post("/v1/namespaces/a/import", content=b"".join(lines[5:]))
        assert too_much.status_code == 413
        assert too_much.json()["error"]["message"] == "request body is larger than 8192 bytes"
        assert app_client.get("/v1/namespaces/a/stats").json()["total_memories"] == 5


def test_body_limit(make_settings: SettingsFactory) -> None:
    with TestClient(create_app(make_settings(max_body_bytes=2048))) as app_client:
        app_client.headers.update(AUTH)
        big = {"coord": "1", "payload": {"text": "x" * 4096}}
        response = app_client.post("/store", json=big)
        assert response.status_code == 413
        assert response.json() == {
            "detail": "Request entity too large",
            "error": {"code": "payload_too_large", "message": "request body is larger than 2048 bytes"},
        }

        def chunks() -> Iterator[bytes]:  # no Content-Length: the limit is counted as the body arrives
            yield b'{"coord": "1", "payload": {"text": "'
            yield b"y" * 4096
            yield b'"}}'

        chunked = app_client.post("/store", content=chunks(), headers={"content-type": "application/json"})
        assert chunked.status_code == 413
        assert app_client.get("/stats").json()["total_memories"] == 0


def _metrics_after_storing(settings: Settings) -> str:
    """/metrics of an app holding two memories in one namespace and one in another."""
    with TestClient(create_app(settings)) as app_client:
        app_client.headers.update(AUTH)
        for namespace, count in (("acme-secret-project", 2), ("other-tenant", 1)):
            for n in range(count):
                path = f"/v1/namespaces/{namespace}/memories/{n},1"
                assert app_client.put(path, json={"payload": {}}).status_code == 200
        return app_client.get("/metrics", headers={"Authorization": ""}).text


def test_metrics_name_no_namespace_unless_configured(make_settings: SettingsFactory) -> None:
    """Issue 9, finding 10: the open /metrics listed every namespace (tenant) and its memory count."""
    text = _metrics_after_storing(make_settings())
    assert "acme-secret-project" not in text and "other-tenant" not in text
    assert 'soma_memories{type="episodic"} 3.0' in text
    assert 'soma_memories{type="semantic"} 0.0' in text
    text = _metrics_after_storing(make_settings(metrics_namespaces=True))
    assert 'soma_memories{namespace="acme-secret-project",type="episodic"} 2.0' in text
    assert 'soma_memories{namespace="other-tenant",type="episodic"} 1.0' in text


def test_metrics_can_ask_for_the_token_while_probes_stay_open(make_settings: SettingsFactory) -> None:
    with TestClient(create_app(make_settings(metrics_require_token=True))) as app_client:
        assert app_client.get("/metrics").status_code == 401
        assert app_client.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 403
        assert app_client.get("/metrics", headers=AUTH).status_code == 200
        assert [app_client.get(p).status_code for p in ("/healthz", "/readyz", "/health")] == [200, 200, 200]


def test_cors_origins(make_settings: SettingsFactory) -> None:
    with TestClient(create_app(make_settings(cors_origins="https://app.example"))) as app_client:
        preflight = app_client.options(
            "/recall",
            headers={"Origin": "https://app.example", "Access-Control-Request-Method": "POST"},
        )
        assert preflight.headers["access-control-allow-origin"] == "https://app.example"
        other = app_client.options(
            "/recall", headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"}
        )
        assert "access-control-allow-origin" not in other.headers


def test_token_is_generated_owner_only_when_none_is_configured(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    with TestClient(create_app(settings)) as app_client:
        token_file = tmp_path / "api-token"
        assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
        token = token_file.read_text().strip()
        assert len(token) >= 32
        assert app_client.post("/store", json={"coord": "1", "payload": {}}).status_code == 401
        ok = app_client.post(
            "/store", json={"coord": "1", "payload": {}}, headers={"Authorization": f"Bearer {token}"}
        )
        assert ok.status_code == 200
    with TestClient(create_app(Settings(data_dir=tmp_path))) as again:
        assert again.get("/stats", headers={"Authorization": f"Bearer {token}"}).status_code == 200


def test_token_file_setting(tmp_path: Path) -> None:
    token_file = tmp_path / "mounted-token"
    token_file.write_text("from-a-secret\n")
    with TestClient(
        create_app(Settings(data_dir=tmp_path / "data", api_token_file=token_file))
    ) as app_client:
        assert app_client.get("/stats", headers={"Authorization": "Bearer from-a-secret"}).status_code == 200


def test_data_directory_is_owner_only(tmp_path: Path) -> None:
    data_dir = tmp_path / "fresh" / "soma"
    with TestClient(create_app(Settings(data_dir=data_dir))):
        assert stat.S_IMODE(data_dir.stat().st_mode) == 0o700


def test_cors_origins_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOMA_CORS_ORIGINS", "https://a.example, https://b.example")
    assert Settings().cors_origins == ["https://a.example", "https://b.example"]
