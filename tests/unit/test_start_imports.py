"""What a command's start imports: the CLI and the API server load no HTTP client (httpx, with rich, took
0.37 s of every start, `soma serve`'s included); `soma bench` imports it where it starts a server."""

import subprocess
import sys

CHECK = """
import sys
import somafractalmemory.cli.main, somafractalmemory.cli.serve, somafractalmemory.http_api.application
print(sorted(name for name in ("httpx", "rich") if name in sys.modules))
"""


def loaded_at_start(code: str) -> str:
    found = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    return found.stdout.strip()


def test_the_cli_and_the_server_start_without_an_http_client() -> None:
    assert loaded_at_start(CHECK) == "[]"


def test_the_bench_imports_the_client_where_it_starts_a_server() -> None:
    code = CHECK + "import somafractalmemory.cli.server_process\nprint('httpx' in sys.modules)"
    assert loaded_at_start(code) == "[]\nTrue"
