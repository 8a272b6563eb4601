"""Survei Kepuasan Masyarakat: the citizen satisfaction survey and its index (IKM).

Layers, each importing only those below it (enforced by import contracts in CI):

- `survey.web` (pages, API) and `survey.commands` (`flask ...`) call
- `survey.core`, the domain: database, organisation, responses, results, exports, which uses
- `survey.ikm`, the pure engine (numpy/scipy only), also the stand-alone `ikm` command.

`create_app` composes the web application with the commands; it imports them when called
so that `import survey.ikm` never loads Flask.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from flask import Flask


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    """The web application with the `flask` commands (what gunicorn, `flask --app survey`
    and the tests run)."""
    # Imported here, not at the top: `import survey.ikm` must not load Flask.
    from survey.commands import register
    from survey.web.app import create_app as create_web_app

    app = create_web_app(test_config)
    register(app)
    return app
