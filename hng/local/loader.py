"""The handler, imported by its dotted name, and its API's resource templates.

`resolve_handler` imports it from sys.path (the packaged ``hng.handlers.api.lambda_handler`` by default);
`discover_resources` reads the resource templates from the handler's own OpenAPI document.
"""

from __future__ import annotations

import importlib
import json
import uuid
from collections.abc import Callable
from typing import Any

from hng.local.context import LocalLambdaContext
from hng.local.events import event_response_to_http, http_to_event
from hng.local.serve_error import ServeError

Handler = Callable[[dict[str, Any], Any], Any]


def resolve_handler(dotted: str) -> Handler:
    """Import ``package.module.attribute`` (or ``package.module:attribute``) from sys.path: the packaged
    handler by default, or the user's own (importable: installed, or on PYTHONPATH)."""
    module_name, sep, attribute = dotted.rpartition(":") if ":" in dotted else dotted.rpartition(".")
    if not sep or not module_name or not attribute:
        raise ServeError(f"--handler must look like package.module.function, got {dotted!r}")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name and (module_name == exc.name or module_name.startswith(exc.name + ".")):
            raise ServeError(
                f"cannot import the handler module {module_name!r} (install it or put it on PYTHONPATH)"
            ) from exc
        raise ServeError(
            f"the handler module {module_name!r} needs {exc.name!r}, which is not installed "
            "(hng's handlers need the local extra: pip install 'hng[local]')"
        ) from exc
    handler = getattr(module, attribute, None)
    if not callable(handler):
        raise ServeError(f"{module_name} has no callable {attribute!r}")
    return handler


def discover_resources(handler: Handler, openapi_path: str = "/openapi.json") -> list[str] | None:
    """The API's resource templates, read from the handler's own OpenAPI document (None if unavailable)."""
    event = http_to_event("GET", openapi_path, {"Host": "localhost"}, None)
    try:
        status, _, payload = event_response_to_http(handler(event, LocalLambdaContext(str(uuid.uuid4()))))
        paths = json.loads(payload).get("paths") if status == 200 else None
    except Exception:
        return None
    return sorted(paths) if isinstance(paths, dict) and paths else None
