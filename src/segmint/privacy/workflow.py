"""``segmint forget`` end to end, on a workspace: plan, delete, rewrite the file, regenerate the reports.

The workspace passes itself (:meth:`segmint.workspace.Workspace.forget`); this module calls its
public methods and never imports it (the workspace sits above the data layer).
"""

from __future__ import annotations

import time
from typing import Any

from segmint.privacy import files as wsfiles
from segmint.privacy.forget import Receipt, erase, finish_ledger


def forget(ws: Any, ids: Any, *, dry_run: bool = False, request: str = "", who: str = "cli") -> Receipt:
    """Erase ``ids`` from the workspace ``ws``; see :meth:`segmint.workspace.Workspace.forget`."""
    started = time.perf_counter()
    receipt, plan = erase(ws.store, ids, request=request, who=who, dry_run=dry_run)
    root = ws.path
    named = wsfiles.naming(root, plan.needles)
    if dry_run:
        for path in named:
            rel = path.relative_to(root).as_posix()
            if wsfiles.owned(root, path):
                receipt.files[rel] = "would be regenerated" if _report_name(ws, path) else "would be deleted"
            else:
                receipt.still_named_in.append(rel)
        receipt.seconds = round(time.perf_counter() - started, 3)
        return receipt
    step = time.perf_counter()
    receipt.rewritten = ws._rewrite_store()
    receipt.phases["rewrite"] = round(time.perf_counter() - step, 3)
    step = time.perf_counter()
    for path in named:
        rel = path.relative_to(root).as_posix()
        if not wsfiles.owned(root, path):
            receipt.still_named_in.append(rel)
            continue
        name = _report_name(ws, path)
        if name is not None:
            try:
                ws.report(name, path)
            except Exception as exc:  # noqa: BLE001 - a report that cannot be rebuilt is deleted, and said so
                path.unlink(missing_ok=True)
                receipt.files[rel] = f"deleted (could not be regenerated: {type(exc).__name__})"
                continue
            if wsfiles.names(path, plan.needles):
                path.unlink(missing_ok=True)
                receipt.files[rel] = "deleted (the regenerated report still named them)"
            else:
                receipt.files[rel] = "regenerated"
        else:
            path.unlink(missing_ok=True)
            receipt.files[rel] = "deleted"
    ws.audit_log.record(who, "cli" if who == "cli" else "admin", "forget", f"erasure {receipt.request_id}",
                        receipt.rows, {"people": receipt.found, "requested": receipt.requested})
    receipt.phases["files"] = round(time.perf_counter() - step, 3)
    finish_ledger(ws.store, receipt)
    receipt.seconds = round(time.perf_counter() - started, 3)
    return receipt


def _report_name(ws: Any, path) -> str | None:
    """The segmentation a ``reports/<name>.html`` file reports on, when it is one still defined."""
    rel = path.resolve().relative_to(ws.path.resolve())
    if len(rel.parts) != 2 or rel.parts[0] != "reports" or path.suffix != ".html":
        return None
    name = path.stem
    try:
        return name if name in ws.definitions() else None
    except Exception:  # noqa: BLE001 - a broken segmint.yaml: the file is deleted instead
        return None


__all__ = ["forget"]
