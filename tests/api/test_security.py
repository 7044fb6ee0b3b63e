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
    assert client.get("/stats", headers={"Authorization": "Bearer wrong"}).status_code == 403
    assert client.get("/stats", headers={"Authorization": f"Basic {TOKEN}"}).status_code == 401
    assert (
        client.post(
            "/store", json={"coord": "1", "payload": {}}, headers={"Authorization": "Bearer x"}
        ).status_code
        == 403
    )
    assert client.get("/v1/namespaces/a/stats", headers={"Authorization": ""}).status_code == 401
    assert client.get("/stats").status_code == 200


def test_rate_limit_is_per_client(make_settings: SettingsFactory) -> None:
    with TestClient(create_app(make_settings(rate_limit_per_minute=3))) as app_client:
        for _ in range(3):
            assert app_client.get("/stats", headers=AUTH).status_code == 200
        limited = app_client.get("/stats", headers=AUTH)
        assert limited.status_code == 429
        assert int(limited.headers["retry-after"]) >= 1
        assert "3 requests a minute" in limited.json()["detail"]
        # a different client (another token) still has its own budget
        assert app_client.get("/stats", headers={"Authorization": "Bearer other"}).status_code == 403
        assert app_client.get("/healthz").status_code == 200  # probes are never limited


def test_body_limit(make_settings: SettingsFactory) -> None:
    with TestClient(create_app(make_settings(max_body_bytes=2048))) as app_client:
        app_client.headers.update(AUTH)
        big = {"coord": "1", "payload": {"text": "x" * 4096}}
        response = app_client.post("/store", json=big)
        assert response.status_code == 413
        assert "2048" in response.json()["detail"]

        def chunks() -> Iterator[bytes]:  # no Content-Length: the limit is counted as the body arrives
            yield b'{"coord": "1", "payload": {"text": "'
            yield b"y" * 4096
            yield b'"}}'

        chunked = app_client.post("/store", content=chunks(), headers={"content-type": "application/json"})
        assert chunked.status_code == 413
        assert app_client.get("/stats").json()["total_memories"] == 0


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
