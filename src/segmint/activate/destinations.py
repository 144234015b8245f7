"""Destinations: where segment changes are sent, declared in ``segmint.yaml`` or added from the CLI.

A destination subscribes to segmentations (and optionally some of their segments) and is one
of three kinds:

``webhook``
    HTTP POSTs signed as the Standard Webhooks specification says (:mod:`segmint.activate.webhook`).
``files``
    CSV, Parquet or JSON-lines files of the changes (or of the whole audience) in a folder,
    each with a manifest (:mod:`segmint.activate.files`).
``database``
    A diff sync into a PostgreSQL or MySQL table (:mod:`segmint.activate.database`).

Destinations come from two places: the ``destinations:`` section of ``segmint.yaml`` (edit the
file to change them) and ``segmint destination add`` (kept in the store, removed with
``segmint destination remove``). A webhook's signing secret is never in either: it lives in
``.segmint/destination-secrets.json`` (permissions 0600), is printed once when created, and
can come from an environment variable instead (``secret_env``).

Examples
--------
>>> d = Destination.model_validate({"name": "crm", "kind": "webhook", "url": "https://crm.example/hooks",
...                                 "segmentations": ["behaviour"]})
>>> d.kind, d.batch_size, d.consent
('webhook', None, True)
>>> Destination.model_validate({"name": "crm", "kind": "webhook", "url": "http://crm.example/hooks",
...                             "segmentations": ["behaviour"]}).check_url([])
Traceback (most recent call last):
...
segmint.errors.ConfigError: destination 'crm': http://crm.example/hooks is not https; use https, or list crm.example under activation.allow_http_hosts in segmint.yaml (plain http is allowed only to 127.0.0.1, ::1 and localhost)
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import os
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

import ibis
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from segmint.activate import signing
from segmint.errors import ConfigError, UnknownNameError, did_you_mean
from segmint.paths import check_name

__all__ = ["DESTINATIONS", "STATE", "Destination", "DestinationState", "Registry", "SecretStore",
           "PERSONAL_FIELDS"]

DESTINATIONS = "destinations"
STATE = "destination_state"

SCHEMAS = {
    DESTINATIONS: ibis.schema({"name": "string", "definition": "string", "created_at": "timestamp"}),
    STATE: ibis.schema({"name": "string", "cursor": "int64", "started": "boolean", "disabled_reason": "string",
                        "updated_at": "timestamp"}),
}

#: Customer columns that hold personal data: a destination sends them only with ``personal_data: true``.
PERSONAL_FIELDS = frozenset({"email", "phone", "first_name", "last_name", "name", "full_name", "address",
                             "street", "postcode", "zip", "date_of_birth", "birth_date", "ip_address"})

LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain"})


class Destination(BaseModel):
    """One destination's definition (a ``destinations:`` entry of ``segmint.yaml``)."""

    model_config = ConfigDict(extra="forbid")

    name: str
    kind: Literal["webhook", "files", "database"]
    segmentations: list[str] = Field(..., min_length=1, description="whose changes it receives")
    segments: list[str] = Field(default_factory=list, description="only these segments (empty: all)")
    fields: list[str] = Field(default_factory=list,
                              description="feature or customer columns sent with each entered customer")
    consent: bool = Field(True, description="send only customers with marketing_consent")
    personal_data: bool = Field(False, description="allow personal data fields (email, phone, names); audited")
    batch_size: int | None = Field(None, ge=1, le=10_000, description="changes per request or file")
    # webhook
    url: str | None = Field(None, description="webhook: the receiver's URL; database: an SQLAlchemy URL")
    url_env: str | None = Field(None, description="database: the environment variable holding the URL")
    secret_env: str | None = Field(None, description="webhook: the environment variable holding a whsec_ secret")
    timeout_s: float | None = Field(None, gt=0, le=300)
    # files
    path: str | None = Field(None, description="files: the folder the files go to")
    format: Literal["csv", "parquet", "jsonl"] = "csv"
    content: Literal["changes", "audience"] = Field("changes", description="files: the changes, or the whole "
                                                                           "audience at each sync")
    # database
    table: str | None = Field(None, description="database: the target table")
    mode: Literal["mirror", "insert"] = Field("mirror", description="database: keep the table equal to the "
                                                                    "audience, or append every change")
    source: Literal["segmint.yaml", "cli"] = "segmint.yaml"
    # monitoring (issue 17): the alerts `segmint refresh` raises, as messages of their own
    alerts: bool = Field(False, description="webhook or files: also receive the alerts raised by segmint refresh")

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        return check_name(v, "destination")

    @field_validator("table")
    @classmethod
    def _table(cls, v: str | None) -> str | None:
        if v is not None and not all(part.replace("_", "a").isalnum() for part in v.split(".", 1)):
            raise ValueError(f"table {v!r}: use letters, digits and _ (optionally schema.table)")
        return v

    def check(self, allow_http: list[str]) -> "Destination":
        """The definition's cross-field rules; raises :class:`ConfigError` naming the fix."""
        need = {"webhook": ["url"], "files": ["path"], "database": ["table"]}[self.kind]
        missing = [f for f in need if getattr(self, f) in (None, "")]
        if self.kind == "database" and not (self.url or self.url_env):
            missing.append("url or url_env")
        if missing:
            raise ConfigError(f"destination {self.name!r} ({self.kind}) needs {', '.join(missing)}")
        if self.alerts and self.kind == "database":
            raise ConfigError(f"destination {self.name!r}: a database destination mirrors an audience and cannot "
                              "take alerts; set alerts: true on a webhook or files destination")
        if self.kind == "webhook":
            self.check_url(allow_http)
        personal = sorted(set(self.fields) & PERSONAL_FIELDS)
        if personal and not self.personal_data:
            raise ConfigError(f"destination {self.name!r} would send personal data ({', '.join(personal)}); "
                              "remove those fields, or set personal_data: true for it (every send is audited)")
        return self

    def check_url(self, allow_http: list[str]) -> str:
        """The webhook URL when it may be used: https, or http to loopback or an allowed host."""
        url = self.url or ""
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
        if parts.scheme not in ("http", "https") or not host:
            raise ConfigError(f"destination {self.name!r}: {url!r} is not an http(s) URL with a host")
        if parts.username or parts.password:
            raise ConfigError(f"destination {self.name!r}: put no credentials in the URL; the receiver checks "
                              "the webhook signature")
        if parts.scheme == "http" and not (_loopback(host) or host in {h.lower() for h in allow_http}):
            raise ConfigError(f"destination {self.name!r}: {url} is not https; use https, or list {host} under "
                              "activation.allow_http_hosts in segmint.yaml (plain http is allowed only to "
                              "127.0.0.1, ::1 and localhost)")
        return url

    def public(self) -> dict[str, Any]:
        """The definition as JSON (no secrets: it never holds any)."""
        return self.model_dump(exclude_none=True)


def _loopback(host: str) -> bool:
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class DestinationState(BaseModel):
    """Where a destination stands: the outbox position it has taken, and whether it is disabled."""

    name: str
    cursor: int = 0
    started: bool = False
    disabled_reason: str | None = None
    updated_at: dt.datetime | None = None


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


class SecretStore:
    """Webhook secrets in ``.segmint/destination-secrets.json`` (0600): the current one and any being rotated out.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> secrets_ = SecretStore(pathlib.Path(tempfile.mkdtemp()))
    >>> first = secrets_.create("crm")
    >>> second = secrets_.rotate("crm")
    >>> secrets_.active("crm") == [second, first]  # both sign during the rotation
    True
    >>> oct(secrets_.path.stat().st_mode & 0o777)
    '0o600'
    """

    FILE = "destination-secrets.json"

    def __init__(self, state_dir: Path, rotation_hours: float = 24.0) -> None:
        self.path = Path(state_dir) / self.FILE
        self.rotation = dt.timedelta(hours=rotation_hours)

    def _read(self) -> dict[str, list[dict[str, str]]]:
        try:
            return json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}

    def _write(self, data: dict[str, Any]) -> None:
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(data, f, indent=1, sort_keys=True)
        os.chmod(tmp, 0o600)
        os.replace(tmp, self.path)

    def create(self, name: str) -> str:
        """A new secret for ``name`` (replacing any at once); returns it (show it once)."""
        secret = signing.new_secret()
        data = self._read()
        data[name] = [{"secret": secret, "created_at": _now().isoformat()}]
        self._write(data)
        return secret

    def rotate(self, name: str) -> str:
        """A new secret; the previous ones keep signing for ``rotation_hours`` so receivers can switch."""
        secret = signing.new_secret()
        data = self._read()
        until = (_now() + self.rotation).isoformat()
        old = [{**s, "expires_at": s.get("expires_at") or until} for s in data.get(name, [])]
        data[name] = [{"secret": secret, "created_at": _now().isoformat()}, *old]
        self._write(data)
        return secret

    def active(self, name: str, env: str | None = None) -> list[str]:
        """The secrets that sign ``name``'s messages now (newest first); from ``env`` when given."""
        if env:
            value = os.environ.get(env)
            if not value:
                raise ConfigError(f"destination {name!r}: the environment variable {env} (secret_env) is not set")
            return [value]
        now = _now().isoformat()
        return [s["secret"] for s in self._read().get(name, []) if not s.get("expires_at") or s["expires_at"] > now]

    def remove(self, name: str) -> None:
        data = self._read()
        if data.pop(name, None) is not None:
            self._write(data)


class Registry:
    """Every destination of a workspace (``segmint.yaml`` and the store) and each one's state.

    Parameters
    ----------
    store : segmint.store.Store
    declared : dict
        The ``destinations:`` section of ``segmint.yaml``.
    allow_http : list of str
        ``activation.allow_http_hosts``.
    """

    def __init__(self, store, declared: dict[str, dict[str, Any]], allow_http: list[str]) -> None:
        self.store = store
        self.declared = declared or {}
        self.allow_http = list(allow_http or [])
        existing = set(store.con.list_tables())
        for table, schema in SCHEMAS.items():
            if table not in existing and not store.read_only:
                store.con.create_table(table, schema=schema)

    # -- definitions ---------------------------------------------------------------------------------
    def _parse(self, name: str, body: dict[str, Any], source: str) -> Destination:
        try:
            d = Destination.model_validate({**body, "name": name, "source": source})
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"]) or "(the entry)"
            origin = "segmint.yaml destinations" if source == "segmint.yaml" else "the store"
            raise ConfigError(f"destination {name!r} in {origin}: {where}: {first['msg']}") from None
        return d.check(self.allow_http)

    def all(self) -> list[Destination]:
        """Every destination, those of ``segmint.yaml`` first, each list by name."""
        out = [self._parse(n, dict(b or {}), "segmint.yaml") for n, b in sorted(self.declared.items())]
        if DESTINATIONS in self.store.con.list_tables():
            t = self.store.con.table(DESTINATIONS).order_by("name").to_pyarrow().to_pylist()
            out += [self._parse(r["name"], json.loads(r["definition"]), "cli") for r in t
                    if r["name"] not in self.declared]
        return out

    def get(self, name: str) -> Destination:
        found = {d.name: d for d in self.all()}
        if name not in found:
            raise UnknownNameError(f"no destination {name!r}; {did_you_mean(name, list(found))} "
                                   "(`segmint destination list` shows them)")
        return found[name]

    def add(self, body: dict[str, Any]) -> Destination:
        """Keep a new destination in the store (a name of ``segmint.yaml`` or the store is refused)."""
        name = check_name(body.get("name"), "destination")
        if name in self.declared or name in {d.name for d in self.all()}:
            raise ConfigError(f"a destination named {name!r} exists; remove it first or choose another name")
        d = self._parse(name, {k: v for k, v in body.items() if k not in ("name", "source")}, "cli")
        row = {"name": name, "definition": json.dumps(d.model_dump(exclude_none=True, exclude={"name", "source"})),
               "created_at": _now()}
        self.store.con.insert(DESTINATIONS, ibis.memtable([row], schema=SCHEMAS[DESTINATIONS]))
        return d

    def remove(self, name: str) -> Destination:
        d = self.get(name)
        if d.source == "segmint.yaml":
            raise ConfigError(f"destination {name!r} is declared in segmint.yaml; delete it there")
        with self.store.transaction():
            self.store.delete_rows(DESTINATIONS, name=name)
            self.store.delete_rows(STATE, name=name)
        return d

    # -- state ---------------------------------------------------------------------------------------
    def state(self, name: str) -> DestinationState:
        t = self.store.con.table(STATE)
        rows = t.filter(t.name == name).to_pyarrow().to_pylist()
        return DestinationState(**rows[0]) if rows else DestinationState(name=name)

    def save_state(self, state: DestinationState) -> None:
        """Replace ``state``'s row (call it inside the transaction that made the change)."""
        self.store.replace_row(STATE, {"name": state.name}, {**state.model_dump(), "updated_at": _now()})
