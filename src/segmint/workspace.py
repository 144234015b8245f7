"""The one façade: a :class:`Workspace` owns the configuration, the store and every action.

The CLI, the REST API, the dashboard and notebooks all call a workspace; none of them
holds logic of its own.

Examples
--------
>>> import tempfile, pandas as pd
>>> ws = Workspace.init(tempfile.mkdtemp() + "/shop")
>>> orders = pd.DataFrame({"order_id": ["A1", "A2"], "customer_id": ["C1", "C2"],
...                        "ordered_at": ["2024-01-05", "2024-02-01"], "amount": ["19.99", "oops"]})
>>> report = ws.ingest("orders", orders)
>>> report.rows_read, report.rows_accepted, report.quarantine_reasons
(2, 1, {'unparseable_amount': 1})
>>> ws.close()
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from segmint.config import Config, render_default_yaml
from segmint.errors import ConfigError, WorkspaceError
from segmint.ingest.coerce import ParseOptions
from segmint.ingest.pipeline import IngestOptions, ingest
from segmint.ingest.presets import preset as get_preset
from segmint.ingest.report import IngestReport
from segmint.store import Store

CONFIG_FILE = "segmint.yaml"
STATE_DIR = ".segmint"
STORE_FILE = "store.duckdb"


class Workspace:
    """A segmint workspace: a folder with ``segmint.yaml`` and ``.segmint/store.duckdb``.

    Use :meth:`init` to create one and :meth:`open` to open an existing one.
    """

    def __init__(self, path: Path, config: Config, read_only: bool = False) -> None:
        self.path = Path(path)
        self.config = config
        self.read_only = read_only
        self._store: Store | None = None

    # -- creation ------------------------------------------------------------------------
    @classmethod
    def init(cls, path: str | os.PathLike, name: str | None = None, exist_ok: bool = False) -> "Workspace":
        """Create a workspace folder with a commented ``segmint.yaml`` and an empty store."""
        path = Path(path)
        cfg_file = path / CONFIG_FILE
        if cfg_file.exists() and not exist_ok:
            raise WorkspaceError(f"{path} is already a segmint workspace ({cfg_file} exists)")
        path.mkdir(parents=True, exist_ok=True)
        (path / STATE_DIR).mkdir(exist_ok=True)
        (path / "reports").mkdir(exist_ok=True)
        if not cfg_file.exists():
            cfg_file.write_text(render_default_yaml(name or path.resolve().name), encoding="utf-8")
        ws = cls.open(path)
        ws.store  # creates the store file and its tables
        return ws

    @classmethod
    def open(cls, path: str | os.PathLike | None = None, read_only: bool = False) -> "Workspace":
        """Open the workspace at ``path`` (default: ``$SEGMINT_WORKSPACE`` or the current folder)."""
        path = Path(path or os.environ.get("SEGMINT_WORKSPACE") or ".")
        cfg_file = path / CONFIG_FILE
        if not cfg_file.exists():
            raise WorkspaceError(
                f"{path.resolve()} is not a segmint workspace (no {CONFIG_FILE}). "
                f"Create one with `segmint init {path}` or pass -w DIR."
            )
        return cls(path, Config.load(cfg_file), read_only=read_only)

    @property
    def store(self) -> Store:
        if self._store is None:
            self._store = Store(self.path / STATE_DIR / STORE_FILE, read_only=self.read_only)
        return self._store

    def close(self) -> None:
        if self._store is not None:
            self._store.close()
            self._store = None

    def __enter__(self) -> "Workspace":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Workspace({str(self.path)!r})"

    # -- ingest --------------------------------------------------------------------------
    def ingest(self, table: str, source: Any, *, mapping: dict[str, str] | None = None,
               preset: str | None = None, line_items: bool | None = None, date_format: str | None = None,
               timezone: str | None = None, decimal: str | None = None, fmt: str | None = None,
               delimiter: str | None = None, encoding: str = "utf-8", source_name: str | None = None) -> IngestReport:
        """Ingest a file path, pandas DataFrame or Arrow table into ``table``.

        Settings come from, in increasing priority: ``sources.<table>`` in segmint.yaml,
        the preset, and the arguments.
        """
        options = self._ingest_options(table, mapping, preset, line_items, date_format, timezone, decimal,
                                       fmt, delimiter, encoding)
        from segmint.ingest.pii import load_or_create_key

        key = load_or_create_key(self.path) if not self.read_only else None
        return ingest(self.store, table, source, options, key=key, source_name=source_name)

    def ingest_sql(self, table: str, query: str, *, url: str | None = None, url_env: str | None = None,
                   params: dict | None = None, **kwargs: Any) -> IngestReport:
        """Ingest the result of a SQL query on a PostgreSQL or MySQL/MariaDB database."""
        from segmint.ingest.sql_source import read_sql, resolve_url

        resolved = resolve_url(url=url, url_env=url_env)
        arrow = read_sql(resolved, query, params=params)
        name = kwargs.pop("source_name", None) or f"sql:{_redact(resolved)}"
        return self.ingest(table, arrow, source_name=name, **kwargs)

    def _ingest_options(self, table, mapping, preset_name, line_items, date_format, timezone, decimal, fmt,
                        delimiter, encoding) -> IngestOptions:
        src_cfg = self.config.sources.get(table)
        merged_map: dict[str, str] = {}
        opts: dict[str, Any] = {}
        if src_cfg is not None:
            merged_map.update(src_cfg.map)
            preset_name = preset_name or src_cfg.preset
            opts.update(line_items=src_cfg.line_items, date_format=src_cfg.date_format,
                        timezone=src_cfg.timezone, decimal=src_cfg.decimal)
        return_prefix = None
        attributes: dict[str, str] = {}
        if preset_name:
            p = get_preset(preset_name)
            if p.table != table:
                raise ConfigError(f"preset {p.name!r} is for {p.table}, not {table}")
            merged_map.update(p.mapping)
            opts["line_items"] = p.line_items
            return_prefix = p.return_prefix
            attributes = dict(p.customer_attributes)
            delimiter = delimiter or p.delimiter
            opts["date_format"] = opts.get("date_format") or p.date_format
        merged_map.update(mapping or {})
        for k, v in dict(line_items=line_items, date_format=date_format, timezone=timezone,
                         decimal=decimal).items():
            if v is not None:
                opts[k] = v
        parse = ParseOptions(timezone=opts.get("timezone") or self.config.timezone,
                             date_format=opts.get("date_format"), decimal=opts.get("decimal") or ".")
        return IngestOptions(
            mapping=merged_map, parse=parse, line_items=bool(opts.get("line_items")),
            return_prefix=return_prefix, customer_attributes=attributes, fmt=fmt, delimiter=delimiter,
            encoding=encoding, pii_policy=dict(self.config.privacy.pii),
            detect_pii=self.config.privacy.detect_pii,
            default_country_code=self.config.privacy.default_country_code,
        )

    # -- features ------------------------------------------------------------------------
    def features(self, as_of: Any = None, store: bool = True):
        """Customer features as of ``as_of`` (default: the day after the last order), as a DataFrame.

        With ``store=True`` the snapshot is also saved in the ``features`` table, keyed by as_of.
        """
        from segmint.features.snapshot import features_frame

        return features_frame(self.store, as_of, self.config.features, save=store)

    def feature_snapshots(self) -> list[dict[str, Any]]:
        """The stored feature snapshots (as_of, customers)."""
        from segmint.features.snapshot import list_snapshots

        return list_snapshots(self.store)

    # -- status --------------------------------------------------------------------------
    def status(self) -> dict[str, Any]:
        """Tables with row counts and date ranges, and quarantine counts by reason."""
        from segmint.status import workspace_status

        return workspace_status(self)


def _redact(url: str) -> str:
    try:
        from sqlalchemy.engine import make_url

        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001 - never leak a password through a parse failure
        return "<database>"
