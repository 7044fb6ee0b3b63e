"""The generated references match their sources: regenerated in memory, compared with the committed files."""

from __future__ import annotations

import re
from types import ModuleType
from typing import Any

import pytest
import yaml
from docs_generator import DOCS, REPO


@pytest.fixture(scope="module")
def crd() -> dict[str, Any]:
    (path,) = (REPO / "crds").glob("*.yaml")
    document: dict[str, Any] = yaml.safe_load(path.read_text())
    return document


@pytest.fixture(scope="module")
def openapi(gen_docs: ModuleType) -> dict[str, Any]:
    try:
        document: dict[str, Any] = dict(gen_docs.load_openapi())
    except ImportError as error:
        pytest.skip(f"the HTTP API app does not import yet ({error}): http-api.md cannot be checked")
    return document


def test_the_memorysystem_reference_is_up_to_date(gen_docs: ModuleType, crd: dict[str, Any]) -> None:
    committed = (DOCS / "memorysystem-reference.md").read_text()
    assert gen_docs.memorysystem_reference(crd) == committed, "run `make docs`"


def test_the_http_api_reference_is_up_to_date(gen_docs: ModuleType, openapi: dict[str, Any]) -> None:
    committed = (DOCS / "http-api.md").read_text()
    assert gen_docs.http_api_reference(openapi) == committed, "run `make docs`"


def test_the_reference_documents_every_field_and_rule(gen_docs: ModuleType, crd: dict[str, Any]) -> None:
    reference = gen_docs.memorysystem_reference(crd)
    schema = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]
    for root in ("spec", "status"):
        for field in gen_docs.walk(schema[root], root):
            assert f"| `{field.path}` |" in reference
            for rule in field.schema.get("x-kubernetes-validations", []):
                assert gen_docs.cell(rule["message"]) in reference


def test_the_http_reference_documents_every_operation_and_schema(
    gen_docs: ModuleType, openapi: dict[str, Any]
) -> None:
    reference = gen_docs.http_api_reference(openapi)
    for path, item in openapi["paths"].items():
        for method in set(item) & set(gen_docs.HTTP_METHODS):
            assert f"### {method.upper()} `{path}`" in reference
    for name in openapi["components"]["schemas"]:
        assert f"### {name}\n" in reference
    for link in set(re.findall(r"\]\(#([^)]+)\)", reference)):
        assert f'<a id="{link}"></a>' in reference, f"dangling link #{link}"


def test_the_check_mode_passes_on_the_committed_docs(gen_docs: ModuleType, openapi: dict[str, Any]) -> None:
    assert gen_docs.main(["--check"]) == 0
