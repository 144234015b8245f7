"""Run the app in this process the way ``segmint serve`` does (the server benchmark calls this too).

Three process-wide choices that are measured to matter for the one-customer look-up
(figures in benchmarks/results/server.md):

* **No access log** by default: formatting and writing a line per request costs about
  as much as answering a look-up from the serving index. ``access_log=True`` turns it on.
* **httptools** (a dependency of segmint; uvicorn's ``auto`` picks it): its C parser gives
  about 1.5x the look-ups per second of the pure-Python ``h11``. The event loop is
  ``asyncio`` even where uvloop is installed (uvicorn's ``auto`` would pick it): with uvloop,
  200 clients got ~10% more requests per second but a p99 of 1-3 s (a few connections
  waited seconds while the others were served), where ``asyncio`` kept p99 under 100 ms on
  the same machine at the same time.
* **gc.freeze() before serving**: the imported libraries, the app and the serving index are a
  few hundred thousand long-lived objects; without freezing, every full garbage collection
  walks them all (100-250 ms on the project's 2-core machine), a stall that every request in
  flight waits for. So the index is loaded, and one look-up per segmentation made (which
  imports what explanations need), *before* the freeze, not in the background as
  ``create_app`` alone does. Frozen objects are still freed by reference counting; only the
  cycle collector stops visiting them.

And the limits that keep slow or hostile clients from exhausting it (docs/api.md, "Server
limits"): uvicorn's httptools protocol with a request-head timeout, a body timeout, a head size
limit and a connection cap (:mod:`segmint.server.protocol`), its keep-alive timeout, the open-file
limit raised so the cap is reached before the file table is full, and rate-limited log lines
(:mod:`segmint.server.logs`).
"""

from __future__ import annotations

import gc
import logging
from collections.abc import Callable
from typing import Any

from segmint.server import logs
from segmint.server.app import create_app
from segmint.server.protocol import guarded_protocol
from segmint.server.settings import Settings

log = logging.getLogger("segmint.server")


def serve(workspace: Any, settings: Settings | None = None, access_log: bool = False,
          log_level: str = "info", loop: str = "asyncio", http: str = "auto", control_secret: str | None = None,
          on_listening: Callable[[], None] | None = None, on_stopped: Callable[[], None] | None = None) -> None:
    """Serve ``workspace`` with uvicorn until interrupted (one process; see docs/api.md, "Performance").

    Parameters
    ----------
    workspace : Workspace or path
    settings : Settings, optional
        Host, port, serving index budget...
    access_log : bool, default False
        One log line per request (a measurable cost on the hot look-up route).
    log_level : str, default "info"
    loop : str, default "asyncio"
        uvicorn's event loop (see above for why not ``auto``).
    http : str, default "auto"
        uvicorn's HTTP parser; ``auto`` picks httptools when installed.
    control_secret : str, optional
        The secret of the route that runs commands the CLI forwards (see :func:`create_app`).
    on_stopped : callable, optional
        Called once the server has shut down (``segmint serve`` then removes ``.segmint/serve.json``): before
        uvicorn re-raises the SIGTERM or SIGINT it caught, which ends the process without running ``finally``
        blocks further up.
    on_listening : callable, optional
        Called once the server accepts connections (``segmint serve`` then writes ``.segmint/serve.json``).
    """
    import uvicorn

    settings = settings or Settings()
    app = create_app(workspace, settings, control_secret=control_secret)
    try:
        app.state.index.warm()
    except Exception as exc:  # noqa: BLE001 - serve anyway: look-ups read the store until a refresh works
        log.error("the serving index did not load (%s); look-ups read the store", type(exc).__name__, exc_info=exc)
    settings = _fit_connections(settings)
    # httptools ("auto" picks it) gets the guarded protocol; h11 has a head size limit of its own.
    protocol = guarded_protocol(settings) if http in ("auto", "httptools") else http
    config = uvicorn.Config(app, host=settings.host, port=settings.port, log_level=log_level,
                            access_log=access_log, loop=loop, http=protocol, backlog=4096,
                            timeout_keep_alive=settings.keep_alive_s,
                            h11_max_incomplete_event_size=settings.max_head_bytes,
                            # uvicorn believes X-Forwarded-For from loopback by default, so a client on the
                            # same host could rotate it past the login backoff: only configured proxies count.
                            proxy_headers=bool(settings.trusted_proxies),
                            forwarded_allow_ips=",".join(settings.trusted_proxies) or None)
    limit = logs.install()  # after uvicorn.Config, which configures logging
    gc.collect()
    gc.freeze()
    try:
        _server(config, on_listening, on_stopped).run()
    finally:
        logs.uninstall(limit)


def _server(config, on_listening: Callable[[], None] | None, on_stopped: Callable[[], None] | None = None):
    """uvicorn's server, telling ``on_listening`` once its sockets accept connections and ``on_stopped`` once
    it has shut down."""
    import uvicorn

    class Server(uvicorn.Server):
        async def startup(self, sockets=None) -> None:
            await super().startup(sockets)
            if self.started and on_listening is not None:
                on_listening()

        async def shutdown(self, sockets=None) -> None:
            try:
                await super().shutdown(sockets)
            finally:
                if on_stopped is not None:
                    on_stopped()

    return Server(config)


def _fit_connections(settings: Settings) -> Settings:
    """Raise the open-file limit towards its hard limit and keep ``max_connections`` below it.

    A connection is a file descriptor; the store, the Python modules and the log need some too
    (256 are kept for them), so the cap is reached before ``accept()`` starts failing.
    """
    try:
        import resource

        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        want = settings.max_connections + 256
        if soft != resource.RLIM_INFINITY and soft < want:
            new = want if hard == resource.RLIM_INFINITY else min(want, hard)
            resource.setrlimit(resource.RLIMIT_NOFILE, (new, hard))
            soft = new
    except (ImportError, ValueError, OSError):  # not on this platform, or not allowed: keep what there is
        return settings
    if soft != resource.RLIM_INFINITY and settings.max_connections > soft - 256:
        fitted = max(1, soft - 256)
        log.warning("max_connections lowered from %d to %d: the open-file limit is %d", settings.max_connections,
                    fitted, soft)
        return settings.model_copy(update={"max_connections": fitted})
    return settings


__all__ = ["serve"]
