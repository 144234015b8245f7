"""The parsed model documents of one workspace (:class:`ModelDocs`), kept by their stored text.

A module of its own, importing nothing heavy, so that opening a workspace stays cheap.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

from segmint.errors import UnknownNameError

if TYPE_CHECKING:
    from segmint.store import Store

__all__ = ["ModelDocs"]


class ModelDocs:
    """Checked model documents by their stored text, parsed once (the owner: one per open workspace).

    A stored version's model never changes (a new model is a new version), so its text is
    a safe key; a look-up reads the text with one small query and skips the parse.
    """

    def __init__(self, size: int = 64) -> None:
        self.size = size
        self._docs: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()

    def get(self, store: Store, name: str, version: int) -> tuple[dict[str, Any], str]:
        """A version's checked model document and its text."""
        from segmint.segment import kinds
        from segmint.segment import membership as ms

        text = ms.model_text(store, name, version)
        if text is None:
            raise UnknownNameError(f"segmentation {name!r} has no version {version}")
        with self._lock:
            doc = self._docs.get(text)
        if doc is None:
            doc = kinds.check_doc(text)
            with self._lock:
                if len(self._docs) >= self.size:
                    self._docs.clear()
                self._docs[text] = doc
        return doc, text
