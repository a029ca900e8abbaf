"""A small validator of HTTP requests and responses against the vendored OpenSearch spec.

It finds the operation by method and path template, checks every query parameter is
declared (by the operation or globally) and fits its schema, and validates JSON bodies
against the referenced schemas, resolving `$ref`s across the vendored files.
"""

from __future__ import annotations

import contextlib
import json
import re
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft202012Validator, validators
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

SPEC_DIR = Path(__file__).parent / "spec"

# The spec writes unions as `oneOf` whose branches overlap (any one-key object is both a
# `FieldWithOrder` and a `SortOptions` sort), so strict oneOf rejects what every OpenSearch
# server accepts. We read `oneOf` as "at least one branch", the way the spec's own tooling does.
SpecValidator = validators.extend(
    Draft202012Validator, {"oneOf": Draft202012Validator.VALIDATORS["anyOf"]}
)
_BASE = "file:///spec/"


@dataclass(frozen=True)
class Operation:
    file: str
    path: str
    method: str
    node: dict[str, Any]

    @property
    def operation_id(self) -> str:
        return str(self.node["operationId"])


class SpecViolation(AssertionError):
    """A request or response the specification does not allow."""


class OpenSearchSpec:
    def __init__(self, root: Path = SPEC_DIR) -> None:
        self.docs: dict[str, Any] = {
            str(path.relative_to(root)): yaml.safe_load(path.read_text())
            for path in root.rglob("*.yaml")
        }
        resources = [
            (_BASE + name, Resource(contents=doc, specification=DRAFT202012))
            for name, doc in self.docs.items()
        ]
        self.registry: Registry = Registry().with_resources(resources)

    @cached_property
    def _routes(self) -> list[tuple[re.Pattern[str], int, Operation]]:
        routes = []
        for name, doc in self.docs.items():
            for path, item in (doc.get("paths") or {}).items():
                pattern = re.compile("^" + re.sub(r"\{[^/]+\}", "[^/]+", path) + "$")
                literal = len(re.sub(r"\{[^/]+\}", "", path))
                for method, node in item.items():
                    routes.append((pattern, literal, Operation(name, path, method, node)))
        # literal segments win over templates: /_bulk is not the index "_bulk"
        return sorted(routes, key=lambda route: -route[1])

    def operation(self, method: str, path: str) -> Operation:
        for pattern, _, operation in self._routes:
            if operation.method == method.lower() and pattern.match(path):
                return operation
        raise SpecViolation(f"no operation {method} {path} in the specification")

    def check_request(
        self, method: str, path: str, query: dict[str, str], body: bytes | None
    ) -> Operation:
        """Raise SpecViolation unless the request fits the specification; return its operation."""
        operation = self.operation(method, path)
        declared = self._parameters(operation)
        for name, value in query.items():
            if name not in declared:
                raise SpecViolation(
                    f"{operation.operation_id}: undeclared query parameter {name!r}"
                )
            self._check_param(operation, name, value, declared[name])
        if body:
            self._check_body(operation, body)
        elif "requestBody" in operation.node and operation.node["requestBody"].get("required"):
            raise SpecViolation(f"{operation.operation_id}: request body is required")
        return operation

    def check_response(self, operation: Operation, status: int, body: Any) -> None:
        """Raise SpecViolation unless `body` is what the spec says `status` returns."""
        responses = operation.node["responses"]
        if str(status) not in responses:
            raise SpecViolation(f"{operation.operation_id}: undeclared status {status}")
        response, uri = self._deref(operation.file, responses[str(status)])
        content = response.get("content", {}).get("application/json")
        if content is not None and "schema" in content:
            self._validate(content["schema"], uri, body, f"{operation.operation_id} {status}")

    def _parameters(self, operation: Operation) -> dict[str, tuple[dict[str, Any], str]]:
        found: dict[str, tuple[dict[str, Any], str]] = {}
        for param in self.docs["_global_parameters.yaml"]["components"]["parameters"].values():
            found[param["name"]] = (param, _BASE + "_global_parameters.yaml")
        for ref in operation.node.get("parameters", []):
            param, uri = self._deref(operation.file, ref)
            if param.get("in") == "query":
                found[param["name"]] = (param, uri)
        return found

    def _check_param(
        self, operation: Operation, name: str, value: str, declared: tuple[dict[str, Any], str]
    ) -> None:
        param, uri = declared
        schema = param.get("schema", {})
        candidates: list[Any] = [value]
        with contextlib.suppress(ValueError):
            candidates.append(json.loads(value))
        if "," in value:
            candidates.append(value.split(","))
        errors = [self._errors(schema, uri, candidate) for candidate in candidates]
        if all(errors):
            raise SpecViolation(
                f"{operation.operation_id}: query parameter {name}={value!r}: {errors[0][0]}"
            )

    def _check_body(self, operation: Operation, body: bytes) -> None:
        if "requestBody" not in operation.node:
            raise SpecViolation(f"{operation.operation_id}: takes no request body")
        request_body, uri = self._deref(operation.file, operation.node["requestBody"])
        content = request_body["content"]
        if "application/x-ndjson" in content:
            media, value = (
                "application/x-ndjson",
                [json.loads(line) for line in body.decode().splitlines() if line.strip()],
            )
        else:
            media, value = "application/json", json.loads(body)
        if media not in content:
            raise SpecViolation(f"{operation.operation_id}: body must be one of {list(content)}")
        self._validate(content[media]["schema"], uri, value, f"{operation.operation_id} body")

    def _deref(self, file: str, node: dict[str, Any]) -> tuple[dict[str, Any], str]:
        """Follow `$ref`s from `node` (found in `file`); the target and the URI it lives at."""
        uri = _BASE + file
        resolver = self.registry.resolver(base_uri=uri)
        while "$ref" in node:
            resolved = resolver.lookup(node["$ref"])
            node, resolver = resolved.contents, resolved.resolver
            uri = str(resolver._base_uri)
        return node, uri

    def _validate(self, schema: dict[str, Any], uri: str, value: Any, label: str) -> None:
        errors = self._errors(schema, uri, value)
        if errors:
            raise SpecViolation(f"{label}: {errors[0]}")

    def _errors(self, schema: dict[str, Any], uri: str, value: Any) -> list[str]:
        # the schema is a node inside the file at `uri`: its relative $refs resolve from there
        validator = SpecValidator(
            schema, registry=self.registry, _resolver=self.registry.resolver(base_uri=uri)
        )
        return [
            f"{'/'.join(map(str, error.absolute_path)) or '<root>'}: {error.message}"
            for error in validator.iter_errors(value)
        ]
