"""JSON Schema export of telcoflow's YAML file kinds, for editors (YAML language servers).

:class:`SchemaRegistry` maps a name (``"catalog"``) to the pydantic model of one YAML file
kind. :func:`default_registry` holds the built-in kinds plus any model registered under the
``telcoflow.schemas`` entry-point group (each entry point loads a pydantic model class), so a
rule pack or journey format plugs in without editing this module. :func:`json_schemas`
exports them all: ``{name: JSON Schema dict}``.

Editors: save ``json_schemas()["catalog"]`` as ``catalog.schema.json`` and add
``# yaml-language-server: $schema=catalog.schema.json`` at the top of a catalog file.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator, Mapping
from importlib.metadata import entry_points
from typing import Any

import pydantic

from telcoflow.errors import DefinitionError, Problem

__all__ = [
    "BUILTIN_SCHEMAS",
    "ENTRY_POINT_GROUP",
    "SchemaRegistry",
    "default_registry",
    "json_schemas",
]

#: Entry-point group where packages register extra file kinds (``name = "pkg.mod:Model"``).
ENTRY_POINT_GROUP = "telcoflow.schemas"

#: Built-in file kinds, as ``"module:attribute"`` (imported lazily, when exported).
BUILTIN_SCHEMAS: Mapping[str, str] = {
    "catalog": "telcoflow.catalog.model:CatalogFile",
    "rule-pack": "telcoflow.rules.model:RulePackModel",
    "rule-pack-part": "telcoflow.rules.model:RulePackPartModel",
    "journey": "telcoflow.journeys.models:JourneyFile",
    "offer-recommendation": "telcoflow.offers.config:RecommendationConfig",
    "close-policy": "telcoflow.billing.cycle.policy:ClosePolicy",
}


def _import(target: str) -> Any:
    module, _, attr = target.partition(":")
    try:
        return getattr(importlib.import_module(module), attr)
    except (ImportError, AttributeError) as exc:
        raise DefinitionError(
            [Problem(f"cannot import schema model {target!r}: {exc}", "E-schema-import")]
        ) from exc


class SchemaRegistry:
    """Names -> pydantic models of YAML file kinds; models may be given as ``"module:attr"``."""

    __slots__ = ("_models",)

    def __init__(self, models: Mapping[str, type[pydantic.BaseModel] | str] | None = None) -> None:
        self._models: dict[str, type[pydantic.BaseModel] | str] = {}
        for name, model in (models or {}).items():
            self.register(name, model)

    def register(self, name: str, model: type[pydantic.BaseModel] | str) -> None:
        """Register ``model`` (a pydantic model class, or ``"module:attr"``) as ``name``."""
        if not name or not name.replace("-", "_").isidentifier():
            raise DefinitionError(
                [Problem(f"schema name must be an identifier (got {name!r})", "E-schema-name")]
            )
        if name in self._models:
            raise DefinitionError(
                [Problem(f"schema {name!r} is registered twice", "E-schema-duplicate")]
            )
        if not isinstance(model, str) and not (
            isinstance(model, type) and issubclass(model, pydantic.BaseModel)
        ):
            raise DefinitionError([Problem(
                f"schema {name!r} must be a pydantic model class (got {model!r})",
                "E-schema-model")])
        self._models[name] = model

    def model(self, name: str) -> type[pydantic.BaseModel]:
        """The model registered as ``name`` (imported if given as a string)."""
        target = self._models[name]
        if isinstance(target, str):
            loaded = _import(target)
            if not (isinstance(loaded, type) and issubclass(loaded, pydantic.BaseModel)):
                raise DefinitionError([Problem(
                    f"schema {name!r} ({target}) is not a pydantic model", "E-schema-model")])
            self._models[name] = loaded
            return loaded
        return target

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self._models))

    def __contains__(self, name: object) -> bool:
        return name in self._models

    def json_schema(self, name: str) -> dict[str, Any]:
        """The JSON Schema (validation mode) of the kind ``name``, titled and identified."""
        schema = self.model(name).model_json_schema(mode="validation")
        schema.setdefault("title", name)
        schema["$id"] = f"https://telcoflow.dev/schemas/{name}.schema.json"
        return schema

    def json_schemas(self) -> dict[str, dict[str, Any]]:
        """Every registered kind's JSON Schema, by name."""
        return {name: self.json_schema(name) for name in self}


def default_registry(*, include_entry_points: bool = True) -> SchemaRegistry:
    """A new registry with the built-in kinds and (optionally) the entry-point ones."""
    registry = SchemaRegistry(BUILTIN_SCHEMAS)
    if include_entry_points:
        for ep in entry_points(group=ENTRY_POINT_GROUP):
            if ep.name not in registry:
                registry.register(ep.name, ep.value)
    return registry


def json_schemas(
    extra: Mapping[str, type[pydantic.BaseModel] | str] | None = None,
) -> dict[str, dict[str, Any]]:
    """JSON Schemas of every known YAML file kind (at least ``"catalog"``), by name.

    ``extra`` adds kinds for this call (e.g. ``{"rulepack": RulePackFile}``).

    >>> schemas = json_schemas()
    >>> schemas["catalog"]["properties"]["kind"]["const"]
    'catalog'
    """
    registry = default_registry()
    for name, model in (extra or {}).items():
        registry.register(name, model)
    return registry.json_schemas()
