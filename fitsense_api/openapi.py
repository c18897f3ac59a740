"""OpenAPI document at /schema: a bearer security scheme and the problem-details shape,
and Swagger UI served from the API's own files so that the page works offline."""

from __future__ import annotations

from pathlib import Path

from litestar import Router
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import JsonRenderPlugin, SwaggerRenderPlugin, YamlRenderPlugin
from litestar.openapi.spec import (
    Components,
    Link,
    OpenAPI,
    OpenAPIMediaType,
    OpenAPIResponse,
    OpenAPIType,
    Reference,
    Schema,
    SecurityScheme,
)
from litestar.static_files import create_static_files_router
from swagger_ui_bundle import swagger_ui_path

BEARER = [{"BearerToken": []}]
SCHEMA_PATH = "/schema"
SWAGGER_ASSETS = "/assets"


class OfflineSwaggerRenderPlugin(SwaggerRenderPlugin):
    """Swagger UI at ``{schema}/`` and ``{schema}/swagger`` whose script, styles and icon
    come from ``{schema}/assets`` (the swagger-ui-bundle package's files). Litestar's
    defaults load them, and its favicon, from a CDN."""

    def __init__(self, schema_path: str = SCHEMA_PATH) -> None:
        assets = f"{schema_path}{SWAGGER_ASSETS}"
        super().__init__(
            js_url=f"{assets}/swagger-ui-bundle.js",
            css_url=f"{assets}/swagger-ui.css",
            standalone_preset_js_url=f"{assets}/swagger-ui-standalone-preset.js",
            favicon=f"<link rel='icon' type='image/png' href='{assets}/favicon-32x32.png'>",
            path=["/", "/swagger"],
        )

    def receive_router(self, router: Router) -> None:
        super().receive_router(router)
        # The schema router is already left out of the document; no route here needs a user.
        router.register(
            create_static_files_router(
                path=SWAGGER_ASSETS,
                directories=[Path(str(swagger_ui_path))],  # a folder of the installed package
                name="swagger_ui_assets",
                include_in_schema=False,
            )
        )


def openapi_config(version: str) -> OpenAPIConfig:
    return OpenAPIConfig(
        title="FitSense API",
        version=version,
        description="Accounts, profile and onboarding, the exercise catalog, workouts, daily "
        "signals and targets, plan versions and the dashboard. Errors are RFC 9457 problem "
        "details (application/problem+json) naming the failing fields. Authenticate with "
        "`Authorization: Bearer <token>` from /auth/signup or /auth/login.",
        path=SCHEMA_PATH,
        # Only viewers that need nothing from outside: Redoc, Elements and RapiDoc would
        # load their scripts from a CDN, so they are not served.
        render_plugins=[OfflineSwaggerRenderPlugin(), JsonRenderPlugin(), YamlRenderPlugin()],
        components=Components(
            security_schemes={
                "BearerToken": SecurityScheme(
                    type="http",
                    scheme="bearer",
                    description="A token from /auth/signup or /auth/login.",
                )
            }
        ),
        use_handler_docstrings=False,
    )


# --- error responses, documented once for every operation ------------------------------

_PROBLEM_SCHEMA = Schema(
    type=OpenAPIType.OBJECT,
    required=["type", "title", "status", "detail"],
    properties={
        "type": Schema(type=OpenAPIType.STRING, description="A URI naming the problem kind."),
        "title": Schema(type=OpenAPIType.STRING),
        "status": Schema(type=OpenAPIType.INTEGER),
        "detail": Schema(type=OpenAPIType.STRING, description="What went wrong, for people."),
        "instance": Schema(type=OpenAPIType.STRING, description="The request path."),
        "request_id": Schema(
            one_of=[Schema(type=OpenAPIType.STRING), Schema(type=OpenAPIType.NULL)],
            description="Also in the X-Request-ID header and every log line.",
        ),
        "errors": Schema(
            type=OpenAPIType.ARRAY,
            description="The failing fields.",
            items=Schema(
                type=OpenAPIType.OBJECT,
                required=["field", "message"],
                properties={
                    "field": Schema(type=OpenAPIType.STRING),
                    "message": Schema(type=OpenAPIType.STRING),
                    "code": Schema(type=OpenAPIType.STRING),
                },
            ),
        ),
    },
    description="RFC 9457 problem details.",
)
_PROBLEM_REF = Reference(ref="#/components/schemas/Problem")
_WHEN = {
    "400": "The body is not valid JSON.",
    "401": "Missing, unknown, expired or revoked bearer token.",
    "403": "Refused: the current password is wrong.",
    "404": "No such item among the caller's own (another user's ids answer the same).",
    "409": "Conflicts with the stored state.",
    "413": "The body is larger than the configured limit.",
    "422": "A field is missing, malformed or out of range; `errors` names it.",
    "429": "Too many requests; see Retry-After.",
    "503": "The database is not answering, or the password checks, the model or the plan "
    "queue are at capacity; see Retry-After.",
}


def _problem_response(description: str) -> OpenAPIResponse:
    return OpenAPIResponse(
        description=description,
        content={"application/problem+json": OpenAPIMediaType(schema=_PROBLEM_REF)},
    )


def document_problems(openapi: OpenAPI) -> OpenAPI:
    """Add the problem-details responses each operation can give, and a catch-all
    ``default``, so the document describes every answer the API sends."""
    openapi.components.schemas["Problem"] = _PROBLEM_SCHEMA
    for path, item in (openapi.paths or {}).items():
        for method in ("get", "put", "post", "delete", "patch"):
            operation = getattr(item, method, None)
            if operation is None:
                continue
            codes = ["503"]
            if operation.security:
                codes.append("401")
            if "{" in path:
                codes.append("404")
            if operation.parameters or operation.request_body is not None:
                codes.append("422")
            if operation.request_body is not None:
                codes += ["400", "413"]
            if method in ("put", "post", "delete"):
                codes.append("409")
            if path in ("/auth/login", "/auth/signup", "/me/password"):
                codes.append("429")
            if path == "/me/password":
                codes.append("403")
            responses = dict(operation.responses or {})
            for code in sorted(set(codes)):
                responses[code] = _problem_response(_WHEN[code])
            responses["default"] = _problem_response("Any other error, as problem details.")
            operation.responses = responses
    return openapi


# --- links between operations, for clients and for stateful testing -----------------------

_BODY_ID = "$response.body#/id"
# (operation id, response status) -> {link name: (target operation id, its parameters)}
_LINKS: dict[tuple[str, str], dict[str, tuple[str, dict[str, str]]]] = {
    ("createWorkout", "201"): {
        "GetWorkout": ("getWorkout", {"workout_id": _BODY_ID}),
        "PutWorkout": ("replaceWorkout", {"workout_id": _BODY_ID}),
        "DeleteWorkout": ("deleteWorkout", {"workout_id": _BODY_ID}),
    },
    ("replaceWorkout", "200"): {
        "GetWorkout": ("getWorkout", {"workout_id": _BODY_ID}),
        "DeleteWorkout": ("deleteWorkout", {"workout_id": _BODY_ID}),
    },
    ("createManualPlan", "201"): {
        "GetPlanVersion": ("getPlanVersion", {"plan_id": _BODY_ID}),
        "ActivatePlanVersion": ("activatePlanVersion", {"plan_id": _BODY_ID}),
        "UpdatePlan": ("updatePlan", {"plan_id": _BODY_ID}),
    },
    ("activatePlanVersion", "201"): {
        "GetPlanVersion": ("getPlanVersion", {"plan_id": _BODY_ID}),
    },
    ("putSignal", "200"): {
        "ListSignals": ("listSignals", {"kind": "$request.path.kind"}),
        "DeleteSignal": (
            "deleteSignal",
            {"kind": "$request.path.kind", "day": "$request.path.day"},
        ),
    },
}


def document_links(openapi: OpenAPI) -> OpenAPI:
    """Add OpenAPI links from the responses that create or change workouts, plan versions
    and signal days to the operations that read, change or delete the same item (Litestar
    emits none), so clients and schemathesis's state machine can chain them."""
    for item in (openapi.paths or {}).values():
        for method in ("get", "put", "post", "delete", "patch"):
            operation = getattr(item, method, None)
            if operation is None or not operation.responses:
                continue
            for status, response in operation.responses.items():
                links = _LINKS.get((operation.operation_id or "", status))
                if links is None or not isinstance(response, OpenAPIResponse):
                    continue
                response.links = {
                    name: Link(operation_id=target, parameters=dict(parameters))
                    for name, (target, parameters) in links.items()
                }
    return openapi
