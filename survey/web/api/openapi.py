"""The OpenAPI 3 description of the read API (served at /api/v1/openapi.json)."""

from __future__ import annotations

from typing import Any

_NUM = {"type": "number"}
_NULLABLE_NUM = {"type": ["number", "null"]}
_INTERVAL = {"type": "array", "items": _NUM, "minItems": 2, "maxItems": 2}
_NULLABLE_INTERVAL = {"oneOf": [_INTERVAL, {"type": "null"}]}

_ELEMENT = {
    "type": "object",
    "required": ["code", "n", "nrr", "nrr_converted", "se_converted", "ci"],
    "properties": {
        "code": {"type": "string"},
        "n": {"type": "integer", "minimum": 0},
        "nrr": {"type": "number", "minimum": 1, "maximum": 4},
        "nrr_converted": {"type": "number", "minimum": 25, "maximum": 100},
        "se_converted": {"type": "number", "minimum": 0},
        "ci": _INTERVAL,
        "ci_t": _NULLABLE_INTERVAL,
    },
}

_RESULT = {
    "type": "object",
    "description": "One agency row (desk null, with method) or one desk row; the fields "
                   "are null when the agency or desk has no estimate (see not_estimable).",
    "required": ["agency", "desk", "n", "population", "ikm", "ikm_converted", "grade",
                 "grade_label", "se_converted", "df", "ci", "ci_t", "grade_probabilities",
                 "required_sample", "sample_adequate", "elements"],
    "properties": {
        "agency": {"type": "string"},
        "desk": {"type": ["string", "null"]},
        "method": {"type": ["string", "null"], "enum": ["stratified", "pooled", None]},
        "n": {"type": "integer", "minimum": 0},
        "population": {"type": ["integer", "null"], "minimum": 0},
        "ikm": _NULLABLE_NUM,
        "ikm_converted": _NULLABLE_NUM,
        "grade": {"type": ["string", "null"]},
        "grade_label": {"type": ["string", "null"]},
        "se_converted": _NULLABLE_NUM,
        "df": {"type": ["integer", "null"]},
        "ci": _NULLABLE_INTERVAL,
        "ci_t": _NULLABLE_INTERVAL,
        "grade_probabilities": {"type": ["object", "null"],
                                "additionalProperties": _NUM},
        "required_sample": {"type": ["integer", "null"]},
        "sample_adequate": {"type": ["boolean", "null"]},
        "elements": {"oneOf": [{"type": "array", "items": _ELEMENT}, {"type": "null"}]},
    },
}

_MONTH = "(0[1-9]|1[0-2])"
_DAY = f"\\d{{4}}-{_MONTH}-(0[1-9]|[12][0-9]|3[01])"
PERIOD_PATTERN = (
    f"^\\d{{4}}(-S[12]|-Q[1-4]|-{_MONTH})?$|^{_DAY}\\.\\.{_DAY}$"
    f"|^\\d{{4}}-{_MONTH}\\.\\.\\d{{4}}-{_MONTH}$"
)

_ERROR = {
    "type": "object",
    "required": ["error", "status", "code"],
    "properties": {"error": {"type": "string"}, "status": {"type": "integer"},
                   "code": {"type": "string", "description": "machine-readable reason, "
                            "e.g. not_found, rate_limited, period_not_over"}},
}


def _errors(*codes: int) -> dict[str, Any]:
    text = {400: "Invalid parameter", 401: "Missing or invalid bearer token",
            403: "The token's user may not read this", 404: "No such agency (or not visible)"}
    return {str(c): {"description": text[c],
                     "content": {"application/json": {"schema": _ERROR}}} for c in codes}


def document(server_url: str) -> dict[str, Any]:
    code_param = {"name": "code", "in": "path", "required": True,
                  "schema": {"type": "string", "pattern": "^[A-Za-z0-9][A-Za-z0-9_.-]{0,39}$"},
                  "description": "Agency code, e.g. DUKCAPIL"}
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "SKM read API",
            "version": "1.0.0",
            "description": "Read-only access to agencies, desks and IKM results. Results are "
                           "exactly the JSON of `ikm compute` for the same responses. Use a "
                           "bearer token from `flask user token --email ...`.",
        },
        "servers": [{"url": server_url}],
        "components": {"securitySchemes": {
            "bearer": {"type": "http", "scheme": "bearer",
                       "description": "A user's token (`flask user token`)"},
            "deskKey": {"type": "http", "scheme": "bearer",
                        "description": "A desk's API key (`flask desk api-key`)"}}},
        "security": [{"bearer": []}],
        "paths": {
            "/api/v1/agencies": {"get": {
                "operationId": "listAgencies",
                "summary": "Agencies the token may read",
                "responses": {"200": {"description": "Agencies", "content": {
                    "application/json": {"schema": {"type": "object", "required": ["agencies"],
                                                    "properties": {"agencies": {
                                                        "type": "array", "items": {
                                                            "type": "object",
                                                            "required": ["code", "name",
                                                                         "parent"],
                                                            "properties": {
                                                                "code": {"type": "string"},
                                                                "name": {"type": "string"},
                                                                "parent": {"type": [
                                                                    "string", "null"]}}}}}}}}},
                    **_errors(401, 403)},
            }},
            "/api/v1/agencies/{code}/desks": {"get": {
                "operationId": "listDesks",
                "summary": "An agency's desks with their public survey URLs",
                "parameters": [code_param],
                "responses": {"200": {"description": "Desks", "content": {
                    "application/json": {"schema": {"type": "object", "required": ["desks"],
                                                    "properties": {"desks": {
                                                        "type": "array", "items": {
                                                            "type": "object",
                                                            "required": ["agency", "code",
                                                                         "name", "url",
                                                                         "active"],
                                                            "properties": {
                                                                "agency": {"type": "string"},
                                                                "code": {"type": "string"},
                                                                "name": {"type": "string"},
                                                                "url": {"type": "string"},
                                                                "active": {"type":
                                                                           "boolean"}}}}}}}}},
                    **_errors(401, 403, 404)},
            }},
            "/api/v1/agencies/{code}/results": {"get": {
                "operationId": "agencyResults",
                "summary": "The IKM of an agency and its desks for a period",
                "parameters": [code_param, {
                    "name": "period", "in": "query", "required": True,
                    "schema": {"type": "string", "pattern": PERIOD_PATTERN},
                    "description": "2024, 2024-S1, 2024-Q3, 2024-05, 2024-01-15..2024-03-14 or "
                                   "2024-01..2024-04"}],
                "responses": {"200": {"description": "Results as `ikm compute` prints them",
                                      "content": {"application/json": {"schema": {
                                          "type": "object",
                                          "required": ["standard", "weights", "confidence",
                                                       "results"],
                                          "properties": {
                                              "standard": {"type": "string"},
                                              "weights": {"type": "string"},
                                              "confidence": _NUM,
                                              "results": {"type": "array",
                                                          "items": _RESULT}}}}}},
                              **_errors(400, 401, 403, 404)},
            }},
            "/api/v1/tickets": {"post": {
                "operationId": "issueTickets",
                "summary": "One-time visit tickets for a queue system to print",
                "description": "Authenticated with the desk's own API key (`flask desk "
                               "api-key`), not a user's token; the tickets are for that "
                               "desk. Each URL opens the survey once, within the validity.",
                "security": [{"deskKey": []}],
                "requestBody": {"required": False, "content": {"application/json": {
                    "schema": {"type": "object", "properties": {
                        "count": {"type": "integer", "minimum": 1, "maximum": 500,
                                  "default": 1}}}}}},
                "responses": {
                    "201": {"description": "Tickets", "content": {"application/json": {
                        "schema": {"type": "object",
                                   "required": ["agency", "desk", "tickets"],
                                   "properties": {
                                       "agency": {"type": "string"},
                                       "desk": {"type": "string"},
                                       "tickets": {"type": "array", "items": {
                                           "type": "object",
                                           "required": ["url", "expires_at"],
                                           "properties": {
                                               "url": {"type": "string"},
                                               "expires_at": {"type": "string"}}}}}}}}},
                    **_errors(400, 401),
                    "409": {"description": "The desk is not accepting responses",
                            "content": {"application/json": {"schema": _ERROR}}},
                },
            }},
        },
    }
