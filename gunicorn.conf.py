"""gunicorn reads this file from the directory it starts in (`make run`, the deployment
in the README: `gunicorn -c /path/to/checkout/gunicorn.conf.py ...`). It refuses to start
several worker processes while the rate limits are counted per process (memory://), which
would let every worker admit the whole limit."""

from __future__ import annotations


def on_starting(server) -> None:
    if (getattr(server.app, "app_uri", "") or "").split(":")[0] not in ("survey", "wsgi"):
        return  # another application (e.g. the benchmark's bare app)
    from survey import create_app  # the application's own configuration decides
    from survey.core.config import per_process_limits_refused

    reason = per_process_limits_refused(create_app().config, server.cfg.workers)
    if reason:
        raise SystemExit(f"refusing to start: {reason}")
