"""The objects behind Flask's context proxies, for code that uses one several times a request."""

from __future__ import annotations

from typing import TypeVar

T = TypeVar("T")


def unproxied(proxy: T) -> T:
    """What ``proxy`` (``request``, ``session``, ``g``, ``current_app``) stands for in this context.

    Every use of a proxy looks that object up again, which costs several times the use itself:
    code on every request's path looks it up once and uses the object.
    """
    return proxy._get_current_object()  # type: ignore[attr-defined,no-any-return]
