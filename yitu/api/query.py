"""Query parameters of hot endpoints as one pydantic model, validated in one call.

FastAPI validates each declared query parameter on its own and re-inspects its annotation on
every request; for an endpoint with several parameters that is a large share of the request's
CPU. ``QueryModel`` parses the query string once and validates it with the model's compiled
validator. The endpoint declares the parameters in OpenAPI through ``openapi_extra`` (built
from the same model), and a bad value is the same ``RequestValidationError`` (422 problem naming
the field, ``query.<name>``) FastAPI would raise; the value itself is never echoed.
"""

from __future__ import annotations

from typing import Any, Generic, TypeVar
from urllib.parse import parse_qsl

from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError
from starlette.requests import Request

M = TypeVar("M", bound=BaseModel)


class QueryModel(Generic[M]):
    """Parse ``request``'s query string into ``model`` (unknown parameters are ignored, a repeated
    one keeps its last value, as FastAPI does for scalar parameters)."""

    def __init__(self, model: type[M]) -> None:
        self.model = model
        self._validate = model.__pydantic_validator__.validate_python
        self.openapi_extra: dict[str, Any] = {"parameters": _parameters(model)}

    def parse(self, request: Request) -> M:
        raw = request.scope["query_string"]
        values = dict(parse_qsl(raw.decode("latin-1"), keep_blank_values=True)) if raw else {}
        try:
            result: M = self._validate(values)
        except ValidationError as exc:
            raise RequestValidationError(
                [
                    {"type": e["type"], "loc": ("query", *e["loc"]), "msg": e["msg"]}
                    for e in exc.errors(include_url=False, include_input=False)
                ]
            ) from None
        return result


def _parameters(model: type[BaseModel]) -> list[dict[str, Any]]:
    schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
    required = set(schema.get("required", []))
    params = []
    for name, prop in schema["properties"].items():
        param: dict[str, Any] = {
            "name": name,
            "in": "query",
            "required": name in required,
            "schema": {k: v for k, v in prop.items() if k != "description"},
        }
        if "description" in prop:
            param["description"] = prop["description"]
        params.append(param)
    return params
