"""The build context's generated secrets and the autoscaling rule, pinned."""

from __future__ import annotations

import re

from conftest import build_context
from soma_operator.builders.context import Credentials
from soma_operator.spec import Component

URL_SAFE_32_BYTES = re.compile(r"^[A-Za-z0-9_-]{43}$")  # secrets.token_urlsafe(32): 43 characters


def test_generated_secrets_are_32_random_url_safe_bytes_each() -> None:
    first, second = Credentials(), Credentials()
    values = [first.api_token, first.postgres_password, first.redis_password, second.api_token]
    assert all(URL_SAFE_32_BYTES.match(value) for value in values), values
    assert len(set(values)) == len(values)


def test_only_the_api_and_the_consumers_are_ever_autoscaled() -> None:
    body = {
        "apiVersion": "memory.soma.dev/v1alpha1",
        "kind": "MemorySystem",
        "metadata": {"name": "m", "namespace": "ns", "uid": "u"},
        "spec": {"api": {"autoscaling": {"minReplicas": 2, "maxReplicas": 4}}},
    }
    context = build_context(body)
    assert context.autoscaled(Component.API) is True
    for store in (Component.POSTGRES, Component.REDIS, Component.QDRANT, Component.REDPANDA):
        assert context.autoscaled(store) is False


def test_the_version_label_is_the_images_tag() -> None:
    from soma_operator.builders.labels import image_tag

    assert image_tag("docker.io/library/postgres:17.2") == "17.2"
    assert image_tag("registry.example:5000/team/soma:1.4.0") == "1.4.0"  # the registry's port is no tag
    assert image_tag("registry.example:5000/team/soma") == "latest"
    assert image_tag("localhost:5000/a/b/c:v2:odd") == "odd"  # the last colon of the last path part
    assert image_tag("redis") == "latest"
    assert image_tag("a/b:c/d:7") == "7"
    assert image_tag("host:5000/a:x/b") == "latest"  # only the last path part is looked at
