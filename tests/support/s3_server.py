"""A real S3-compatible server on 127.0.0.1: moto's server mode (``moto[server]`` from PyPI).

moto speaks the S3 REST protocol over HTTP (SigV4 requests, multipart uploads, paginated listings,
DeleteObjects) from a pure-Python wheel, so it installs wherever the test extra does; it keeps objects in
memory, so a stopped server starts empty.
"""

import sys

import httpx

from support.servers import HOST, ServerProcess

ACCESS_KEY = "soma-test-access-key"
SECRET_KEY = "soma-test-secret-key"
REGION = "us-east-1"


class S3Server(ServerProcess):
    name = "s3"

    @property
    def endpoint(self) -> str:
        return f"http://{HOST}:{self.port}"

    def command(self) -> list[str]:
        return [sys.executable, "-m", "moto.server", "-H", HOST, "-p", str(self.port)]

    def is_ready(self) -> bool:
        try:
            return httpx.get(self.endpoint, timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    def environment(self) -> dict[str, str]:
        """What `soma backup` and `soma restore` read to reach this server."""
        return {
            "SOMA_BACKUP_S3_ENDPOINT": self.endpoint,
            "AWS_ACCESS_KEY_ID": ACCESS_KEY,
            "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
            "AWS_REGION": REGION,
        }
