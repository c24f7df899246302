"""Shared fixtures for integration tests: a real PostgreSQL server and a real headless Chromium.

Everything here is lazy: the server starts (once per session) only when a test asks for
``postgres`` or ``postgres_url``, and Chromium launches (once per session) only when a test asks for
``browser`` or ``page``; other tests pay nothing, not even the imports.

* ``postgres`` (session): a started ``tests.pgserver.PostgresServer``.
* ``postgres_url`` (function): SQLAlchemy URL of a fresh, empty database, dropped afterwards.
* ``browser`` (session): a Playwright ``Browser`` running Debian's ``/usr/bin/chromium``.
* ``page`` (function): a ``Page`` in a new 1280x900 browser context, closed afterwards.
"""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

    from tests.pgserver import PostgresServer

# Playwright must never download its own browsers during a test run.
os.environ.setdefault("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1")


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    """A private PostgreSQL server on 127.0.0.1 for the whole session, stopped at the end."""
    from tests.pgserver import PostgresServer

    with PostgresServer() as server:
        yield server


@pytest.fixture
def postgres_url(postgres: PostgresServer, request: pytest.FixtureRequest) -> Iterator[str]:
    """URL (``postgresql+psycopg://...``) of a new empty database for this test, dropped afterwards."""
    slug = re.sub(r"[^a-z0-9]+", "_", request.node.name.lower()).strip("_")[:40]
    name = f"t_{slug}_{uuid.uuid4().hex[:8]}"
    postgres.create_database(name)
    try:
        yield postgres.url(name)
    finally:
        postgres.drop_database(name)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Headless Debian Chromium driven by sync Playwright, shared by a module (not the session: sync
    Playwright keeps an event loop running in the main thread, where other tests use asyncio.run)."""
    from playwright.sync_api import sync_playwright

    from tests.browser import launch

    with sync_playwright() as playwright:
        chromium = launch(playwright)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """A page in a fresh browser context (viewport 1280x900), closed after the test."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    try:
        yield context.new_page()
    finally:
        context.close()
