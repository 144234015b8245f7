"""segmint's server: a REST API and a dashboard over one workspace (``segmint serve``).

See :func:`segmint.server.app.create_app` and docs/api.md.
"""

from segmint.server.app import create_app
from segmint.server.settings import Settings

__all__ = ["Settings", "create_app"]
