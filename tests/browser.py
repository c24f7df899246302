"""Playwright helpers that drive Debian's Chromium (``apt-get install chromium``).

Tests never use a browser downloaded by ``playwright install``: ``launch()`` points Playwright at
``/usr/bin/chromium`` and passes the flags Chromium needs to run headless as root inside a
container (no sandbox, no reliance on a small ``/dev/shm``, no GPU)::

    with sync_playwright() as pw:
        browser = launch(pw)
        page = browser.new_page()
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Playwright

__all__ = ["CHROMIUM", "CHROMIUM_ARGS", "BrowserUnavailableError", "launch"]

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ("--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu")

# Nothing in the test run may fetch Playwright's own browser builds.
os.environ.setdefault("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1")


class BrowserUnavailableError(RuntimeError):
    """Debian's Chromium is not installed (or not executable)."""


def launch(playwright: Playwright, *, headless: bool = True, **options: Any) -> Browser:
    """Launch ``/usr/bin/chromium`` through ``playwright.chromium`` and return the browser.

    ``options`` go to ``BrowserType.launch`` (extra ``args`` are added after the container flags).
    Raises ``BrowserUnavailableError`` with the install command when the binary is missing.
    """
    if not os.access(CHROMIUM, os.X_OK):
        raise BrowserUnavailableError(
            f"{CHROMIUM} not found: install Debian's Chromium with `apt-get install chromium` "
            "(tests never use browsers downloaded by `playwright install`)"
        )
    args = [*CHROMIUM_ARGS, *options.pop("args", ())]
    return playwright.chromium.launch(executable_path=CHROMIUM, headless=headless, args=args, **options)
