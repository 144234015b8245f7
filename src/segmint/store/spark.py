"""The Spark store: the workspace's tables as Parquet folders in a Spark warehouse (``engine.backend: spark``).

:class:`SparkStore` is a :class:`~segmint.store.engine.Store` whose :attr:`~Store.con` is an
Ibis PySpark backend, so every feature, rule and membership expression runs unchanged;
``native_sql`` is False, so the store's own statements take their portable Ibis branches.

Where the tables live: each table is a folder of Parquet files ``<warehouse>/<table>``
(a local folder, ``hdfs://`` or ``s3a://``), registered as an external table of a Spark
database named after the warehouse. Spark's built-in catalog is in memory, so opening a
store registers the folders it finds: nothing but the folders holds state, and any
driver that can read the warehouse sees the same tables (no metastore to run).

Writes, since Parquet has no UPDATE or DELETE: a new table writes its folder; a
replacement (``create_table(..., overwrite=True)``, the store's portable deletes) writes a
staging folder, then swaps it in, so a query may read the table it replaces; an insert
appends files. Temporary tables (Ibis' PySpark backend has none) are checkpointed
DataFrames seen as temporary views of this store's session only.

Behaviours fixed on every session, whatever ``engine.spark.conf`` says (docs/spark.md has
the table of differences): the session time zone is UTC (stored times are UTC), ANSI mode
is off, as DuckDB's semantics are what segmint's expressions were written for (``x / 0`` is
null), and ``ibis.options.pyspark.treat_nan_as_null`` stays False: a NaN read from a file
stays NaN, as on DuckDB (segmint's own expressions never make one).
"""

from __future__ import annotations

import functools
import hashlib
import re
import threading
import uuid
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import ibis
import ibis.expr.types as ir

from segmint.errors import WorkspaceError
from segmint.store.engine import Store

#: Settings segmint fixes on every Spark session (after the user's ``engine.spark.conf``): see the module text.
FIXED_CONF = {
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.ansi.enabled": "false",
    # Parquet keeps the instant: a timestamp written in one zone reads back the same in another
    "spark.sql.parquet.outputTimestampType": "TIMESTAMP_MICROS",
    "spark.sql.caseSensitive": "false",
    # a reason's null values stay in its JSON text, as DuckDB writes them (Spark leaves null fields out)
    "spark.sql.jsonGenerator.ignoreNullFields": "false",
}
#: Why ``segmint serve`` and its tokens refuse a Spark workspace, and what to use instead (docs/spark.md).
SERVER_NEEDS_DUCKDB = (
    "segmint serve needs the DuckDB backend: the API keeps its tokens, the erasure gate and the serving "
    "index in DuckDB tables with transactions, and this workspace has engine.backend: spark. On Spark use "
    "the command line (segmint members NAME -o FILE, why, history, diff), or serve a DuckDB workspace "
    "(docs/spark.md)")
#: Defaults the user's ``engine.spark.conf`` may change.
DEFAULT_CONF = {
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
    # AQE coalesces small shuffles; 200 partitions for a shop of thousands of rows is mostly scheduling
    "spark.sql.shuffle.partitions": "16",
    "spark.sql.adaptive.enabled": "true",
    # Ibis hands in-memory tables over as pandas frames: through Arrow they stay in the JVM, without Arrow
    # every task starts a Python worker to unpickle rows (minutes on a busy machine for a 200-row table)
    "spark.sql.execution.arrow.pyspark.enabled": "true",
}

_SESSION_LOCK = threading.Lock()
#: The bits of ``monotonically_increasing_id`` that number the rows within a partition (Spark's layout).
_ROW_BITS = 33
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,127}")


def spark_session(master: str, conf: dict[str, Any] | None = None):
    """The process's Spark session for ``master`` (started once; a different master restarts it).

    Spark holds one SparkContext per process, and a context's master cannot change: a store
    asking for another master stops the running one first.
    """
    from pyspark import SparkContext
    from pyspark.sql import SparkSession

    with _SESSION_LOCK:
        active = SparkContext._active_spark_context
        if active is not None and active.master != master:
            active.stop()
        builder = SparkSession.builder.master(master).appName("segmint")
        for key, value in {**DEFAULT_CONF, **{k: str(v) for k, v in (conf or {}).items()}, **FIXED_CONF}.items():
            builder = builder.config(key, str(value).lower() if isinstance(value, bool) else str(value))
        session = builder.getOrCreate()
        session.sparkContext.setLogLevel("ERROR")
        return session


@functools.cache
def backend_class() -> type:
    """Ibis' PySpark backend extended for segmint (built on first use: importing PySpark starts nothing,
    but segmint must import without PySpark installed)."""
    from ibis.backends.pyspark import Backend as _PySparkBackend
    from ibis.backends.sql.compilers.pyspark import PySparkCompiler

    class _Compiler(PySparkCompiler):
        """Ibis' Spark SQL compiler, with the casts segmint's ingest needs that it compiles otherwise."""

        __slots__ = ()

        def visit_TryCast(self, op, *, arg, to):
            if to.is_json() and op.arg.dtype.is_string():
                # Ibis compiles this to to_json(text), which Spark refuses; get_json_object is null for bad JSON
                return self.f.get_json_object(arg, "$")
            return super().visit_TryCast(op, arg=arg, to=to)

    class SparkBackend(_PySparkBackend):
        """Ibis' PySpark backend with tables as Parquet folders under one warehouse, and temporary tables.

        Parameters are those of Ibis' backend; :meth:`attach` binds it to a warehouse.
        """

        name = "pyspark"
        compiler = _Compiler()

        def attach(self, warehouse: str) -> None:
            """Use the Spark database of ``warehouse`` (created when missing) and register its table folders."""
            self.warehouse = warehouse.rstrip("/")
            self.database = "segmint_" + hashlib.sha256(self.warehouse.encode()).hexdigest()[:16]
            self._fs_mkdirs(self.warehouse)
            self._session.sql(f"CREATE DATABASE IF NOT EXISTS {self.database} LOCATION '{_quote(self.warehouse)}'")
            self._session.catalog.setCurrentDatabase(self.database)
            known = {t.name for t in self._session.catalog.listTables(self.database) if not t.isTemporary}
            for name in self._fs_list(self.warehouse):
                if name not in known and _NAME.fullmatch(name) and not name.startswith("_"):  # _staging: not a table
                    self._register(name)

        # -- file system (Hadoop's, so hdfs:// and s3a:// work as a local folder does) ---------------------------
        def _path(self, where: str):
            return self._session._jvm.org.apache.hadoop.fs.Path(where)

        def _fs(self, where: str):
            return self._path(where).getFileSystem(self._session._jsc.hadoopConfiguration())

        def _fs_mkdirs(self, where: str) -> None:
            self._fs(where).mkdirs(self._path(where))

        def _fs_list(self, where: str) -> list[str]:
            fs = self._fs(where)
            return sorted(s.getPath().getName() for s in fs.listStatus(self._path(where)) if s.isDirectory())

        def _fs_delete(self, where: str) -> None:
            fs = self._fs(where)
            if fs.exists(self._path(where)):
                fs.delete(self._path(where), True)

        def _location(self, name: str) -> str:
            return f"{self.warehouse}/{name}"

        def _register(self, name: str) -> None:
            """Make the folder of ``name`` a table of this warehouse's database (its schema read from the files)."""
            self._session.sql(f"DROP TABLE IF EXISTS {self.database}.{name}")
            self._session.sql(f"CREATE TABLE {self.database}.{name} USING parquet "
                              f"LOCATION '{_quote(self._location(name))}'")

        # -- tables --------------------------------------------------------------------------------------------
        def create_table(self, name: str, /, obj: Any = None, *, schema: Any = None, database: str | None = None,
                         temp: bool | None = None, overwrite: bool = False, format: str = "parquet",
                         partition_by: Any = None) -> ir.Table:
            """Create (or with ``overwrite`` replace) the table ``name`` from an expression, data or a schema."""
            if not _NAME.fullmatch(name):
                raise WorkspaceError(f"cannot create table {name!r} on Spark: use letters, digits and _")
            df = self._frame(obj, schema)
            if temp:
                # Checkpointed: the view keeps its rows even when the tables it was computed from are replaced.
                df.localCheckpoint(eager=True).createOrReplaceTempView(name)
                return self.table(name)
            exists = name in self._tables()
            if exists and not overwrite:
                raise WorkspaceError(f"the Spark warehouse {self.warehouse} already has a table {name!r}")
            target = self._location(name)
            if exists:
                # The query may read the table it replaces: write aside, then swap the folders.
                staging = f"{self.warehouse}/_staging/{name}-{uuid.uuid4().hex[:8]}"
                df.write.mode("error").parquet(staging)
                self._fs_delete(target)
                self._fs(target).rename(self._path(staging), self._path(target))
            else:
                self._fs_delete(target)  # a folder a failed run left behind
                df.write.mode("error").parquet(target)
            self._register(name)
            return self.table(name)

        def drop_table(self, name: str, /, *, database: str | None = None, force: bool = False) -> None:
            """Drop a temporary view, or a table and its folder."""
            if self._session.catalog.tableExists(name) and any(
                    t.name == name and t.isTemporary for t in self._session.catalog.listTables(self.database)):
                self._session.catalog.dropTempView(name)
                return
            if name not in self._tables():
                if force:
                    return
                raise WorkspaceError(f"the Spark warehouse {self.warehouse} has no table {name!r}")
            self._session.sql(f"DROP TABLE IF EXISTS {self.database}.{name}")
            self._fs_delete(self._location(name))

        def insert(self, name: str, /, obj: Any, *, database: str | None = None, overwrite: bool = False) -> None:
            """Append rows (or with ``overwrite`` replace them) in the table ``name``."""
            if overwrite:
                table = self.table(name)
                self.create_table(name, self._as_expr(obj, table.schema()), overwrite=True)
                return
            table = self.table(name)
            expr = self._as_expr(obj, table.schema())
            # Cast to the table's types: Parquet files of one table must agree (DuckDB casts an insert itself)
            df = self._frame(expr.select(*table.columns).cast(table.schema()), None)
            df.write.mode("append").parquet(self._location(name))
            self._session.sql(f"REFRESH TABLE {self.database}.{name}")

        def _tables(self) -> set[str]:
            return {t.name for t in self._session.catalog.listTables(self.database) if not t.isTemporary}

        def _as_expr(self, obj: Any, schema: Any) -> ir.Table:
            if isinstance(obj, ir.Expr):
                return obj
            return ibis.memtable(obj, schema=schema) if not hasattr(obj, "schema") else ibis.memtable(obj)

        def _frame(self, obj: Any, schema: Any):
            """A Spark DataFrame of an Ibis expression, in-memory data, or no rows of ``schema``."""
            from ibis.backends.pyspark.datatypes import PySparkSchema

            if obj is None:
                if schema is None:
                    raise WorkspaceError("a new table needs rows or a schema")
                from pyspark.sql import functions as F

                # Built in the JVM: createDataFrame([]) would start Python workers to read no rows
                fields = PySparkSchema.from_ibis(ibis.schema(schema)).fields
                return self._session.range(0).select(*[F.lit(None).cast(f.dataType).alias(f.name) for f in fields])
            table = obj if isinstance(obj, ir.Expr) else ibis.memtable(obj)
            self._run_pre_execute_hooks(table)
            df = self._session.sql(self.compile(table))
            try:
                wanted = PySparkSchema.from_ibis(table.schema())
            except Exception:  # noqa: BLE001 - a type Spark has no name for (Ibis' null type): leave it as it is
                return df
            return _as_typed(df, wanted)

    return SparkBackend


def _as_typed(df, schema):
    """``df`` with each column cast to its type in ``schema`` (the Ibis expression's), where Spark's differs.

    Ibis drops a cast it takes for a no-op and writes an int64 literal as a bare ``1``, which Spark
    types INT (so does ``row_number() + 1``): written as is, a table declared BIGINT would get INT
    Parquet files beside its BIGINT ones, and Spark refuses to read such a folder. DuckDB casts an
    insert to the table's types; here the frame is cast before it is written.
    """
    from pyspark.sql import functions as F

    wanted = {f.name: f.dataType for f in schema.fields}
    if all(wanted.get(f.name, f.dataType) == f.dataType for f in df.schema.fields):
        return df
    return df.select(*[F.col(f"`{f.name}`").cast(wanted[f.name]).alias(f.name)
                       if wanted.get(f.name, f.dataType) != f.dataType else F.col(f"`{f.name}`")
                       for f in df.schema.fields])


def _sniff_delimiter(path: str, encoding: str) -> str:
    """The one of ``, ; tab |`` that splits a CSV file's header line most (``,`` on a tie)."""
    import csv
    import gzip

    opener = gzip.open if path.lower().endswith(".gz") else open
    with opener(path, "rt", encoding=encoding or "utf-8", errors="replace") as fh:
        head = fh.readline()
    return max([",", ";", "\t", "|"], key=lambda d: len(next(csv.reader([head], delimiter=d), [])))


def _quote(text: str) -> str:
    """A path inside a single-quoted Spark SQL literal (paths come from config, not from data)."""
    if "'" in text or "\\" in text:
        raise WorkspaceError(f"the Spark warehouse path {text!r} may not contain quotes or backslashes")
    return text


def warehouse_uri(workspace: Path, configured: str | None) -> str:
    """The warehouse as a URI: ``configured`` (a URL, or a folder relative to the workspace), or the default.

    Examples
    --------
    >>> warehouse_uri(Path("/shop"), None)
    'file:///shop/.segmint/spark/warehouse'
    >>> warehouse_uri(Path("/shop"), "s3a://bucket/segmint/shop")
    's3a://bucket/segmint/shop'
    """
    if configured and re.match(r"[a-z][a-z0-9+.-]*://", configured):
        return configured
    folder = Path(configured) if configured else Path(".segmint") / "spark" / "warehouse"
    if not folder.is_absolute():
        folder = workspace / folder
    return folder.resolve().as_uri()


class SparkStore(Store):
    """A workspace store on Spark.

    Parameters
    ----------
    root : Path
        The workspace's state folder's marker (``<workspace>/.segmint/spark``): the pseudonym key is
        found from it as for the DuckDB file.
    master : str
        ``local[N]``, ``spark://HOST:PORT``, ``yarn``, ``k8s://...``.
    warehouse : str
        The warehouse URI (:func:`warehouse_uri`).
    conf : dict
        Extra Spark settings.
    read_only : bool
        Do not create missing tables.
    """

    native_sql = False

    def __init__(self, root: Path, master: str, warehouse: str, conf: dict[str, Any] | None = None,
                 read_only: bool = False) -> None:
        self.path = Path(root)
        self.read_only = read_only
        try:
            session = spark_session(master, conf).newSession()  # own temporary views and current database
            session.conf.set("spark.sql.session.timeZone", "UTC")
            self.con = backend_class()().connect(session)
            self.con.attach(warehouse)
        except WorkspaceError:
            raise
        except Exception as exc:  # noqa: BLE001 - a Java or connection error: say what to check
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise WorkspaceError(f"cannot start Spark (master {master}, warehouse {warehouse}): {first}. "
                                 "Check engine.spark in segmint.yaml, that Java 17 is installed, and that "
                                 "the master is reachable (docs/spark.md)") from None
        self._raw = None
        # PySpark 4.0's Arrow conversion passes pandas 3 a deprecated keyword (copy=): the warning is PySpark's
        # to fix, not the user's, and under warnings-as-errors it aborts every toPandas
        warnings.filterwarnings("ignore", message="The copy keyword is deprecated", module=r"pyspark(\.|$)")
        ibis.pyspark.name  # noqa: B018 - loading Ibis' backend registers ibis.options.pyspark
        ibis.options.pyspark.treat_nan_as_null = False  # NaN stays NaN, as on DuckDB
        if not read_only:
            self.ensure_schema()

    def setting(self, name: str) -> str:
        """The session's value of a Spark setting (e.g. ``spark.sql.ansi.enabled``)."""
        return str(self.con._session.conf.get(name))

    def cursor(self) -> "SparkStore":
        """The same store: a Spark session serves several threads."""
        return self

    def close(self) -> None:
        """Forget this store's temporary views (the process's Spark context stays up for the next store)."""
        for t in self.con._session.catalog.listTables():
            if t.isTemporary:
                self.con._session.catalog.dropTempView(t.name)

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Run the block (Spark has no transaction across tables: each write lands when it is made)."""
        yield

    def interrupt(self) -> None:
        """Cancel this session's running Spark jobs."""
        self.con._session.sparkContext.cancelAllJobs()

    def query_progress(self) -> float | None:
        return None

    # -- ingest: Spark's own readers, and positions without DuckDB's rowid -----------------------------------
    def read_files(self, paths: list[str], kind: str, delimiter: str | None, encoding: str) -> ir.Table:
        """The rows of data files as an Ibis table of text columns (a temporary view of this session).

        CSV: a header line; the delimiter, when not given, is the one of ``, ; tab |`` that splits the
        header most (DuckDB's sniffer does more); quotes double as in RFC 4180; quoted newlines are kept.
        """
        session = self.con._session
        if kind == "csv":
            sep = delimiter or _sniff_delimiter(paths[0], encoding)
            df = session.read.options(header=True, inferSchema=False, sep=sep, quote='"', escape='"',
                                      multiLine=True, encoding=encoding, mode="PERMISSIVE").csv(paths)
        elif kind == "parquet":
            df = session.read.parquet(*paths)
        elif kind == "jsonl":
            df = session.read.json(paths, primitivesAsString=True)
        else:
            raise WorkspaceError(f"unknown format {kind!r}; use csv, parquet or jsonl")
        from pyspark.sql import functions as F

        df = df.select(*[F.col(f"`{c}`").cast("string").alias(c) for c in df.columns])
        view = f"_segmint_read_{uuid.uuid4().hex[:12]}"
        df.createOrReplaceTempView(view)
        return self.con.table(view)

    def create_positioned(self, name: str, rows: ibis.Table) -> str:
        """Materialise ``rows`` with ``_rec``, each row's 0-based position in the files' order.

        ``monotonically_increasing_id`` follows the read order: the partition's index in its upper
        bits, the row's place within the partition in its lower 33. The rows are checkpointed with
        it, the rows of each partition counted (one small job), and ``_rec`` is the partition's
        offset plus the row's place: dense, as quarantined rows' line numbers need, and computed
        where the rows are. A ``row_number()`` window over the id would do the same in one task:
        every row moved to a single partition and sorted there, and every later step of the ingest
        reading that one partition on one core (the 200,000-customer ingest stalled so, its one
        task holding the driver's memory).
        """
        from pyspark.sql import functions as F

        df = self.con._frame(rows, None)
        columns = df.columns
        df = df.withColumn("_segmint_id", F.monotonically_increasing_id()).localCheckpoint(eager=True)
        part = F.shiftright(F.col("_segmint_id"), _ROW_BITS)
        counts = sorted((int(r[0]), int(r[1])) for r in df.groupBy(part.alias("p")).count().collect())
        offsets, total = [], 0
        for index, count in counts:
            offsets += [F.lit(index), F.lit(total)]
            total += count
        place = F.col("_segmint_id").bitwiseAND(F.lit((1 << _ROW_BITS) - 1))
        offset = F.element_at(F.create_map(*offsets), part) if offsets else F.lit(0).cast("long")
        df = df.select((offset + place).alias("_rec"), *[F.col(f"`{c}`") for c in columns if c != "_rec"])
        df.createOrReplaceTempView(name)
        view = name + "_pos"
        df.createOrReplaceTempView(view)
        return view

    @property
    def tokens(self):  # type: ignore[override]
        raise WorkspaceError(SERVER_NEEDS_DUCKDB)


__all__ = ["SparkStore", "backend_class", "spark_session", "warehouse_uri", "FIXED_CONF", "DEFAULT_CONF",
           "SERVER_NEEDS_DUCKDB"]
