"""The console fixtures (demo, logged-in roles) for the consolidation pages' tests."""

from tests.web.conftest import as_role, demo, passwords, web_app  # noqa: F401
