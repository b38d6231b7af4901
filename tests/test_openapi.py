"""The OpenAPI document tells a client what every JSON route answers: a response schema with
named properties (issue 23). File and picture routes say their media types instead."""

from __future__ import annotations

import pytest
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute

from examengine.app import ERROR_RESPONSES, ERROR_STATUS, create_app
from examengine.config import Settings


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    # Building the app and its document opens no database (habit 6).
    return create_app(Settings(database_url=f"sqlite:///{tmp_path_factory.mktemp('openapi') / 'none.db'}"))


def _resolve(schema: dict, doc: dict) -> dict:
    while "$ref" in schema:
        name = schema["$ref"].removeprefix("#/components/schemas/")
        schema = doc["components"]["schemas"][name]
    return schema


def named(schema: dict, doc: dict) -> bool:
    """An object with properties, an array of such, or a choice of such (null allowed beside them)."""
    schema = _resolve(schema, doc)
    if schema.get("properties"):
        return True
    if schema.get("type") == "array":
        return named(schema.get("items", {}), doc)
    choices = schema.get("anyOf") or schema.get("oneOf")
    if choices:
        others = [c for c in choices if c.get("type") != "null"]
        return bool(others) and all(named(c, doc) for c in others)
    return False


def json_operations(app) -> list[tuple[str, str, int]]:
    """(method, path, success status) of every documented route that answers JSON."""
    out = []
    stack = list(app.routes)
    while stack:
        route = stack.pop()
        if hasattr(route, "original_router"):  # FastAPI's lazily included router
            stack.extend(route.original_router.routes)
        if not isinstance(route, APIRoute) or not route.include_in_schema:
            continue
        response_class = getattr(route.response_class, "value", route.response_class)  # FastAPI's DefaultPlaceholder
        if not issubclass(response_class, JSONResponse):
            continue
        for method in sorted(route.methods - {"HEAD", "OPTIONS"}):
            out.append((method, route.path_format, route.status_code or 200))
    return out


def test_every_json_route_documents_a_response_with_named_properties(app):
    doc = app.openapi()
    operations = json_operations(app)
    assert len(operations) >= 45  # the API's JSON routes (the file and picture routes are not among them)
    missing = []
    for method, path, status in operations:
        content = doc["paths"][path][method.lower()]["responses"].get(str(status), {}).get("content", {})
        schema = content.get("application/json", {}).get("schema")
        if schema is None or not named(schema, doc):
            missing.append(f"{method} {path}: {schema}")
    assert not missing, "\n".join(missing)


def test_file_and_picture_routes_say_what_they_send(app):
    doc = app.openapi()
    for path, media in [("/api/v1/forms/{form_id}/booklet.pdf", "application/pdf"),
                        ("/api/v1/items/export", "application/zip"),
                        ("/api/v1/items/{external_id}/versions/{version}/images/{name}", "image/png"),
                        ("/api/v1/attempts/{attempt_id}/items/{position}/images/{name}", "image/png")]:
        content = doc["paths"][path]["get"]["responses"]["200"]["content"]
        assert media in content, path


def test_the_walk_would_catch_a_route_that_returns_a_bare_dict(app):
    doc = {"components": {"schemas": {}}}
    assert not named({"type": "object", "additionalProperties": True}, doc)
    assert not named({"type": "array", "items": {"type": "object"}}, doc)
    assert not named({"anyOf": [{"type": "object"}, {"type": "null"}]}, doc)
    assert named({"anyOf": [{"type": "object", "properties": {"a": {}}}, {"type": "null"}]}, doc)


def test_every_error_status_of_the_api_is_documented(app):
    assert {code for _, code in ERROR_STATUS} - {422} <= set(ERROR_RESPONSES)
    doc = app.openapi()
    responses = doc["paths"]["/api/v1/exams/{exam_id}"]["get"]["responses"]
    assert {"400", "401", "403", "404", "409", "422", "429", "503"} <= set(responses)
    assert responses["404"]["content"]["application/json"]["schema"]["$ref"].endswith("/ErrorOut")
