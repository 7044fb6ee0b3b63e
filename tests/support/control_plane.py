"""A real Kubernetes control plane for tests, the envtest way: etcd, kube-apiserver, kube-controller-manager.

The binaries come from ``KUBEBUILDER_ASSETS`` (a folder holding ``etcd``, ``kube-apiserver`` and optionally
``kube-controller-manager``, as ``setup-envtest`` lays them out), or else from the xz-compressed copies in the
``shared/k8s`` folder beside the repository, decompressed once into a cache folder.

There is no kubelet and no scheduler: pods stay Pending until a test plays the kubelet (``mark_pods_ready``).
RBAC, admission (CEL rules, defaulting, OwnerReferencesPermissionEnforcement), server-side apply and garbage
collection are the real ones.
"""

from __future__ import annotations

import base64
import datetime
import ipaddress
import logging
import lzma
import os
import shutil
import ssl
import subprocess
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from support.servers import HOST, free_port, wait_until

logger = logging.getLogger(__name__)

REPO = Path(__file__).resolve().parents[2]
SHARED_ASSETS = REPO.parent / "shared" / "k8s"
REQUIRED_BINARIES = ("etcd", "kube-apiserver")
CONTROLLER_MANAGER = "kube-controller-manager"
HOW_TO_GET_ASSETS = (
    "set KUBEBUILDER_ASSETS to a folder holding etcd, kube-apiserver and kube-controller-manager "
    "(`setup-envtest use 1.32 -p path` prints one), or keep the shared/k8s folder beside the repository"
)
SERVICE_CLUSTER_IP_RANGE = "10.0.0.0/24"
SERVICE_ACCOUNT_ISSUER = "https://kubernetes.default.svc"
# Everything but the controllers that need a cloud, nodes or a node IPAM (there are no nodes here).
CONTROLLERS = "*,-nodeipam,-nodelifecycle,-service-lb-controller,-cloud-node-lifecycle,-route"


class AssetsMissing(Exception):
    """No control-plane binaries on this machine; the message says how to get them."""


def _cache_root() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "soma" / "kubebuilder-assets"


def _decompressed(source: Path, target_dir: Path) -> Path:
    target = target_dir / source.name.removesuffix(".xz")
    if target.exists():
        return target
    partial = target.with_suffix(".partial")
    with lzma.open(source) as compressed, partial.open("wb") as out:
        shutil.copyfileobj(compressed, out, length=1 << 20)
    partial.chmod(0o755)
    partial.rename(target)
    return target


def find_assets() -> Path:
    """The folder with the control-plane binaries; ``AssetsMissing`` says how to get them if there is none."""
    configured = os.environ.get("KUBEBUILDER_ASSETS")
    if configured:
        folder = Path(configured)
        missing = [name for name in REQUIRED_BINARIES if not (folder / name).is_file()]
        if missing:
            raise AssetsMissing(
                f"KUBEBUILDER_ASSETS={configured} lacks {', '.join(missing)}: {HOW_TO_GET_ASSETS}"
            )
        return folder
    archives = sorted(SHARED_ASSETS.glob("*.xz")) if SHARED_ASSETS.is_dir() else []
    names = {archive.name.removesuffix(".xz") for archive in archives}
    if not set(REQUIRED_BINARIES) <= names:
        raise AssetsMissing(f"no control-plane binaries found: {HOW_TO_GET_ASSETS}")
    # One cache folder per set of archives, so new binaries never mix with old ones.
    fingerprint = "-".join(f"{a.name.split('.')[0]}{a.stat().st_size}" for a in archives)
    folder = _cache_root() / fingerprint
    folder.mkdir(parents=True, exist_ok=True)
    for archive in archives:
        _decompressed(archive, folder)
    return folder


# Certificates: a CA, the apiserver's serving certificate, an admin client and the service-account key.


def _key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _pem_key(key: rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )


def _certificate(
    subject: x509.Name,
    key: rsa.RSAPrivateKey,
    issuer: x509.Name,
    issuer_key: rsa.RSAPrivateKey,
    *,
    ca: bool = False,
    server: bool = False,
) -> x509.Certificate:
    now = datetime.datetime.now(tz=datetime.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=2))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if server:
        builder = builder.add_extension(
            x509.SubjectAlternativeName(
                [
                    x509.IPAddress(ipaddress.ip_address(HOST)),
                    x509.DNSName("localhost"),
                    x509.DNSName("kubernetes.default.svc"),
                ]
            ),
            critical=False,
        )
    return builder.sign(issuer_key, hashes.SHA256())


def _name(common_name: str, organization: str | None = None) -> x509.Name:
    attributes = [x509.NameAttribute(NameOID.COMMON_NAME, common_name)]
    if organization:
        attributes.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization))
    return x509.Name(attributes)


@dataclass(frozen=True)
class Pki:
    ca_cert: Path
    ca_key: Path
    serving_cert: Path
    serving_key: Path
    admin_cert: Path
    admin_key: Path
    service_account_key: Path
    service_account_public_key: Path

    @classmethod
    def issue(cls, folder: Path) -> Pki:
        ca_key = _key()
        ca_name = _name("soma-test-ca")
        ca = _certificate(ca_name, ca_key, ca_name, ca_key, ca=True)
        serving_key, admin_key, sa_key = _key(), _key(), _key()
        serving = _certificate(_name("kube-apiserver"), serving_key, ca_name, ca_key, server=True)
        admin = _certificate(_name("soma-test-admin", "system:masters"), admin_key, ca_name, ca_key)
        files = {
            "ca_cert": ("ca.crt", ca.public_bytes(serialization.Encoding.PEM)),
            "ca_key": ("ca.key", _pem_key(ca_key)),
            "serving_cert": ("apiserver.crt", serving.public_bytes(serialization.Encoding.PEM)),
            "serving_key": ("apiserver.key", _pem_key(serving_key)),
            "admin_cert": ("admin.crt", admin.public_bytes(serialization.Encoding.PEM)),
            "admin_key": ("admin.key", _pem_key(admin_key)),
            "service_account_key": ("sa.key", _pem_key(sa_key)),
            "service_account_public_key": (
                "sa.pub",
                sa_key.public_key().public_bytes(
                    serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
                ),
            ),
        }
        paths = {}
        for attribute, (file_name, content) in files.items():
            path = folder / file_name
            path.write_bytes(content)
            path.chmod(0o600)
            paths[attribute] = path
        return cls(**paths)


# A small REST client: kinds are resolved through the server's own discovery documents.


class ApiError(Exception):
    def __init__(self, status: int, body: Mapping[str, Any]) -> None:
        self.status = status
        self.body = dict(body)
        self.message = str(body.get("message", body))
        super().__init__(f"{status}: {self.message}")


@dataclass(frozen=True)
class Resource:
    api_version: str
    plural: str
    namespaced: bool

    def path(
        self, namespace: str | None = None, name: str | None = None, subresource: str | None = None
    ) -> str:
        root = "/api/v1" if self.api_version == "v1" else f"/apis/{self.api_version}"
        if self.namespaced and namespace is not None:
            root += f"/namespaces/{namespace}"
        path = f"{root}/{self.plural}"
        if name is not None:
            path += f"/{name}"
        if subresource is not None:
            path += f"/{subresource}"
        return path


@dataclass
class KubeApi:
    """Synchronous JSON client for the tests; an ``ApiError`` carries the server's status and message."""

    http: httpx.Client
    _resources: dict[tuple[str, str], Resource] = field(default_factory=dict)

    def resource(self, api_version: str, kind: str) -> Resource:
        key = (api_version, kind)
        if key not in self._resources:
            root = "/api/v1" if api_version == "v1" else f"/apis/{api_version}"
            for entry in self._call("GET", root)["resources"]:
                if "/" not in entry["name"]:
                    self._resources[api_version, entry["kind"]] = Resource(
                        api_version, entry["name"], entry["namespaced"]
                    )
            if key not in self._resources:
                raise KeyError(f"the server serves no {kind} in {api_version}")
        return self._resources[key]

    def forget_discovery(self) -> None:
        """Drop cached kinds, e.g. after a CRD was installed."""
        self._resources.clear()

    def _call(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        response = self.http.request(method, path, **kwargs)
        body: dict[str, Any] = response.json() if response.content else {}
        if response.status_code >= 400:
            raise ApiError(response.status_code, body)
        return body

    def get(
        self, api_version: str, kind: str, name: str, namespace: str | None = None
    ) -> dict[str, Any] | None:
        try:
            return self._call("GET", self.resource(api_version, kind).path(namespace, name))
        except ApiError as error:
            if error.status == 404:
                return None
            raise

    def list(
        self,
        api_version: str,
        kind: str,
        namespace: str | None = None,
        labels: Mapping[str, str] | None = None,
    ) -> list[dict[str, Any]]:
        params = {"labelSelector": ",".join(f"{k}={v}" for k, v in labels.items())} if labels else {}
        items: list[dict[str, Any]] = self._call(
            "GET", self.resource(api_version, kind).path(namespace), params=params
        )["items"]
        return items

    def create(self, manifest: Mapping[str, Any]) -> dict[str, Any]:
        namespace = manifest["metadata"].get("namespace")
        path = self.resource(manifest["apiVersion"], manifest["kind"]).path(namespace)
        return self._call("POST", path, json=dict(manifest))

    def apply(
        self, manifest: Mapping[str, Any], *, manager: str = "soma-tests", dry_run: bool = False
    ) -> dict[str, Any]:
        """Server-side apply, forcing conflicts, as kubectl apply --server-side --force-conflicts does."""
        metadata = manifest["metadata"]
        path = self.resource(manifest["apiVersion"], manifest["kind"]).path(
            metadata.get("namespace"), metadata["name"]
        )
        params = {"fieldManager": manager, "force": "true"}
        if dry_run:
            params["dryRun"] = "All"
        return self._call(
            "PATCH",
            path,
            params=params,
            content=yaml.safe_dump(dict(manifest)).encode(),
            headers={"Content-Type": "application/apply-patch+yaml"},
        )

    def merge_patch(
        self,
        api_version: str,
        kind: str,
        name: str,
        patch: Mapping[str, Any],
        namespace: str | None = None,
        subresource: str | None = None,
    ) -> dict[str, Any]:
        path = self.resource(api_version, kind).path(namespace, name, subresource)
        return self._call(
            "PATCH", path, json=dict(patch), headers={"Content-Type": "application/merge-patch+json"}
        )

    def delete(
        self,
        api_version: str,
        kind: str,
        name: str,
        namespace: str | None = None,
        propagation: str = "Background",
    ) -> bool:
        try:
            self._call(
                "DELETE",
                self.resource(api_version, kind).path(namespace, name),
                json={"propagationPolicy": propagation},
            )
        except ApiError as error:
            if error.status == 404:
                return False
            raise
        return True

    def service_account_token(self, namespace: str, name: str, seconds: int = 7200) -> str:
        path = Resource("v1", "serviceaccounts", namespaced=True).path(namespace, name, "token")
        answer = self._call("POST", path, json={"spec": {"expirationSeconds": seconds}})
        token: str = answer["status"]["token"]
        return token


def load_documents(path: Path) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")) if doc]


class ControlPlane:
    """etcd, kube-apiserver and kube-controller-manager on free 127.0.0.1 ports, in one temporary folder."""

    def __init__(self, assets: Path) -> None:
        self.assets = assets
        self.workdir = Path(tempfile.mkdtemp(prefix="soma-control-plane-"))
        self.pki = Pki.issue(self.workdir)
        self.etcd_port, self.etcd_peer_port, self.port = free_port(), free_port(), free_port()
        self.url = f"https://{HOST}:{self.port}"
        self.admin_kubeconfig = self.workdir / "admin.kubeconfig"
        self._processes: list[tuple[str, subprocess.Popen[bytes]]] = []
        tls = ssl.create_default_context(cafile=str(self.pki.ca_cert))
        tls.load_cert_chain(self.pki.admin_cert, self.pki.admin_key)
        self.api = KubeApi(httpx.Client(base_url=self.url, verify=tls, timeout=30))

    def _spawn(self, name: str, command: list[str]) -> None:
        log = (self.workdir / f"{name}.log").open("wb")
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, cwd=self.workdir)
        self._processes.append((name, process))

    def _alive(self, name: str) -> None:
        for own, process in self._processes:
            if own == name and process.poll() is not None:
                tail = (self.workdir / f"{name}.log").read_text(errors="replace")[-3000:]
                raise RuntimeError(f"{name} exited with {process.returncode}:\n{tail}")

    def _ready(self) -> bool:
        self._alive("etcd")
        self._alive("kube-apiserver")
        try:
            return self.api.http.get("/readyz").status_code == 200
        except httpx.TransportError:
            return False

    def start(self) -> None:
        etcd_url, peer_url = f"http://{HOST}:{self.etcd_port}", f"http://{HOST}:{self.etcd_peer_port}"
        self._spawn(
            "etcd",
            [
                str(self.assets / "etcd"),
                "--name=default",
                f"--data-dir={self.workdir / 'etcd'}",
                f"--listen-client-urls={etcd_url}",
                f"--advertise-client-urls={etcd_url}",
                f"--listen-peer-urls={peer_url}",
                f"--initial-advertise-peer-urls={peer_url}",
                f"--initial-cluster=default={peer_url}",
            ],
        )
        self._spawn(
            "kube-apiserver",
            [
                str(self.assets / "kube-apiserver"),
                f"--etcd-servers={etcd_url}",
                f"--bind-address={HOST}",
                f"--advertise-address={HOST}",
                f"--secure-port={self.port}",
                # A loopback address cannot back the `kubernetes` Service.
                "--endpoint-reconciler-type=none",
                f"--cert-dir={self.workdir / 'certs'}",
                f"--tls-cert-file={self.pki.serving_cert}",
                f"--tls-private-key-file={self.pki.serving_key}",
                f"--client-ca-file={self.pki.ca_cert}",
                f"--service-account-key-file={self.pki.service_account_public_key}",
                f"--service-account-signing-key-file={self.pki.service_account_key}",
                f"--service-account-issuer={SERVICE_ACCOUNT_ISSUER}",
                f"--service-cluster-ip-range={SERVICE_CLUSTER_IP_RANGE}",
                "--authorization-mode=RBAC",
                # As on OpenShift: setting blockOwnerDeletion needs `update` on the owner's finalizers.
                "--enable-admission-plugins=OwnerReferencesPermissionEnforcement",
            ],
        )
        wait_until(self._ready, timeout=90, what="kube-apiserver /readyz", interval=0.25)
        self.write_kubeconfig(
            self.admin_kubeconfig, client_cert=self.pki.admin_cert, client_key=self.pki.admin_key
        )
        controller_manager = self.assets / CONTROLLER_MANAGER
        if controller_manager.is_file():
            kubeconfig = str(self.admin_kubeconfig)
            self._spawn(
                CONTROLLER_MANAGER,
                [
                    str(controller_manager),
                    f"--kubeconfig={kubeconfig}",
                    f"--authentication-kubeconfig={kubeconfig}",
                    f"--authorization-kubeconfig={kubeconfig}",
                    "--leader-elect=false",
                    f"--bind-address={HOST}",
                    "--secure-port=0",
                    f"--service-account-private-key-file={self.pki.service_account_key}",
                    f"--root-ca-file={self.pki.ca_cert}",
                    "--use-service-account-credentials=false",
                    f"--controllers={CONTROLLERS}",
                ],
            )
        # The default namespace is made by the apiserver itself shortly after it is ready.
        wait_until(
            lambda: self.api.get("v1", "Namespace", "default") is not None,
            timeout=30,
            what="namespace default",
        )

    @property
    def has_controller_manager(self) -> bool:
        return any(name == CONTROLLER_MANAGER for name, _ in self._processes)

    def write_kubeconfig(
        self,
        path: Path,
        *,
        token: str | None = None,
        client_cert: Path | None = None,
        client_key: Path | None = None,
        namespace: str = "default",
    ) -> Path:
        user: dict[str, Any] = {}
        if token is not None:
            user["token"] = token
        if client_cert is not None and client_key is not None:
            user["client-certificate-data"] = base64.b64encode(client_cert.read_bytes()).decode()
            user["client-key-data"] = base64.b64encode(client_key.read_bytes()).decode()
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [
                {
                    "name": "control-plane",
                    "cluster": {
                        "server": self.url,
                        "certificate-authority-data": base64.b64encode(
                            self.pki.ca_cert.read_bytes()
                        ).decode(),
                    },
                }
            ],
            "users": [{"name": "user", "user": user}],
            "contexts": [
                {
                    "name": "test",
                    "context": {"cluster": "control-plane", "user": "user", "namespace": namespace},
                }
            ],
            "current-context": "test",
        }
        path.write_text(yaml.safe_dump(config), encoding="utf-8")
        path.chmod(0o600)
        return path

    def service_account_kubeconfig(self, namespace: str, name: str) -> Path:
        """A kubeconfig that authenticates as the ServiceAccount (a bound token), as a pod of it would."""
        token = self.api.service_account_token(namespace, name)
        return self.write_kubeconfig(
            self.workdir / f"{namespace}-{name}.kubeconfig", token=token, namespace=namespace
        )

    def ensure_namespace(self, name: str) -> None:
        self.api.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})

    def log(self, name: str) -> str:
        return (self.workdir / f"{name}.log").read_text(errors="replace")

    def stop(self) -> None:
        for _name, process in reversed(self._processes):
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self._processes.clear()
        self.api.http.close()
        shutil.rmtree(self.workdir, ignore_errors=True)


def mark_pods_ready(api: KubeApi, namespace: str, labels: Mapping[str, str] | None = None) -> int:
    """Play the kubelet: every matching pod becomes Running and Ready, so the real controllers count it."""
    now = datetime.datetime.now(tz=datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    conditions = [
        {"type": kind, "status": "True", "lastTransitionTime": now}
        for kind in ("PodScheduled", "Initialized", "ContainersReady", "Ready")
    ]
    marked = 0
    for pod in api.list("v1", "Pod", namespace, labels):
        if pod["metadata"].get("deletionTimestamp"):
            continue
        statuses = [
            {
                "name": container["name"],
                "image": container["image"],
                "imageID": "",
                "ready": True,
                "started": True,
                "restartCount": 0,
                "state": {"running": {"startedAt": now}},
            }
            for container in pod["spec"]["containers"]
        ]
        try:
            api.merge_patch(
                "v1",
                "Pod",
                pod["metadata"]["name"],
                {
                    "status": {
                        "phase": "Running",
                        "conditions": conditions,
                        "containerStatuses": statuses,
                        "startTime": now,
                        "podIP": "10.1.0.1",
                    }
                },
                namespace=namespace,
                subresource="status",
            )
        except ApiError as error:
            # A rollout's controller may delete the pod between the list and the patch.
            if error.status != 404:
                raise
            continue
        marked += 1
    return marked


def started_control_plane() -> Iterator[ControlPlane]:
    """For a session fixture: skip with the reason when there are no binaries, always stop at the end."""
    assets = find_assets()
    plane = ControlPlane(assets)
    try:
        plane.start()
        yield plane
    finally:
        plane.stop()
