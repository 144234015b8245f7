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

import datetime as dt
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from segmint.config import Config, render_default_yaml
from segmint.errors import ConfigError, WorkspaceError
from segmint.ingest.coerce import ParseOptions
from segmint.ingest.pipeline import IngestOptions, ingest
from segmint.ingest.presets import preset as get_preset
from segmint.ingest.report import IngestReport
from segmint.segment.model_cache import ModelDocs
from segmint.store import Store

if TYPE_CHECKING:
    import ibis.expr.types as ir
    import pandas as pd

    from segmint.evaluate.inputs import Segmented
    from segmint.evaluate.scorecard import Scorecard
    from segmint.frame_cache import FrameCache
    from segmint.profile.personas import Persona
    from segmint.profile.profiles import Profile
    from segmint.segment.context import SegmentContext
    from segmint.segment.definitions import Definition
    from segmint.segment.explain_run import RunCache
    from segmint.segment.results import History, Migration, RulePreview, SegmentationInfo, SegmentationResult, Why

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
        self._kept: FrameCache | None = None  # see keep_features()
        self._models = ModelDocs()  # parsed model documents; shared by the server's per-thread copies

    # -- creation ------------------------------------------------------------------------
    @classmethod
    def init(cls, path: str | os.PathLike, name: str | None = None, exist_ok: bool = False) -> "Workspace":
        """Create a workspace folder with a commented ``segmint.yaml`` and an empty store."""
        path = Path(path)
        cfg_file = path / CONFIG_FILE
        if cfg_file.exists() and not exist_ok:
            raise WorkspaceError(f"{path} is already a segmint workspace ({cfg_file} exists)")
        path.mkdir(parents=True, exist_ok=True)
        # The store holds pseudonyms, memberships and token hashes: only the owner may read the folder, whatever
        # the umask gives the DuckDB file and its WAL (the key in it is 0600 already).
        (path / STATE_DIR).mkdir(mode=0o700, exist_ok=True)
        os.chmod(path / STATE_DIR, 0o700)
        from segmint.privacy.keys import keep_out_of_git

        keep_out_of_git(path / STATE_DIR)  # the store and the key never go into a repository (issue 20)
        (path / "reports").mkdir(exist_ok=True)
        (path / "segments").mkdir(exist_ok=True)  # where `segmint segment --template rfm > ...` writes
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
            engine = self.config.engine
            # --- Spark backend (issue 22): the store's tables in a Spark warehouse (docs/spark.md) ---
            if engine.backend == "spark":
                from segmint.store.spark import SparkStore, warehouse_uri

                self._store = SparkStore(self.path / STATE_DIR / "spark", engine.spark.master,
                                         warehouse_uri(self.path, engine.spark.warehouse), engine.spark.conf,
                                         read_only=self.read_only)
                return self._store
            self._store = Store(self.path / STATE_DIR / STORE_FILE, read_only=self.read_only,
                                memory_limit=engine.memory_limit, threads=engine.threads)
        return self._store

    def check_servable(self) -> None:
        """Refuse, with the reason and what to use instead, to serve the API from a Spark workspace.

        The server keeps its tokens, sessions, erasure gate and serving index in DuckDB tables
        (docs/spark.md, "What refuses on Spark").

        Examples
        --------
        >>> import tempfile
        >>> ws = Workspace.init(Path(tempfile.mkdtemp()) / "shop")
        >>> ws.check_servable()  # a DuckDB workspace: nothing to say
        >>> ws.close()
        """
        if self.config.engine.backend == "spark":
            from segmint.store.spark import SERVER_NEEDS_DUCKDB

            raise ConfigError(SERVER_NEEDS_DUCKDB)

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
               delimiter: str | None = None, encoding: str = "utf-8", source_name: str | None = None,
               mode: str = "upsert", progress: Any = None, on_commit: Any = None) -> IngestReport:
        """Ingest a file path (or a folder or glob of files), pandas DataFrame or Arrow table into ``table``.

        Settings come from, in increasing priority: ``sources.<table>`` in segmint.yaml,
        the preset, and the arguments. ``mode``: upsert (default), append or replace
        (docs/ingest.md); ``progress(step, rows)`` is called as each step starts.
        """
        options = self._ingest_options(table, mapping, preset, line_items, date_format, timezone, decimal,
                                       fmt, delimiter, encoding)
        options.mode, options.progress, options.on_commit = mode, progress, on_commit
        from segmint.ingest.pii import load_or_create_key

        key = load_or_create_key(self.path) if not self.read_only else None
        return ingest(self.store, table, source, options, key=key, source_name=source_name)

    def ingest_sql(self, table: str, query: str, *, url: str | None = None, url_env: str | None = None,
                   params: dict | None = None, since_column: str | None = None, **kwargs: Any) -> IngestReport:
        """Ingest the result of a SQL query on a PostgreSQL or MySQL/MariaDB database, streamed.

        With ``since_column``, only rows at or after the source's remembered high-water mark of
        that column are read, and the new mark is kept (docs/ingest.md, "Incremental loads").
        """
        from segmint.ingest import sql_incremental as inc
        from segmint.ingest.sql_source import resolve_url

        resolved = resolve_url(url=url, url_env=url_env)
        name = kwargs.pop("source_name", None) or f"sql:{_redact(resolved)}"
        cursor = None
        if since_column is not None:
            key = inc.source_key(_redact(resolved), query)
            cursor = inc.Cursor(key, since_column, since=inc.load_mark(self.store, key, since_column))
        rows = inc.batches(resolved, query, params, cursor)
        report = self.ingest(table, rows, source_name=name,
                             on_commit=(lambda store: inc.save_mark(store, cursor)) if cursor else None, **kwargs)
        if cursor is not None:
            report.since_column, report.since, report.high_water = since_column, cursor.since, cursor.high_water
        return report

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
            plausible_dates=self.config.ingest.plausible_dates.bounds(),
        )

    # -- features ------------------------------------------------------------------------
    def features(self, as_of: Any = None, store: bool = True) -> pd.DataFrame:
        """Customer features as of ``as_of`` (default: the day after the last order), as a DataFrame.

        With ``store=True`` the snapshot is also saved in the ``features`` table, keyed by as_of.
        """
        from segmint.features.snapshot import features_frame

        return features_frame(self.store, as_of, self.config.features, save=store,
                              plausible=self.config.ingest.plausible_dates)

    def snapshot_features(self, as_of: Any = None, full: bool = False) -> dict[str, Any]:
        """Compute and store the feature snapshot; returns as_of, customers, features, skipped, seconds, mode.

        Incremental from the running state where it can be (docs/monitoring.md); ``full`` recomputes every feature.
        """
        from segmint.features.snapshot import snapshot

        return snapshot(self.store, as_of, self.config.features, plausible=self.config.ingest.plausible_dates,
                        full=full)

    def feature_snapshots(self) -> list[dict[str, Any]]:
        """The stored feature snapshots (as_of, customers)."""
        from segmint.features.snapshot import list_snapshots

        return list_snapshots(self.store)

    def feature_distributions(self, as_of: Any = None) -> dict[str, dict[str, Any]]:
        """Count, mean, min, quartiles and max of a few headline features of the stored snapshot at ``as_of``."""
        from segmint.features.snapshot import load_features
        from segmint.features.distributions import distributions

        return distributions(load_features(self.store, as_of))

    # -- segments ------------------------------------------------------------------------
    # Thin wrappers: the logic lives in segmint.segment.runs, .inspect, .explain_run and .preview, which
    # take a SegmentContext (store, feature settings, definitions), not the workspace (docs/segments.md).
    def check_as_of(self, as_of: Any) -> dt.datetime:
        """``as_of`` as a naive UTC datetime, refused (ConfigError) outside ``ingest.plausible_dates``."""
        from segmint.features.asof import parse_as_of

        return parse_as_of(as_of, self.config.ingest.plausible_dates)

    def segment_context(self) -> SegmentContext:
        """What the segment modules need from this workspace: its store, feature settings, definitions, model cache."""
        from segmint.segment.context import SegmentContext
        from segmint.segment.definitions import load_definitions

        return SegmentContext(self.store, self.config.features,
                              lambda: load_definitions(self.path, self.config.segmentations), self._models,
                              self.config.ingest.plausible_dates)

    def definitions(self) -> dict[str, Definition]:
        """Every segmentation definition by name (segmint.yaml, then segments/*.yaml)."""
        return self.segment_context().definitions()

    def segment(self, name: str, as_of: Any = None, refit: bool = False) -> SegmentationResult:
        """Run the segmentation ``name`` as of ``as_of``; returns labels, model, sizes and version."""
        from segmint.segment import runs

        self._sensitive_allowance(name, audit=True)  # issue 20: refused without an allowed purpose
        ctx = self.segment_context()
        if self._kept is None:
            return runs.run_segmentation(ctx, name, as_of, refit)
        # Inside keep_features(): the run made is the one validate, profile and report would read back.
        return self._kept.made_run(name, as_of, lambda: runs.run_segmentation(ctx, name, as_of, refit))

    def segmentations(self) -> list[SegmentationInfo]:
        """The defined segmentations with their kinds and stored versions."""
        from segmint.segment import inspect

        return inspect.list_segmentations(self.segment_context())

    def members(self, name: str, segment: str | None = None, as_of: Any = None,
                version: int | None = None) -> ir.Table:
        """Members of a segmentation (or one segment) as an Ibis table: ``customer_id``, ``segment``."""
        from segmint.segment import inspect

        return inspect.members(self.segment_context(), name, segment, as_of, version)

    def audience(self, name: str, segment: str | None = None, as_of: Any = None, version: int | None = None,
                 include_unconsented: bool = False) -> ir.Table:
        """The members an export may send: :meth:`members` with ``marketing_consent``, consent applied.

        Members held out of a running campaign are left out too (:meth:`exclude_holdouts`).

        The one consent rule of every export path (``segmint members``, the API's member pages and exports):
        :func:`segmint.activate.consent.apply_consent`. ``include_unconsented=True`` keeps everyone (the callers
        audit that).
        """
        from segmint.activate.consent import apply_consent

        everyone = self.exclude_holdouts(self.members(name, segment, as_of, version))  # issue 19: never the held out
        return apply_consent(self.store, everyone, include_unconsented)

    @property
    def audit_log(self):
        """The ``audit_log`` table (:class:`segmint.activate.audit.AuditLog`): who exported what, when."""
        from segmint.activate.audit import AuditLog

        return AuditLog(self.store)

    def segment_history(self, name: str, version: int | None = None) -> History:
        """Segment sizes per as_of with who entered and left."""
        from segmint.segment import inspect

        return inspect.history(self.segment_context(), name, version)

    history = segment_history

    def diff(self, name: str, from_as_of: Any, to_as_of: Any, version: int | None = None) -> Migration:
        """Migration matrix and moved customers between two as_of dates."""
        from segmint.segment import inspect

        return inspect.diff(self.segment_context(), name, from_as_of, to_as_of, version)

    def diff_versions(self, name: str, v1: int, v2: int, as_of: Any = None) -> Migration:
        """What changing a definition from version v1 to v2 does to memberships."""
        from segmint.segment import inspect

        return inspect.diff_versions(self.segment_context(), name, v1, v2, as_of)

    def why(self, name: str, customer_id: str, as_of: Any = None, cache: RunCache | None = None) -> Why:
        """Why one customer is in the segment they are in.

        ``cache`` (a :class:`~segmint.segment.explain_run.RunCache`) remembers which run and model a
        repeated look-up reads: the server keeps one.
        """
        from segmint.segment import explain_run

        return explain_run.why(self.segment_context(), name, customer_id, as_of, cache=cache)

    def attrition(self, name: str, as_of: Any = None) -> dict[str, pd.DataFrame]:
        """Per rule segment: how many customers each condition keeps."""
        from segmint.segment import explain_run

        return explain_run.attrition(self.segment_context(), name, as_of)

    def preview_rule(self, where: str, as_of: Any = None, compute_snapshot: bool = True) -> RulePreview:
        """Size and condition attrition of a rule, without saving anything.

        ``compute_snapshot=False`` (the server) reads only stored snapshots: ``as_of=None`` means the
        latest, and a date without one raises :class:`~segmint.errors.SnapshotMissing`.
        """
        from segmint.segment import preview

        return preview.preview_rule(self.segment_context(), where, as_of, compute_snapshot)

    def stored_model(self, name: str, version: int) -> tuple[dict[str, Any], str]:
        """A stored version's checked model document and its JSON text (parsed once per workspace)."""
        return self._models.get(self.store, name, version)

    # -- validation, profiles, report ----------------------------------------------------
    def stored_run(self, name: str, as_of: Any = None) -> SegmentationResult:
        """The stored run of ``name`` at ``as_of``, read back; segmented (and stored) first only when missing.

        See :func:`segmint.segment.runs.stored_run`.
        """
        from segmint.segment import runs

        self._sensitive_allowance(name, audit=False)
        return runs.stored_run(self.segment_context(), name, as_of)

    def _labelled(self, name: str, as_of: Any = None) -> tuple[pd.DataFrame, Any, SegmentationResult, dict]:
        """(features indexed by customer_id, labels, segmentation result, catalog) for ``name``.

        Reads the stored run (see :meth:`stored_run`): validating, profiling and reporting a segmentation
        never segments it again. Inside :meth:`keep_features` the run is read once per (name, as_of):
        reading a million memberships back takes seconds.
        """
        from segmint.features.catalog import catalog_for

        if self._kept is None:
            result = self.stored_run(name, as_of)
        else:
            result = self._kept.run(name, as_of, lambda: self.stored_run(name, as_of))
        features = self._features_frame(result.as_of)
        catalog = {n: (f.family, getattr(f, "kind", None), f.description)
                   for n, f in catalog_for(self.store.table("features")).items() if n in features.columns}
        return features, result.labels, result, catalog

    def _features_frame(self, as_of: str) -> pd.DataFrame:
        """The stored feature snapshot at ``as_of`` as a DataFrame indexed by customer_id (read once when kept)."""
        if self._kept is not None:
            return self._kept.frame(as_of, lambda: self._read_features_frame(as_of))
        return self._read_features_frame(as_of)

    def _read_features_frame(self, as_of: str) -> pd.DataFrame:
        from segmint.segment import context

        table, _ = context.features_at(self.segment_context(), as_of)
        # Read in batches (a third less peak memory than one result at a million customers, measured), and
        # free each Arrow column once converted (self_destruct), so the frame is not held twice while built.
        arrow = table.drop("as_of").to_pyarrow_batches(chunk_size=100_000).read_all()
        frame = arrow.to_pandas(self_destruct=True, split_blocks=True).set_index("customer_id")
        del arrow
        return frame

    def _judged(self, name: str, as_of: Any = None) -> Judged:
        """The stored run of ``name`` ready for the scorecard, profile and report.

        Inside :meth:`keep_features` the run comes back prepared (:func:`~segmint.evaluate.inputs.prepare`),
        kept per run, so the scorecard and the profile of a segmentation align the data and compute
        effect sizes once; outside, features and labels as they are.
        """
        features, labels, result, catalog = self._labelled(name, as_of)
        if self._kept is None:
            return Judged(result, features, labels, catalog)

        def build():
            from segmint.evaluate.inputs import prepare

            return prepare(features, self._in_frame_order(result.as_of, features, labels), catalog)

        seg = self._kept.prepared((name, result.version, result.as_of), build)
        return Judged(result, features, labels, catalog, prepared=seg)

    def _in_frame_order(self, as_of: str, features: pd.DataFrame, labels: Any) -> Any:
        """``labels`` (a Series) in the order of the kept features frame, indexed by it, when both hold the same customers.

        Every stored run of a snapshot lists the same customers in the same order (by id): their positions in
        the frame are looked up once per as_of (a second per million ids) and checked for each run.
        """
        import pandas as pd

        from segmint.evaluate.inputs import has_duplicates

        if not isinstance(labels, pd.Series) or len(labels) != len(features):
            return labels
        at = self._kept.positions(as_of)
        if at is not None:
            taken = labels.take(at)
            if taken.index.equals(features.index):
                return taken.set_axis(features.index)
        at = _positions(labels.index, features.index)
        if at is None or has_duplicates(labels.index):
            return labels  # prepare() aligns (or explains what does not line up)
        self._kept.keep_positions(as_of, at)
        return labels.take(at).set_axis(features.index)

    @contextmanager
    def keep_features(self) -> Iterator[Workspace]:
        """Within the block, validate, profile and report load each as_of's features frame once.

        They also share the prepared segmentation of each stored run (see :class:`~segmint.frame_cache.FrameCache`).

        ``segmint run`` validates, profiles and reports every segmentation on the same snapshot; a
        million customers' frame takes seconds to load. Outside the block nothing is kept, so a later
        snapshot of the same as_of is always read afresh; inside it, do not recompute the snapshot.
        """
        from segmint.frame_cache import FrameCache

        self._kept = FrameCache()
        try:
            yield self
        finally:
            self._kept = None

    def validate(self, name: str, as_of: Any = None, compare_as_of: Any = None) -> Scorecard:
        """The scorecard of a segmentation: distinct, stable, substantial, reachable, explainable, profitable.

        Scores the stored run at ``as_of`` (and at ``compare_as_of`` for temporal stability); a run
        missing there is made first.
        """
        from segmint.evaluate import scorecard

        j = self._judged(name, as_of)
        later = self.stored_run(name, compare_as_of).labels if compare_as_of is not None else None
        return scorecard(*j.inputs(), labels_later=later, prepared=j.prepared, fairness=self._fairness_settings(),
                         **self._judged_with())

    def profile(self, name: str, as_of: Any = None) -> Profile:
        """Per-segment profile of the stored run against the population (small segments suppressed)."""
        from segmint.profile import profile

        j = self._judged(name, as_of)
        return profile(*j.inputs(), prepared=j.prepared, **self._judged_with())

    def _judged_with(self) -> dict[str, Any]:
        """The scorecard's and the profile's settings from ``segmint.yaml``: small cells, sample cap and seed."""
        v = self.config.validation
        return {"min_segment_size": self.config.privacy.min_segment_size, "max_rows": v.max_rows,
                "random_state": v.random_state}

    def personas(self, name: str, as_of: Any = None) -> list[Persona]:
        """A persona card per segment (name, who, how they buy, what they respond to, actions)."""
        from segmint.profile import personas

        return personas(self.profile(name, as_of))

    def report(self, name: str, path: Any = None, as_of: Any = None, *, card: Scorecard | None = None,
               prof: Profile | None = None) -> Path:
        """Write the self-contained HTML report of the stored run of ``name``; returns its path.

        ``card`` and ``prof``, when given, are that run's :meth:`validate` and :meth:`profile` results,
        reused instead of computed again (``segmint run`` has them already).
        """
        from segmint.evaluate import scorecard
        from segmint.paths import check_name, inside
        from segmint.profile import personas, profile
        from segmint.report import render_report

        j = self._judged(name, as_of)  # inside keep_features: the prepared run validate and profile used
        if card is None:
            card = scorecard(*j.inputs(), prepared=j.prepared, fairness=self._fairness_settings(),
                             **self._judged_with())
        if prof is None:
            prof = profile(*j.inputs(), prepared=j.prepared, **self._judged_with())
        result = j.result
        sel = result.selection.get("all")
        migrations = self._latest_migrations(name, result.as_of)
        # A name is user text: the default path is resolved and must stay in reports/ (issue 15).
        path = Path(path) if path else inside(self.path / "reports", f"{check_name(name, 'segmentation')}.html")
        features, labels = (None, None) if j.prepared is not None else (j.features, j.labels)
        return render_report(path, f"{self.config.name}: {name}", features, labels, card, prof, personas(prof),
                             selection=None if sel is None else sel.get("table"),
                             chosen_k=None if sel is None else sel.get("k"), migrations=migrations,
                             subtitle=f"as of {result.as_of}", prepared=j.prepared,
                             campaigns=self._report_campaigns(name),
                             monitoring=self._report_monitoring(name, migrations),
                             journeys=self._report_journeys(name),
                             fairness=card.fairness if card.fairness is not None
                             else self._report_fairness(name, result.as_of))

    def _latest_migrations(self, name: str, as_of: Any) -> pd.DataFrame | None:
        """The migration matrix from the previous stored as_of to ``as_of``, when there is history."""
        try:
            hist = self.segment_history(name).frame
            dates = sorted({str(d) for d in hist["as_of"]})
            if len(dates) < 2:
                return None
            return self.diff(name, dates[-2], dates[-1]).matrix
        except Exception:  # noqa: BLE001 - history is optional decoration of the report
            return None

    # -- status --------------------------------------------------------------------------
    def status(self) -> dict[str, Any]:
        """Tables with row counts and date ranges, and quarantine counts by reason."""
        from segmint.status import workspace_status

        info = workspace_status(self.store, self.path, self.config.name)
        info["freshness"] = self.freshness()  # monitoring (issue 17)
        return info

    # --- monitoring (issue 17): the logic lives in segmint.monitor (docs/monitoring.md) ---
    def refresh(self, as_of: Any = None, refit: bool = False) -> dict[str, Any]:
        """The next snapshot, every segmentation re-assigned (refitted when asked or a rule says so), the
        monitoring figures and the alerts; see :func:`segmint.monitor.refresh.refresh`."""
        from segmint.monitor.refresh import refresh

        # issue 20: rows past their `retention:` period go first (ledger row, file rewritten), so the
        # snapshot and the runs of this refresh are made without them
        purged = self.apply_retention(who="refresh") if self.config.retention and not self.read_only else None
        out = refresh(self.segment_context(), self.config, as_of, refit,
                      min_segment_size=self.config.privacy.min_segment_size)
        if purged is not None:
            out["retention"] = purged
        # alerts delivered through activation destinations (issue 17): those with `alerts: true`
        out["alerts_delivered"] = self.activation.deliver_alerts(out["alerts"]) if out["alerts"] else {}
        return out

    def _report_monitoring(self, name: str, migrations: Any) -> dict[str, Any] | None:
        """The report's "Over time" figures (without model health and the drift series), when there is history."""
        if migrations is None:
            return None
        from segmint.errors import SegmintError
        from segmint.monitor.monitor import monitor

        try:
            return monitor(self.segment_context(), self.config.monitoring, name, health=False, series=False,
                           min_segment_size=self.config.privacy.min_segment_size)
        except SegmintError:  # e.g. a snapshot of an old run was replaced: the report goes without the section
            return None

    def monitor(self, name: str, reference: str | None = None) -> dict[str, Any]:
        """Sizes, transitions and churn, drift, KPIs and model health of ``name`` over its runs."""
        from segmint.monitor.monitor import monitor

        return monitor(self.segment_context(), self.config.monitoring, name, reference=reference,
                       min_segment_size=self.config.privacy.min_segment_size)

    def transitions(self, name: str, from_as_of: Any, to_as_of: Any) -> dict[str, Any]:
        """Entered / exited / stayed and the matrix between the runs of ``name`` at any two dates."""
        from segmint.monitor import figures
        from segmint.segment import kinds
        from segmint.segment.context import get_definition
        from segmint.segment.runs import run_of

        ctx = self.segment_context()
        sides = [dict(zip(("version", "as_of"), run_of(ctx, name, d))) for d in (from_as_of, to_as_of)]
        return figures.transitions(ctx, name, *sides, exclusive=kinds.get(get_definition(ctx, name).kind).exclusive)

    def alerts(self, segmentation: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
        """Alerts raised by refreshes, newest first, with their evidence."""
        from segmint.monitor.alerts import list_alerts

        return list_alerts(self.store, segmentation, limit)

    def refreshes(self, limit: int = 50) -> list[dict[str, Any]]:
        """The recorded refreshes, newest first."""
        from segmint.monitor.refresh import list_refreshes

        return list_refreshes(self.store, limit)

    def freshness(self) -> list[dict[str, Any]]:
        """Per table: newest row, last load, age and ``monitoring.freshness`` status (pass, warn, error)."""
        from segmint.monitor.freshness import freshness

        return freshness(self.store, self.config.monitoring.freshness)

    def export_features(self, path: str | os.PathLike, as_of: Any = None, full: bool = False) -> dict[str, Any]:
        """Write the snapshot at ``as_of`` (computed when missing, or when ``full``) to a CSV or Parquet file.

        One row per customer, one column per feature; the format follows the extension
        (``.csv``, ``.parquet``).
        """
        from segmint.monitor.export import export_snapshot

        return export_snapshot(self.store, path, as_of, self.config.features, full,
                               plausible=self.config.ingest.plausible_dates)

    # --- activation (issue 18): destinations, the outbox's deliveries, suppression ---
    @property
    def activation(self):
        """Destinations, deliveries and the suppression list (:class:`segmint.activate.manage.Activation`)."""
        from segmint.activate.manage import Activation
        from segmint.measure.campaigns import exclude_holdouts

        def holdouts(store, ids):  # the holdout groups of running campaigns: never sent anywhere (issue 19)
            return ids.anti_join(exclude_holdouts(store, ids), "customer_id")

        return Activation(self.store, self.config, self.path, known=lambda: list(self.definitions()),
                          exclusions=[holdouts])

    def sync(self, destination: str | None = None, full: bool = False, **kwargs: Any) -> dict[str, Any]:
        """Deliver what is pending and due to one destination or all (``segmint sync``); a summary per destination.

        ``full=True`` sends the whole current audience again (a database destination is rewritten).
        """
        return self.activation.sync(destination, full=full, **kwargs)

    def destinations(self) -> list[dict[str, Any]]:
        """Every destination with its state (backlog, pending and dead messages, last delivery)."""
        return self.activation.describe()

    def suppress(self, customer_ids: list[str], reason: str = "") -> int:
        """Put customers on the suppression list: no destination is sent them again; how many were added."""
        return self.activation.suppress(customer_ids, reason)

    # --- measurement (issue 19): campaigns, holdouts, lift, lookalikes; the code is in segmint.measure ---
    def _campaign_key(self) -> bytes:
        from segmint.ingest.pii import load_or_create_key

        return load_or_create_key(self.path)

    def create_campaign(self, name: str, segmentation: str, segments: list[str] | None = None, *,
                        holdout: float = 0.1, start: Any, end: Any = None, outcome: str = "conversion"):
        """Create a campaign on segments of a segmentation and assign its members to treatment or holdout."""
        from segmint.measure import campaigns

        return campaigns.create(self.segment_context(), self._campaign_key(), name, segmentation, segments,
                                holdout, start, end, outcome)

    def campaigns(self) -> list:
        """Every stored campaign (:class:`segmint.measure.campaigns.Campaign`), oldest first."""
        from segmint.measure import campaigns

        return campaigns.list_campaigns(self.store)

    def campaign_members(self, name: str) -> ir.Table:
        """A campaign's members: ``customer_id``, ``segment``, ``group`` (treatment/holdout), ``assigned_at``."""
        from segmint.measure import campaigns

        c = campaigns.get(self.store, name)
        return campaigns.members(self.segment_context(), self._campaign_key(), c)

    def campaign_audience(self, name: str, include_unconsented: bool = False) -> ir.Table:
        """What a campaign may send: its treatment group, consent applied (holdouts are never in it)."""
        from segmint.activate.consent import apply_consent
        from segmint.measure import campaigns

        c = campaigns.get(self.store, name)
        return apply_consent(self.store, campaigns.treatment(self.segment_context(), self._campaign_key(), c),
                             include_unconsented)

    def exclude_holdouts(self, table: ir.Table, campaigns: list[str] | None = None) -> ir.Table:
        """``table`` without the holdout members of ``campaigns`` (default: every running campaign)."""
        from segmint.measure import campaigns as cp

        return cp.exclude_holdouts(self.store, table, campaigns)

    def measure_campaign(self, name: str, covariate: str | None = None, bootstrap: int = 200) -> dict[str, Any]:
        """Treatment against holdout, overall and per segment, with intervals (docs/measurement.md)."""
        from segmint.measure import campaigns, readout

        c = campaigns.get(self.store, name)
        return readout.measure(self.segment_context(), self._campaign_key(), c, covariate, bootstrap)

    def plan_campaign(self, segmentation: str | None = None, segments: list[str] | None = None, *,
                      holdout: float = 0.1, outcome: str = "conversion", days: int = 30, mde: float | None = None,
                      customers: int | None = None, mean: float | None = None, sd: float | None = None,
                      alpha: float = 0.05, power: float = 0.8) -> dict[str, Any]:
        """Sample size and minimum detectable effect of a holdout test (baseline from the feature snapshot)."""
        from segmint.measure import planning

        return planning.plan_for(self.segment_context(), segmentation, segments, holdout=holdout, outcome=outcome,
                                 days=days, effect=mde, customers=customers, mean=mean, sd=sd, alpha=alpha,
                                 power=power)

    def campaign_uplift(self, name: str) -> dict[str, Any]:
        """Who responds to a campaign: a two-model uplift estimate, its Qini curve and uplift at k (held-out half)."""
        from segmint.measure import campaigns, uplift

        return uplift.run(self.segment_context(), self._campaign_key(), campaigns.get(self.store, name))

    def _report_campaigns(self, name: str) -> list[dict[str, Any]]:
        """Read-outs of the campaigns on segmentation ``name`` for its report (none measurable: none shown)."""
        from segmint.errors import SegmintError

        out = []
        for c in self.campaigns() if not self.read_only else []:
            if c.segmentation == name:
                try:
                    r = self.measure_campaign(c.name, bootstrap=0)
                except SegmintError:  # nothing to measure yet (a window after the last order)
                    continue
                try:  # who responds: the report shows the Qini curve and where acting pays most
                    r["uplift"] = self.campaign_uplift(c.name)
                except SegmintError as exc:  # too few members to model: the report says why
                    r["uplift"] = {"error": str(exc)}
                out.append(r)
        return out

    def lookalike(self, target: str, source: str = "customers", top: float = 0.05) -> dict[str, Any]:
        """People outside ``SEGMENTATION:SEGMENT`` ranked by resemblance (PU classifier), with bands and drivers."""
        from segmint.measure import lookalike

        out = lookalike.run(self.segment_context(), target, source, top, sensitive=self.config.privacy.sensitive)
        if out["sensitive"]["allowed"] and not self.read_only:  # issue 20: an allowance goes to the audit trail
            self.audit_log.record(os.environ.get("USER", "segmint"), "workspace", "sensitive-allowed",
                                  f"lookalike {target}", None, {"attributes": out["sensitive"]["allowed"]})
        return out

    # --- hardening (issue 15) ---
    def runs_stored(self) -> int:
        """How many segmentation runs this process has stored: a cache of what runs say is valid while it holds.

        No other process can store one meanwhile: DuckDB lets one process at a time write the store.
        """
        from segmint.segment.membership import writes

        return writes()

    # --- journeys and psychographics (issue 23): logic in segmint.journeys and segmint.text ---
    def _step_tables(self) -> tuple[ir.Table | None, ir.Table | None]:
        tables = self.store.con.list_tables()
        return (self.store.table("events") if "events" in tables else None,
                self.store.table("orders") if "orders" in tables else None)

    def funnel(self, steps: list[str], within: str = "30d", order: str = "ordered", by: str | None = None,
               as_of: Any = None) -> dict[str, Any]:
        """Conversion per step with Wilson intervals, time between steps and drop-off (per segment of ``by``).

        See :func:`segmint.journeys.funnel.funnel`; ``within`` is a duration such as ``14d``.
        """
        from segmint.journeys.funnel import funnel
        from segmint.journeys.steps import check_steps, parse_window

        seconds = parse_window(within)
        when = self.check_as_of(as_of) if as_of is not None else None
        members = self.members(by) if by else None
        result = funnel(*self._step_tables(), steps, seconds, order, members=members,
                        groups=self.config.journeys.groups, as_of=when)
        if any(r["customers"] == 0 for r in result["overall"]):  # a misspelt step must not read as a real zero
            check_steps(self._step_tables()[0], result["steps"], self.config.journeys.groups)
        return {**result, "within": within, "by": by}

    def journeys(self, name: str, segment: str | None = None, start: str | None = None, end: str | None = None,
                 length: int = 5, top: int = 10) -> dict[str, Any]:
        """Most common session paths per segment of ``name``'s latest run, and the journeys between its segments.

        See :mod:`segmint.journeys.paths` (sessions, cleaning, paths from ``start`` / to ``end``) and
        :mod:`segmint.journeys.segment_paths` (A -> B -> C over the stored runs, time in each).
        """
        from segmint.journeys.paths import paths_by_segment, top_paths
        from segmint.journeys.segment_paths import segment_journeys
        from segmint.journeys.steps import check_steps, step_stream

        cfg = self.config.journeys
        members = self.members(name, segment)
        stream = step_stream(*self._step_tables(), cfg.groups)
        sessions = {"gap_seconds": cfg.session_gap_minutes * 60, "collapse_repeats": cfg.collapse_repeats}
        if segment is not None:
            paths = {segment: top_paths(stream, start, end, length, top, members, segment, **sessions)}
        else:  # every segment in one pass
            paths = paths_by_segment(stream, members, start, end, length, top, **sessions)
        if (start or end) and not any(p["sessions"] for p in paths.values()):
            check_steps(self._step_tables()[0], [start, end], cfg.groups)
        return {"segmentation": name, "segment": segment, "start": start, "end": end, "length": length,
                "session_gap_minutes": cfg.session_gap_minutes, "paths": paths,
                "segment_journeys": segment_journeys(self.store.table("memberships"), name, top)}

    def data_state(self, tables: tuple[str, ...] = ("orders",)) -> str:
        """A text that changes when rows of ``tables`` are loaded, corrected or erased: what a cache of figures
        derived from them is keyed by (:func:`segmint.store.kept_figures.data_state`)."""
        from segmint.store.kept_figures import data_state

        return data_state(self.store, tables)

    def _report_journeys(self, name: str) -> dict[str, dict] | None:
        """Each segment's Sankey of session paths for the report, when ``journeys.in_report`` asks for it."""
        if not self.config.journeys.in_report or "events" not in self.store.con.list_tables():
            return None
        found = self.journeys(name, length=4, top=1)
        return {seg: p["sankey"] for seg, p in found["paths"].items()}

    def scales(self, suggest: bool = True) -> dict[str, Any]:
        """Cronbach's alpha of each ``psychographics.scales`` scale (warning below 0.7), and scales an EFA suggests.

        See :mod:`segmint.features.scales`.
        """
        from segmint.features.scales import item_frame, reliability, suggest_scales

        cfg = self.config.psychographics
        responses = self.store.table("responses")
        frame = item_frame(responses)
        out: dict[str, Any] = {"scales": reliability(frame, cfg.scales, cfg.scale_range) if cfg.scales else [],
                               "questions": list(frame.columns), "suggested": None}
        if suggest:
            try:
                out["suggested"] = suggest_scales(frame)
            except ConfigError as exc:
                out["suggested"] = {"error": str(exc)}
        return out

    def feature_docs(self) -> list[dict[str, Any]]:
        """The feature catalog for this workspace: every entry, then one per survey scale of segmint.yaml.

        A scale's entry (``scale_<name>``) carries its ``items``, Cronbach's ``alpha`` on the stored answers,
        ``respondents`` (with every item) and ``alpha_warning`` (alpha below 0.7, or not computable), so the
        feature documentation says how far each scale score can be trusted.
        """
        from segmint.features.catalog import PATTERNS, entries

        out = entries()
        cfg = self.config.psychographics
        if not cfg.scales:
            return out
        scale = next(f for f in PATTERNS if f.name == "scale_{scale}")
        if "responses" in self.store.con.list_tables():
            found = self.scales(suggest=False)["scales"]
        else:  # no answers stored yet: the scales exist, their alpha does not
            found = [{"scale": n, "feature": f"scale_{n}", "items": list(items), "alpha": None, "respondents": 0,
                      "warning": "no survey answers stored"} for n, items in cfg.scales.items()]
        at = next(i for i, e in enumerate(out) if e["name"] == scale.name) + 1  # beside the pattern they resolve
        for r in found:
            alpha = "not computable" if r["alpha"] is None else f"{r['alpha']:.2f}"
            out.insert(at, {"name": r["feature"], "family": scale.family, "type": scale.type, "kind": scale.kind,
                        "unit": scale.unit, "pattern": False,
                        "description": f"Scale '{r['scale']}' of this workspace: mean of {', '.join(r['items'])}. "
                                       f"Cronbach's alpha {alpha} ({r['respondents']:,} respondents with every item)"
                                       + (f"; warning: {r['warning']}." if r["warning"] else "."),
                        "items": r["items"], "alpha": r["alpha"], "respondents": r["respondents"],
                        "alpha_warning": r["warning"]})
            at += 1
        return out

    def topics(self, question: str, n_topics: int | None = None, store: bool = True) -> dict[str, Any]:
        """Cluster the free-text answers to ``question`` into topics (k by evidence) and store the model.

        The stored model is what the snapshot's ``topic_<question>`` features use. See :mod:`segmint.text.topics`.
        """
        import json

        import ibis

        from segmint.errors import UnknownNameError, did_you_mean
        from segmint.features.topics import TOPICS_TABLE, answers_of
        from segmint.text.topics import fit_topics

        cfg = self.config.psychographics
        responses = self.store.table("responses")
        answers = answers_of(responses, question)
        if answers.empty:
            known = [r["question"] for r in responses.select("question").distinct().to_pyarrow().to_pylist()]
            raise UnknownNameError(f"no answers to question {question!r} in the responses table; "
                                   f"{did_you_mean(question, known)}")
        model = fit_topics(answers.answer.tolist(), question, cfg.embedder, cfg.max_topics, n_topics)
        if store and not self.read_only:
            row = ibis.memtable({"question": [question], "fitted_at": [dt.datetime.fromisoformat(model["fitted_at"])],
                                 "model": [json.dumps(model)]})
            with self.store.transaction():
                con = self.store.con
                if TOPICS_TABLE not in con.list_tables():
                    con.create_table(TOPICS_TABLE, schema=ibis.schema(
                        {"question": "string", "fitted_at": "timestamp", "model": "string"}))
                else:
                    self.store.delete_rows(TOPICS_TABLE, question=question)
                con.insert(TOPICS_TABLE, row)
        return {k: v for k, v in model.items() if k != "centres"} | {
            "text_question": question in cfg.text_questions}

    # --- privacy (issue 20) ---
    #: The server sets this: ``hook() -> Store`` closes every cursor, rewrites the file, returns a fresh store.
    _rewrite_hook = None

    def forget(self, ids: Any, *, dry_run: bool = False, request: str = "", who: str = "cli") -> Any:
        """Erase customers: every table, the text that names them, the store's file and the reports.

        Returns a :class:`segmint.privacy.forget.Receipt` (see docs/privacy.md, "What forget does").
        """
        from segmint.activate.erasure import notify
        from segmint.privacy.forget import register_notifier, unregister_notifier
        from segmint.privacy.workflow import forget
        from segmint.segment.membership import note_erasure

        def tell(store, people, request_id):  # every destination that holds or received them (issue 18)
            return notify(store, self.config, self.path, people, request_id)

        register_notifier(tell)
        try:
            receipt = forget(self, ids, dry_run=dry_run, request=request, who=who)
        finally:
            unregister_notifier(tell)
        if not dry_run:
            note_erasure()  # runs held in memory (the server's index, look-up caches) are read again
        return receipt

    def readmit(self, ids: Any, who: str = "cli") -> dict[str, Any]:
        """Lift the suppression of erased customers, so their rows are ingested again."""
        from segmint.privacy.forget import readmit

        return readmit(self.store, ids, who=who)

    def erasure_ledger(self, limit: int = 100) -> list[dict[str, Any]]:
        """The erasure ledger, latest request first (keyed hashes, never ids)."""
        from segmint.privacy.ledger import entries

        return entries(self.store, limit)

    def fairness(self, name: str, attribute: str | None = None, as_of: Any = None) -> dict[str, Any]:
        """The fairness table of the stored run of ``name`` (docs/privacy.md, "Fairness").

        Per protected attribute (``privacy.fairness``; or only ``attribute``) and segment: each group's share
        against the base, the disparity ratio and the four-fifths rule, balance, bootstrap intervals.
        """
        from segmint.errors import UnknownNameError, did_you_mean
        from segmint.privacy.fairness import attribute_columns, fairness_table

        features, labels, result, _ = self._labelled(name, as_of)
        fc = self.config.privacy.fairness
        names = [attribute] if attribute else list(fc.attributes)
        columns = attribute_columns(features, names, [] if attribute else fc.intersections)
        if attribute and attribute not in columns:
            raise UnknownNameError(f"the feature snapshot of {result.as_of} has no attribute {attribute!r}; "
                                   f"{did_you_mean(attribute, list(features.columns))}")
        table = fairness_table(labels, columns, min_cell=self.config.privacy.min_segment_size,
                               threshold=fc.threshold, bootstrap=fc.bootstrap, reference=fc.reference,
                               random_state=self.config.validation.random_state)
        missing = [n for n in names if n not in columns]
        return {"segmentation": name, "version": result.version, "as_of": str(result.as_of),
                "not_in_snapshot": missing, **table}

    def apply_retention(self, dry_run: bool = False, now: Any = None, who: str = "cli") -> dict[str, Any]:
        """Purge rows older than ``retention:`` in segmint.yaml, record it in the ledger, rewrite the store's file.

        A refresh calls this too. Returns per table the time column, period, cut-off date and rows purged.
        """
        from segmint.privacy.retention import purge

        info = purge(self.store, self.config.retention, now=now, dry_run=dry_run, who=who)
        info["rewritten"] = self._rewrite_store() if info["rows"] and not dry_run else None
        if info["rows"] and not dry_run:
            from segmint.segment.membership import note_erasure

            note_erasure()
        return info

    def _fairness_settings(self) -> dict[str, Any]:
        """``privacy.fairness`` as the scorecard takes it (its fairness table, issue 20)."""
        return self.config.privacy.fairness.model_dump()

    def _report_fairness(self, name: str, as_of: Any) -> dict[str, Any] | None:
        """The fairness table for the report's section; None (no section) when it cannot be computed."""
        try:
            return self.fairness(name, as_of=as_of)
        except Exception:  # noqa: BLE001 - the report still renders; `segmint fairness` shows the error
            return None

    def _sensitive_allowance(self, name: str, audit: bool) -> list[str]:
        """Refuse a segmentation that uses sensitive attributes without an allowed purpose; audit an allowance."""
        from segmint.privacy.sensitive import check_definition

        defn = self.definitions().get(name)
        if defn is None:
            return []  # the run itself says the name is unknown, with suggestions
        allowed = check_definition(name, defn.model_dump(mode="json", by_alias=True), self.config.privacy.sensitive)
        if allowed and audit and not self.read_only:
            self.audit_log.record(os.environ.get("USER", "segmint"), "workspace", "sensitive-allowed", name, None,
                                  {"attributes": allowed, "purpose": defn.purpose})
        return allowed

    def _rewrite_store(self) -> dict[str, int]:
        """Rewrite the store's file so deleted rows leave no byte (:func:`segmint.store.erase.rewrite_database`)."""
        from segmint.store.erase import rewrite_database

        path = self.path / STATE_DIR / STORE_FILE
        if self._rewrite_hook is not None:
            result, self._store = self._rewrite_hook(lambda: rewrite_database(path, self.config.engine.memory_limit))
            return result
        self.close()
        return rewrite_database(path, self.config.engine.memory_limit)


@dataclass
class Judged:
    """A stored run as the scorecard, profile and report take it: its features, labels and catalog,
    or (inside :meth:`Workspace.keep_features`) all three already prepared."""

    result: SegmentationResult
    features: pd.DataFrame
    labels: Any
    catalog: dict
    prepared: Segmented | None = None

    def inputs(self) -> tuple[Any, Any, Any]:
        """``(features, labels, catalog)`` for a callee, or three Nones when it takes ``prepared`` instead."""
        return (None, None, None) if self.prepared is not None else (self.features, self.labels, self.catalog)


def _positions(index, targets):
    """Position in ``index`` of each of ``targets`` (an array), or None when some target is not in it."""
    import numpy as np
    import pandas as pd

    if isinstance(index.array, pd.arrays.ArrowStringArray) and isinstance(targets.array, pd.arrays.ArrowStringArray):
        import pyarrow as pa
        import pyarrow.compute as pc

        # Arrow's hash look-up works on the stored strings; pandas' first turns a million of them into objects
        found = pc.index_in(pa.array(targets.array), value_set=pa.array(index.array))
        return None if found.null_count else found.to_numpy(zero_copy_only=False).astype(np.intp)
    at = index.get_indexer(targets)
    return None if (at < 0).any() else at


def _redact(url: str) -> str:
    try:
        from sqlalchemy.engine import make_url

        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001 - never leak a password through a parse failure
        return "<database>"
