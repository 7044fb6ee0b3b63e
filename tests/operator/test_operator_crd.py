"""The CRD: a valid, structural apiextensions/v1 object whose schema accepts every sample and agrees with
the operator's own model."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import jsonschema
import kubernetes_validate
import pytest

from conftest import KUBERNETES_VERSION, SAMPLES, load_sample
from soma_operator.constants import GROUP, KIND, PLURAL, VERSION
from soma_operator.spec import MemorySystemSpec

VALUE_KEYS = ("type", "x-kubernetes-int-or-string", "x-kubernetes-preserve-unknown-fields")


def schema_of(crd: dict[str, Any]) -> dict[str, Any]:
    [version] = crd["spec"]["versions"]
    schema: dict[str, Any] = version["schema"]["openAPIV3Schema"]
    return schema


def nodes(schema: dict[str, Any], path: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    yield path, schema
    for name, child in schema.get("properties", {}).items():
        yield from nodes(child, f"{path}.{name}")
    if "items" in schema:
        yield from nodes(schema["items"], f"{path}[]")


def without_kubernetes_extensions(schema: Any) -> Any:
    if isinstance(schema, dict):
        return {
            k: without_kubernetes_extensions(v)
            for k, v in schema.items()
            if not k.startswith("x-kubernetes-")
        }
    if isinstance(schema, list):
        return [without_kubernetes_extensions(item) for item in schema]
    return schema


def apply_defaults(schema: dict[str, Any], value: Any) -> Any:
    """Structural defaulting as the API server does it: defaults fill absent fields of present objects."""
    if not isinstance(value, dict):
        return value
    result = dict(value)
    for name, child in schema.get("properties", {}).items():
        if name not in result and "default" in child:
            result[name] = child["default"]
        if name in result:
            result[name] = apply_defaults(child, result[name])
    return result


def test_the_crd_is_a_valid_custom_resource_definition(crd: dict[str, Any]) -> None:
    kubernetes_validate.validate(crd, KUBERNETES_VERSION, strict=True)


def test_the_crd_names_and_serves_the_operators_resource(crd: dict[str, Any]) -> None:
    assert crd["metadata"]["name"] == f"{PLURAL}.{GROUP}"
    assert crd["spec"]["names"]["kind"] == KIND
    assert crd["spec"]["names"]["shortNames"] == ["msys"]
    [version] = crd["spec"]["versions"]
    assert version["name"] == VERSION
    assert version["subresources"] == {"status": {}}
    assert [c["name"] for c in version["additionalPrinterColumns"]] == ["Phase", "Ready", "Endpoint", "Age"]


def test_the_schema_is_structural_and_every_field_is_described(crd: dict[str, Any]) -> None:
    for path, node in nodes(schema_of(crd)):
        assert any(key in node for key in VALUE_KEYS), f"{path or 'root'} has no type"
        if path != ".metadata":  # the API server owns the root metadata schema (next test)
            assert node.get("description"), f"{path or 'root'} has no description"


def test_root_metadata_says_nothing_the_api_server_forbids(crd: dict[str, Any]) -> None:
    # kube-apiserver refuses a CRD whose root metadata specifies anything but its type (and restrictions
    # of name and generateName): "must not specify anything other than name and generateName".
    assert schema_of(crd)["properties"]["metadata"] == {"type": "object"}


def test_every_default_satisfies_its_own_schema(crd: dict[str, Any]) -> None:
    for _path, node in nodes(schema_of(crd)):
        if "default" in node:
            jsonschema.validate(node["default"], without_kubernetes_extensions(node))


def test_cel_rules_exist_for_shrink_and_exclusivity(crd: dict[str, Any]) -> None:
    spec = schema_of(crd)["properties"]["spec"]["properties"]
    for store in ("postgres", "redis", "qdrant", "redpanda"):
        rules = [rule["rule"] for rule in spec[store]["x-kubernetes-validations"]]
        assert any("has(self.external)" in rule for rule in rules)
        storage_rules = [
            rule["rule"] for rule in spec[store]["properties"]["storage"]["x-kubernetes-validations"]
        ]
        assert any("oldSelf.size" in rule and ">= 0" in rule for rule in storage_rules)


def test_every_sample_validates_against_the_crd_schema(crd: dict[str, Any], sample: dict[str, Any]) -> None:
    jsonschema.validate(sample, without_kubernetes_extensions(schema_of(crd)))


def test_the_schema_refuses_what_the_model_refuses(crd: dict[str, Any]) -> None:
    schema = without_kubernetes_extensions(schema_of(crd))
    body = load_sample(SAMPLES[0])
    for bad_spec in (
        {"api": {"replicas": 0}},
        {"mode": "sideways"},
        {"postgres": {"storage": {"size": "x"}}},
    ):
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate({**body, "spec": bad_spec}, schema)


def test_crd_defaults_and_model_defaults_agree(crd: dict[str, Any]) -> None:
    spec_schema = schema_of(crd)["properties"]["spec"]
    defaulted = apply_defaults(spec_schema, spec_schema["default"])
    # What the API server stores for `spec: {}` parses to the same spec the operator assumes for it.
    assert MemorySystemSpec.model_validate(defaulted) == MemorySystemSpec()


def resolved(schema: dict[str, Any], definitions: dict[str, Any]) -> dict[str, Any]:
    """A pydantic JSON schema node with references and `X | None` unions unwrapped."""
    if "$ref" in schema:
        return resolved(definitions[schema["$ref"].rsplit("/", 1)[-1]], definitions)
    options = [option for option in schema.get("anyOf", []) if option.get("type") != "null"]
    if len(options) == 1:
        return resolved({**schema, **options[0], "anyOf": []}, definitions)
    return schema


def test_crd_bounds_patterns_and_enums_match_the_model(crd: dict[str, Any]) -> None:
    model_schema = MemorySystemSpec.model_json_schema(by_alias=True)
    definitions = model_schema.get("$defs", {})
    checked = 0

    def compare(crd_node: dict[str, Any], model_node: dict[str, Any], path: str) -> None:
        nonlocal checked
        model_node = resolved(model_node, definitions)
        for key in ("minimum", "maximum", "pattern", "enum"):
            if key in crd_node:
                assert crd_node[key] == model_node.get(key), f"{path}: {key}"
                checked += 1
        for name, child in crd_node.get("properties", {}).items():
            assert name in model_node.get("properties", {}), f"{path}.{name} is not in the model"
            compare(child, model_node["properties"][name], f"{path}.{name}")

    compare(schema_of(crd)["properties"]["spec"], model_schema, "spec")
    assert checked > 20
