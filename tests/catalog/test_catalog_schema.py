"""JSON Schema export for editors, and the registry other file kinds plug into."""

from __future__ import annotations

import json

import pydantic
import pytest

from telcoflow.errors import DefinitionError
from telcoflow.loading.schema import SchemaRegistry, default_registry, json_schemas


class _RulePackFile(pydantic.BaseModel):
    kind: str
    rules: list[str] = []


def test_catalog_schema_is_exported() -> None:
    schemas = json_schemas()
    catalog = schemas["catalog"]
    assert catalog["properties"]["kind"]["const"] == "catalog"
    assert catalog["additionalProperties"] is False
    assert catalog["$id"].endswith("/catalog.schema.json")
    # the price-model union is discriminated on `model` in the schema too
    text = json.dumps(catalog)
    assert '"propertyName": "model"' in text
    assert '"propertyName": "price_type"' in text
    json.loads(text)  # plain JSON, no Decimal or date objects left


def test_other_kinds_register_by_class_or_import_string() -> None:
    schemas = json_schemas({"rulepack": _RulePackFile})
    assert set(schemas) >= {"catalog", "rulepack"}
    assert schemas["rulepack"]["properties"]["rules"]["type"] == "array"
    registry = SchemaRegistry({"again": "telcoflow.catalog.model:CatalogFile"})
    assert registry.json_schema("again")["properties"]["kind"]["const"] == "catalog"


def test_registry_refuses_duplicates_and_non_models() -> None:
    registry = default_registry(include_entry_points=False)
    with pytest.raises(DefinitionError, match="registered twice"):
        registry.register("catalog", _RulePackFile)
    with pytest.raises(DefinitionError, match="must be a pydantic model class"):
        registry.register("x", dict)  # type: ignore[arg-type]
    registry.register("broken", "telcoflow.catalog.model:Nope")
    with pytest.raises(DefinitionError, match="cannot import schema model"):
        registry.json_schema("broken")
