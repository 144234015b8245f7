"""Rendering the dashboard's pages: the Jinja2 environment, its filters and the static files.

Its own module so that the error handlers (:mod:`segmint.server.errors`) can show an
error as a page without importing the dashboard's routes, which import the errors (a
cycle that used to be hidden by an import inside a function).

Examples
--------
>>> sorted(n for n in STATIC if n.endswith(".css"))
['app.css']
>>> ENV.filters["pct"](0.125), ENV.filters["num"](1234.5, 1)
('12.5%', '1,234.5')
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jinja2
from fastapi import Request
from fastapi.responses import HTMLResponse

HERE = Path(__file__).parent

#: Autoescaped; a missing variable is an error rather than an empty string.
ENV = jinja2.Environment(loader=jinja2.FileSystemLoader(HERE / "templates"), autoescape=True,
                         undefined=jinja2.StrictUndefined)
ENV.filters["num"] = lambda v, d=0: "" if v is None else (f"{v:,.{d}f}" if isinstance(v, (int, float)) else v)
ENV.filters["pct"] = lambda v: "" if v is None else f"{100 * v:.1f}%"


def _static_files() -> dict[str, Path]:
    files = {p.name: p for p in (HERE / "static").iterdir() if p.is_file()}
    try:
        import plotly

        files["plotly.min.js"] = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
    except ImportError:  # pragma: no cover - plotly is a server dependency
        pass
    return files


#: The files ``/static/{name}`` serves: the dashboard's own, and Plotly.js from the installed package.
STATIC = _static_files()


def render(request: Request, template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    """Render a page with the caller and their CSRF token in the context."""
    principal = getattr(request.state, "principal", None)
    # Before login the static files are out of reach (every route needs a token): inline the styles.
    css = "" if principal else jinja2.utils.markupsafe.Markup(STATIC["app.css"].read_text(encoding="utf-8"))
    html = ENV.get_template(template).render(request=request, me=principal, inline_css=css,
                                             csrf=principal.csrf if principal else None, **context)
    return HTMLResponse(html, status_code=status_code)


__all__ = ["ENV", "STATIC", "render"]
