"""A small in-memory Kubernetes API server that Helm's real engine can install a chart into.

helm-sdkpy exposes Helm's install but no `helm template`; installing into this server and reading back what
Helm created is how the tests get the rendered manifests from the real Helm engine, with no cluster.
It serves discovery for the kinds the chart may render and stores objects; it enforces nothing.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from itertools import count
from typing import Any
from urllib.parse import parse_qs, urlsplit

import yaml


@dataclass(frozen=True)
class Resource:
    group_version: str
    plural: str
    kind: str
    namespaced: bool


RESOURCES = (
    Resource("v1", "namespaces", "Namespace", namespaced=False),
    Resource("v1", "secrets", "Secret", namespaced=True),
    Resource("v1", "configmaps", "ConfigMap", namespaced=True),
    Resource("v1", "serviceaccounts", "ServiceAccount", namespaced=True),
    Resource("v1", "services", "Service", namespaced=True),
    Resource("apps/v1", "deployments", "Deployment", namespaced=True),
    Resource("policy/v1", "poddisruptionbudgets", "PodDisruptionBudget", namespaced=True),
    Resource("networking.k8s.io/v1", "networkpolicies", "NetworkPolicy", namespaced=True),
    Resource("rbac.authorization.k8s.io/v1", "roles", "Role", namespaced=True),
    Resource("rbac.authorization.k8s.io/v1", "rolebindings", "RoleBinding", namespaced=True),
    Resource("rbac.authorization.k8s.io/v1", "clusterroles", "ClusterRole", namespaced=False),
    Resource("rbac.authorization.k8s.io/v1", "clusterrolebindings", "ClusterRoleBinding", namespaced=False),
    Resource(
        "apiextensions.k8s.io/v1", "customresourcedefinitions", "CustomResourceDefinition", namespaced=False
    ),
)
# The Kubernetes version this server claims to be; the tests validate manifests against the same one.
KUBERNETES_VERSION = "1.35.0"
# Helm stores its release records as protobuf Secrets unless HELM_DRIVER=memory; this server speaks JSON only.
UNSUPPORTED = "this fake API server speaks JSON only: run Helm with HELM_DRIVER=memory"
JSON_TYPES = ("application/json", "application/merge-patch+json", "application/strategic-merge-patch+json")


@dataclass
class Store:
    """Objects by (group/version, plural, namespace, name), in creation order."""

    objects: dict[tuple[str, str, str, str], dict[str, Any]] = field(default_factory=dict)
    versions: Iterator[int] = field(default_factory=lambda: count(1))
    lock: threading.Lock = field(default_factory=threading.Lock)

    def stamp(self, obj: dict[str, Any]) -> dict[str, Any]:
        meta = obj.setdefault("metadata", {})
        version = next(self.versions)
        meta["resourceVersion"] = str(version)
        meta.setdefault("uid", f"00000000-0000-0000-0000-{version:012d}")
        meta.setdefault("creationTimestamp", "2025-01-01T00:00:00Z")
        meta.setdefault("generation", 1)
        return obj


@dataclass(frozen=True)
class Route:
    resource: Resource
    namespace: str
    name: str


def _group_versions() -> dict[str, list[Resource]]:
    grouped: dict[str, list[Resource]] = {}
    for resource in RESOURCES:
        grouped.setdefault(resource.group_version, []).append(resource)
    return grouped


def _discovery(path: str) -> dict[str, Any] | None:
    grouped = _group_versions()
    if path == "/version":
        major, minor, _ = KUBERNETES_VERSION.split(".")
        return {
            "major": major,
            "minor": minor,
            "gitVersion": f"v{KUBERNETES_VERSION}",
            "platform": "linux/amd64",
        }
    if path == "/api":
        return {"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": []}
    if path == "/apis":
        groups = [
            {
                "name": gv.split("/")[0],
                "versions": [{"groupVersion": gv, "version": gv.split("/")[1]}],
                "preferredVersion": {"groupVersion": gv, "version": gv.split("/")[1]},
            }
            for gv in grouped
            if "/" in gv
        ]
        return {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}
    group_version = path.removeprefix("/api/").removeprefix("/apis/")
    if path in ("/api/v1", f"/apis/{group_version}") and group_version in grouped:
        return {
            "kind": "APIResourceList",
            "apiVersion": "v1",
            "groupVersion": group_version,
            "resources": [
                {
                    "name": r.plural,
                    "singularName": r.kind.lower(),
                    "namespaced": r.namespaced,
                    "kind": r.kind,
                    "verbs": ["create", "delete", "get", "list", "patch", "update", "watch"],
                }
                for r in grouped[group_version]
            ],
        }
    return None


def _route(path: str) -> Route | None:
    parts = path.strip("/").split("/")
    prefix_length = 2 if parts[0] == "api" else 3
    group_version = "/".join(parts[1:prefix_length])
    rest = parts[prefix_length:]
    namespace = ""
    if len(rest) >= 3 and rest[0] == "namespaces":
        namespace, rest = rest[1], rest[2:]
    if not rest:
        return None
    for resource in RESOURCES:
        if resource.group_version == group_version and resource.plural == rest[0]:
            return Route(resource, namespace, rest[1] if len(rest) > 1 else "")
    return None


def _matches(labels: dict[str, str], selector: str) -> bool:
    for term in filter(None, selector.split(",")):
        key, _, value = term.partition("=")
        if labels.get(key) != value:
            return False
    return True


def _merge(target: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    for key, value in patch.items():
        if value is None:
            target.pop(key, None)
        elif isinstance(value, dict) and isinstance(target.get(key), dict):
            _merge(target[key], value)
        else:
            target[key] = value
    return target


def _status(code: int, reason: str, message: str) -> dict[str, Any]:
    return {
        "kind": "Status",
        "apiVersion": "v1",
        "status": "Failure",
        "reason": reason,
        "code": code,
        "message": message,
    }


def _not_found(name: str) -> dict[str, Any]:
    return _status(HTTPStatus.NOT_FOUND, "NotFound", f"{name} not found")


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        """Keep the test output quiet."""

    def _reply(self, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _body(self) -> dict[str, Any]:
        length = int(self.headers.get("Content-Length", "0"))
        parsed: dict[str, Any] = json.loads(self.rfile.read(length) or b"{}")
        return parsed

    def _handle(self) -> None:
        url = urlsplit(self.path)
        discovered = _discovery(url.path) if self.command == "GET" else None
        if discovered is not None:
            self._reply(HTTPStatus.OK, discovered)
            return
        if self.headers.get("Content-Type", "application/json").split(";")[0] not in JSON_TYPES:
            self._reply(HTTPStatus.UNSUPPORTED_MEDIA_TYPE, _status(415, "UnsupportedMediaType", UNSUPPORTED))
            return
        route = _route(url.path)
        if route is None:
            self._reply(HTTPStatus.NOT_FOUND, _not_found(url.path))
            return
        store = self.server.store
        with store.lock:
            status, body = self._serve(store, route, parse_qs(url.query))
        self._reply(status, body)

    def _serve(self, store: Store, route: Route, query: dict[str, list[str]]) -> tuple[int, dict[str, Any]]:
        gv, plural = route.resource.group_version, route.resource.plural
        if not route.name and self.command == "GET":
            selector = query.get("labelSelector", [""])[0]
            items = [
                obj
                for (o_gv, o_plural, o_ns, _), obj in store.objects.items()
                if (o_gv, o_plural) == (gv, plural)
                and route.namespace in ("", o_ns)
                and _matches(obj["metadata"].get("labels", {}), selector)
            ]
            kind = f"{route.resource.kind}List"
            return HTTPStatus.OK, {"kind": kind, "apiVersion": gv, "metadata": {}, "items": items}
        if not route.name and self.command == "POST":
            obj = self._body()
            key = (gv, plural, route.namespace, obj["metadata"]["name"])
            if route.namespace:
                obj["metadata"]["namespace"] = route.namespace
            store.objects[key] = store.stamp(obj)
            return HTTPStatus.CREATED, obj
        key = (gv, plural, route.namespace, route.name)
        current = store.objects.get(key)
        if self.command == "PUT":
            store.objects[key] = store.stamp(self._body())
            return HTTPStatus.OK, store.objects[key]
        if current is None:
            return HTTPStatus.NOT_FOUND, _not_found(route.name)
        if self.command == "PATCH":
            return HTTPStatus.OK, store.stamp(_merge(current, self._body()))
        if self.command == "DELETE":
            del store.objects[key]
        return HTTPStatus.OK, current

    def do_GET(self) -> None:
        self._handle()

    def do_POST(self) -> None:
        self._handle()

    def do_PUT(self) -> None:
        self._handle()

    def do_PATCH(self) -> None:
        self._handle()

    def do_DELETE(self) -> None:
        self._handle()


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.store = Store()


@dataclass(frozen=True)
class RunningApiServer:
    url: str
    store: Store

    @property
    def kubeconfig(self) -> str:
        return yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "fake", "cluster": {"server": self.url}}],
                "users": [{"name": "fake", "user": {"token": "fake"}}],
                "contexts": [{"name": "fake", "context": {"cluster": "fake", "user": "fake"}}],
                "current-context": "fake",
            }
        )

    def created(self) -> list[dict[str, Any]]:
        """Every object created so far, in creation order."""
        with self.store.lock:
            return [json.loads(json.dumps(obj)) for obj in self.store.objects.values()]


@contextmanager
def running_apiserver() -> Iterator[RunningApiServer]:
    server = _Server()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield RunningApiServer(f"http://127.0.0.1:{server.server_address[1]}", server.store)
    finally:
        server.shutdown()
        server.server_close()
