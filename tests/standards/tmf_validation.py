"""Validate TM Forum JSON against the official v4.0.0 swagger definitions (tests/data/tmf).

Two checks per document, both with jsonschema's draft 4 validator and its format checker
(``date-time`` by rfc3339-validator, ``uri`` by rfc3986-validator):

* **open**: the document against the official definition of its ``@baseType`` (or ``@type``)
  exactly as published, and against telcoflow's extension schema named by ``@schemaLocation``
  (which ``$ref`` s the official definitions by their raw GitHub address, mapped here to the
  vendored copies);
* **closed**: the same, but no object may carry a property that neither the official
  definition nor the extension schema declares (the official definitions leave
  ``additionalProperties`` open, so the open check alone would let ``"@documentKind"`` or a
  ``ratedQuantity`` through). Every object definition of the swagger files gets
  ``additionalProperties: false``; an extension ``{"allOf": [{"$ref": base}], "properties":
  ...}`` becomes the base's properties plus its own, closed.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

from jsonschema import Draft4Validator
from jsonschema.exceptions import ValidationError
from referencing import Registry
from referencing.jsonschema import DRAFT4

from telcoflow.billing.documents import TMF678_BILL_SCHEMA, extension_schema
from telcoflow.events import TMF635_USAGE_SCHEMA

DATA = Path(__file__).parent.parent / "data" / "tmf"
_RAW = "https://raw.githubusercontent.com/tmforum-apis/"
OFFICIAL = {
    "TMF678": (_RAW + "TMF678_CustomerBill/eb90402dc362a602225476245398887ce484f9cb/"
               "TMF678-CustomerBill-v4.0.0.swagger.json",
               "TMF678-CustomerBill-v4.0.0.swagger.json"),
    "TMF635": (_RAW + "TMF635_UsageManagement/360f3e4964a6bfaaf24720d120d821dd579a45bc/"
               "TMF635-UsageManagement-v4.0.0.swagger.json",
               "TMF635-UsageManagement-v4.0.0.swagger.json"),
}
#: @schemaLocation -> (extension schema name, the API it extends)
EXTENSIONS = {
    TMF678_BILL_SCHEMA: ("TelcoflowCustomerBill", "TMF678"),
    TMF635_USAGE_SCHEMA: ("TelcoflowUsage", "TMF635"),
}
_CLOSED = "urn:test:closed:"
FORMATS = Draft4Validator.FORMAT_CHECKER


@cache
def official(api: str) -> dict[str, Any]:
    """The vendored swagger document of ``api`` (``TMF678`` or ``TMF635``)."""
    data: dict[str, Any] = json.loads((DATA / OFFICIAL[api][1]).read_text(encoding="utf-8"))
    return data


def _closed_swagger(api: str) -> dict[str, Any]:
    doc = copy.deepcopy(official(api))
    for definition in doc["definitions"].values():
        if definition.get("type") == "object" and "properties" in definition:
            definition["additionalProperties"] = False
    return doc


def _rewrite(node: Any, base: str) -> Any:
    """``node`` with local refs made absolute against ``base`` and official refs closed."""
    if isinstance(node, dict):
        out = {k: _rewrite(v, base) for k, v in node.items()}
        ref = out.get("$ref")
        if isinstance(ref, str):
            if ref.startswith("#"):
                ref = base + ref
            for url, _file in OFFICIAL.values():
                if ref.startswith(url):
                    ref = _CLOSED + url + ref[len(url):]
            out["$ref"] = ref
        return out
    if isinstance(node, list):
        return [_rewrite(v, base) for v in node]
    return node


def _close_extension(node: Any, closed_defs: dict[str, dict[str, Any]]) -> Any:
    """Merge every ``allOf: [{$ref: official}] + properties`` into one closed object schema."""
    if isinstance(node, dict):
        node = {k: _close_extension(v, closed_defs) for k, v in node.items()}
        parents = node.get("allOf")
        if (isinstance(parents, list) and len(parents) == 1 and "$ref" in parents[0]
                and parents[0]["$ref"].startswith(_CLOSED)):
            base = closed_defs[parents[0]["$ref"]]
            merged = dict(node)
            del merged["allOf"]
            merged["type"] = "object"
            merged["properties"] = {**base["properties"], **node.get("properties", {})}
            merged["required"] = sorted({*base.get("required", ()), *node.get("required", ())})
            merged["additionalProperties"] = False
            return merged
        return node
    if isinstance(node, list):
        return [_close_extension(v, closed_defs) for v in node]
    return node


@cache
def _registry() -> Registry[Any]:
    resources = []
    for api, (url, _file) in OFFICIAL.items():
        resources.append((url, DRAFT4.create_resource(official(api))))
        closed = _rewrite(_closed_swagger(api), _CLOSED + url)
        resources.append((_CLOSED + url, DRAFT4.create_resource(closed)))
    return Registry().with_resources(resources)


@cache
def _closed_definitions() -> dict[str, dict[str, Any]]:
    out = {}
    for url, _file in OFFICIAL.values():
        closed = _registry().contents(_CLOSED + url)
        for name, definition in closed["definitions"].items():
            out[f"{_CLOSED}{url}#/definitions/{name}"] = definition
    return out


def _validators(document: dict[str, Any]) -> list[tuple[str, Draft4Validator]]:
    """(label, validator) pairs a document must satisfy."""
    location = document.get("@schemaLocation")
    base_type = document.get("@baseType") or document.get("@type")
    return _validators_of(None if location is None else str(location), str(base_type))


@cache
def _validators_of(location: str | None, base_type: str) -> list[tuple[str, Draft4Validator]]:
    registry = _registry()
    api = "TMF678" if base_type == "CustomerBill" else "TMF635"
    url = OFFICIAL[api][0]
    checks = [
        ("official " + base_type, {"$ref": f"{url}#/definitions/{base_type}"}, registry),
    ]
    if location is None:
        checks.append(("closed " + base_type,
                       {"$ref": f"{_CLOSED}{url}#/definitions/{base_type}"}, registry))
    else:
        name, _api = EXTENSIONS[location]
        ext = extension_schema(name)
        closed = _close_extension(_rewrite(ext, _CLOSED + ext["id"]), _closed_definitions())
        closed["id"] = _CLOSED + ext["id"]
        checks.append(("extension " + name, ext, registry))
        checks.append(("closed " + name, closed,
                       registry.with_resource(closed["id"], DRAFT4.create_resource(closed))))
    return [(label, Draft4Validator(schema, registry=reg, format_checker=FORMATS))
            for label, schema, reg in checks]


def violations(document: dict[str, Any], *, quick: bool = False) -> Iterator[str]:
    """Every violation of ``document`` (parsed JSON), as ``check: path: message``.

    ``quick`` skips the open extension check (the closed one holds all of its constraints and
    more), for bulk runs over tens of thousands of documents."""
    for label, validator in _validators(document):
        if quick and label.startswith("extension "):
            continue
        for error in validator.iter_errors(document):
            yield f"{label}: {_path(error)}: {error.message}"


def _path(error: ValidationError) -> str:
    return "$" + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error.absolute_path)
