"""The API's routes, declared once: each route's path template, method and whether it takes a JSON body.

The handler declares a route with `RouteTable.route`, which registers it with the Powertools resolver and
records what is checked before routing: the methods a path allows (405 with ``Allow``: Powertools
reports a known path with another method as 404) and the routes that take a JSON body (checked once, in
bytes, by hng.http's body rules before Powertools parses it). So there is no second table to keep in step
with the decorators.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

_PARAMETER = re.compile(r"<\w+>")


@dataclass
class RouteRule:
    """A path's methods, and, for the methods that take a JSON body, what the body must hold at least."""

    methods: list[str] = field(default_factory=list)
    body: dict[str, str] = field(default_factory=dict)


def path_pattern(template: str) -> re.Pattern[str]:
    """The paths a template matches as Powertools' REST resolver routes them: a parameter is one path
    segment, and trailing slashes are ignored (the root is exactly ``/``)."""
    if template == "/":
        return re.compile(r"^/$")
    parts = _PARAMETER.split(template.rstrip("/"))
    return re.compile("^" + "[^/]+".join(re.escape(part) for part in parts) + "/*$")


class RouteTable:
    """The rules of every declared route, looked up by request path."""

    def __init__(self) -> None:
        self._rules: dict[str, tuple[re.Pattern[str], RouteRule]] = {}

    def route(
        self, resolver: Any, method: str, template: str, *, json_body: str | None = None, **options: Any
    ) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        """``resolver.route(template, method, **options)``, recording the rule; ``json_body`` says what a
        JSON body must hold at least (e.g. "with at least `number`")."""
        _, rule = self._rules.setdefault(template, (path_pattern(template), RouteRule()))
        rule.methods.append(method)
        if json_body is not None:
            rule.body[method] = json_body
        decorator: Callable[[Callable[..., Any]], Callable[..., Any]] = resolver.route(
            template, method, **options
        )
        return decorator

    def rule(self, path: str) -> RouteRule | None:
        return next((rule for pattern, rule in self._rules.values() if pattern.match(path)), None)
