"""Type stub of the compiled per-bucket update of the recent activity (``radar/_recent.pyx``)."""

from collections.abc import Callable
from typing import Any

def pack(post: Any) -> Any: ...
def add(
    recent: Any,
    bucket: Any,
    table: Any,
    python_extended: Callable[..., Any],
    top_posts: int,
    text_chars: int,
    cut: int,
) -> None: ...
def terms(recent: Any, first: int, names: list[str]) -> dict[str, int] | None: ...
