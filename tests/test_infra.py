"""The integration-test infrastructure itself: real PostgreSQL and real headless Chromium."""

from __future__ import annotations

import http.server
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import sqlalchemy as sa

from tests import browser as browser_helpers
from tests.pgserver import PostgresServer, PostgresServerError, find_bindir

if TYPE_CHECKING:
    from playwright.sync_api import Page

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def test_postgres_url_reaches_a_real_postgresql(postgres_url: str) -> None:
    engine = sa.create_engine(postgres_url)
    try:
        with engine.connect() as conn:
            version = conn.execute(sa.text("select version()")).scalar_one()
            database = conn.execute(sa.text("select current_database()")).scalar_one()
    finally:
        engine.dispose()
    assert version.startswith("PostgreSQL ")
    assert postgres_url.startswith("postgresql+psycopg://postgres@127.0.0.1:")
    assert postgres_url.endswith("/" + database)


def test_fresh_databases_are_isolated(postgres: PostgresServer, postgres_url: str) -> None:
    other = f"t_other_{uuid.uuid4().hex[:8]}"
    postgres.create_database(other)
    first, second = sa.create_engine(postgres_url), sa.create_engine(postgres.url(other))
    try:
        with first.begin() as conn:
            conn.execute(sa.text("create table alerts (id serial primary key, body text not null)"))
            conn.execute(sa.text("insert into alerts (body) values ('spike')"))
        with second.connect() as conn:
            tables = conn.execute(sa.text("select count(*) from pg_tables where tablename = 'alerts'"))
            assert tables.scalar_one() == 0
        with first.connect() as conn:
            assert conn.execute(sa.text("select body from alerts")).scalars().all() == ["spike"]
    finally:
        first.dispose()
        second.dispose()
        postgres.drop_database(other)
    with pytest.raises(sa.exc.OperationalError):
        sa.create_engine(postgres.url(other)).connect().close()


def test_missing_postgresql_says_how_to_install(tmp_path: Path) -> None:
    with pytest.raises(PostgresServerError, match="apt-get install postgresql"):
        find_bindir(tmp_path)


def test_missing_chromium_says_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(browser_helpers, "CHROMIUM", "/nonexistent/chromium")
    with pytest.raises(browser_helpers.BrowserUnavailableError, match="apt-get install chromium"):
        browser_helpers.launch(None)  # type: ignore[arg-type]


@pytest.fixture
def site(tmp_path: Path) -> Iterator[str]:
    """A tiny static site served by ``http.server`` on loopback; yields its base URL."""
    (tmp_path / "index.html").write_text(
        "<!doctype html><title>Crisis Radar</title><h1 id='status'>All quiet</h1>", encoding="utf-8"
    )

    class Handler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args: object, **kwargs: object) -> None:
            super().__init__(*args, directory=str(tmp_path), **kwargs)  # type: ignore[arg-type]

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_chromium_reads_a_served_page_and_screenshots_it(page: Page, site: str, tmp_path: Path) -> None:
    response = page.goto(f"{site}/index.html")
    assert response is not None and response.ok
    assert page.title() == "Crisis Radar"
    assert page.locator("#status").inner_text() == "All quiet"
    assert page.viewport_size == {"width": 1280, "height": 900}
    shot = tmp_path / "page.png"
    page.screenshot(path=str(shot))
    assert shot.read_bytes().startswith(PNG_MAGIC)


def test_chromium_runs_scripts_in_set_content(page: Page) -> None:
    page.set_content("<p id='out'></p><script>document.getElementById('out').textContent = 6 * 7</script>")
    assert page.locator("#out").text_content() == "42"
    assert page.evaluate("navigator.userAgent").count("Chrome/") == 1
