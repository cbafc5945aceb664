"""The handler: found by its dotted name under the project root, and its API's resource templates.

`resolve_handler` imports it with the checkout (`find_project_root`) first on sys.path; `discover_resources`
reads the resource templates from the handler's own OpenAPI document.
"""

from __future__ import annotations

import importlib
import json
import sys
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hng.local.context import LocalLambdaContext
from hng.local.errors import ServeError
from hng.local.events import event_response_to_http, http_to_event

Handler = Callable[[dict[str, Any], Any], Any]


def find_project_root(package: str = "functions", start: Path | None = None) -> Path | None:
    """The checkout root holding `package`/: the current directory or a parent, else the one holding hng/."""
    start = (start or Path.cwd()).resolve()
    for candidate in (start, *start.parents, Path(__file__).resolve().parents[2]):
        if (candidate / package).is_dir():
            return candidate
    return None


def resolve_handler(dotted: str, project_root: Path | None = None) -> Handler:
    """Import ``package.module.attribute`` (or ``package.module:attribute``) with the project root first on
    sys.path, so the checkout's functions/ wins over anything installed under the same name."""
    module_name, sep, attribute = dotted.rpartition(":") if ":" in dotted else dotted.rpartition(".")
    if not sep or not module_name or not attribute:
        raise ServeError(f"--handler must look like package.module.function, got {dotted!r}")
    root = project_root or find_project_root(module_name.split(".", 1)[0])
    if root is not None and str(root) not in sys.path:
        sys.path.insert(0, str(root))
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name and (module_name == exc.name or module_name.startswith(exc.name + ".")):
            where = f" (looked in {root} and sys.path)" if root else ""
            raise ServeError(f"cannot import the handler module {module_name!r}{where}") from exc
        raise
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
