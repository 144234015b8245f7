"""Offline text embeddings: WordLlama's bundled weights when installed, TF-IDF + SVD otherwise.

``wordllama`` (the optional extra ``segmint[text]``, pinned to |WORDLLAMA_VERSION|) ships its
256-dimensional token embeddings and its tokenizer inside the wheel, so nothing is downloaded:
segmint loads both files from the installed package itself (never through WordLlama's loader,
which looks for the tokenizer in a folder the wheel does not have and then goes to the network)
and checks their SHA-256 against the hashes pinned here before use. A mismatch is an error,
not a silent fallback.

Without wordllama, :class:`TfidfSvd` embeds with scikit-learn: TF-IDF of words and word pairs
(sublinear counts) reduced by a truncated SVD, fitted on the answers themselves; its parameters
are plain lists, so a fitted topic model stays a JSON document.

Both embed in batches (:data:`BATCH`), so memory stays bounded whatever the number of answers,
and return L2-normalised float32 rows.

Examples
--------
>>> e = TfidfSvd(n_components=2).fit(["cheap deals on sale", "sale price deals", "late delivery parcel",
...                                     "parcel arrived late"])
>>> v = e.embed(["deals on sale", "late parcel"])
>>> v.shape, bool(abs((v[0] @ v[1])) < 0.5)
((2, 2), True)
>>> TfidfSvd.from_dict(e.to_dict()).embed(["deals on sale"]).round(4).tolist() == v[:1].round(4).tolist()
True
"""

from __future__ import annotations

import hashlib
import importlib.util
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from segmint.errors import ConfigError, DataError

__all__ = ["WordLlamaEmbedder", "TfidfSvd", "embedder", "wordllama_available", "BATCH", "WORDLLAMA_VERSION",
           "WEIGHTS_SHA256", "TOKENIZER_SHA256"]

#: Answers embedded per batch.
BATCH = 4096
WORDLLAMA_VERSION = "0.4.0.post1"
WEIGHTS_FILE = "weights/l2_supercat_256.safetensors"
TOKENIZER_FILE = "tokenizers/l2_supercat_tokenizer_config.json"
WEIGHTS_SHA256 = "64b47a2dc493cb8e85944076601189739852d7b64e0e1eedcb1937a251cd9fd5"
TOKENIZER_SHA256 = "93248f2a9ec36c7b35f700a033d5f36228aae48db61aee31007fa49062cdeb68"
_LOADED: dict[str, Any] = {}


def _normalise(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.where(norms == 0, 1, norms)


def wordllama_available() -> bool:
    """Whether the wordllama package is installed (its version and hashes are checked on load)."""
    return importlib.util.find_spec("wordllama") is not None


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


class WordLlamaEmbedder:
    """WordLlama ``l2_supercat`` (256 dimensions) from the installed package's own files, hashes checked."""

    name = "wordllama"

    def __init__(self) -> None:
        if "wordllama" not in _LOADED:
            _LOADED["wordllama"] = self._load()
        self._model = _LOADED["wordllama"]

    @staticmethod
    def _load() -> Any:
        from importlib.metadata import version

        found = version("wordllama")
        if found != WORDLLAMA_VERSION:
            raise DataError(f"wordllama {found} is installed, segmint is pinned to {WORDLLAMA_VERSION} (its weights' "
                            f"hash is checked); install segmint[text] (pip install 'wordllama=={WORDLLAMA_VERSION}') "
                            "or set psychographics.embedder: tfidf")
        import wordllama
        from safetensors import safe_open
        from tokenizers import Tokenizer
        from wordllama.inference import WordLlamaInference

        root = Path(wordllama.__file__).parent
        for rel, expected in ((WEIGHTS_FILE, WEIGHTS_SHA256), (TOKENIZER_FILE, TOKENIZER_SHA256)):
            path = root / rel
            if not path.exists():
                raise DataError(f"wordllama's bundled file {path} is missing; reinstall wordllama=={WORDLLAMA_VERSION}")
            got = _sha256(path)
            if got != expected:
                raise DataError(f"wordllama's bundled file {path} has SHA-256 {got}, expected {expected}: it is not "
                                f"the file segmint was checked with; reinstall wordllama=={WORDLLAMA_VERSION}")
        with safe_open(str(root / WEIGHTS_FILE), framework="np") as f:
            weights = f.get_tensor("embedding.weight")
        return WordLlamaInference(weights, Tokenizer.from_file(str(root / TOKENIZER_FILE)))

    def fit(self, texts: Sequence[str]) -> "WordLlamaEmbedder":
        return self  # pre-trained

    def embed(self, texts: Sequence[str], batch_size: int = BATCH) -> np.ndarray:
        out = [self._model.embed(list(texts[i:i + batch_size]), norm=True, batch_size=512)
               for i in range(0, len(texts), batch_size)]
        return _normalise(np.vstack(out)) if out else np.zeros((0, 256), np.float32)

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.name, "version": WORDLLAMA_VERSION, "weights_sha256": WEIGHTS_SHA256}


class TfidfSvd:
    """TF-IDF (words and word pairs, sublinear) reduced by a truncated SVD; parameters as plain lists."""

    name = "tfidf"

    def __init__(self, n_components: int = 64, max_features: int = 4000, random_state: int = 0) -> None:
        self.n_components = n_components
        self.max_features = max_features
        self.random_state = random_state

    def fit(self, texts: Sequence[str]) -> "TfidfSvd":
        from sklearn.decomposition import TruncatedSVD
        from sklearn.feature_extraction.text import TfidfVectorizer

        vec = TfidfVectorizer(sublinear_tf=True, ngram_range=(1, 2), max_features=self.max_features,
                              min_df=1 if len(texts) < 50 else 2, stop_words="english")
        X = vec.fit_transform(texts)
        k = max(1, min(self.n_components, X.shape[1] - 1, X.shape[0] - 1))
        svd = TruncatedSVD(n_components=k, random_state=self.random_state).fit(X)
        self.vocabulary_ = {t: int(i) for t, i in vec.vocabulary_.items()}
        self.idf_ = vec.idf_.astype(float)
        self.components_ = svd.components_.astype(np.float32)
        return self

    def _vectorizer(self):
        from sklearn.feature_extraction.text import TfidfVectorizer

        vec = TfidfVectorizer(sublinear_tf=True, ngram_range=(1, 2), vocabulary=self.vocabulary_,
                              stop_words="english")
        vec.idf_ = np.asarray(self.idf_)
        return vec

    def embed(self, texts: Sequence[str], batch_size: int = BATCH) -> np.ndarray:
        if not hasattr(self, "components_"):
            raise ConfigError("the TF-IDF embedder is not fitted")
        vec = self._vectorizer()
        out = [np.asarray(vec.transform(list(texts[i:i + batch_size])) @ self.components_.T)
               for i in range(0, len(texts), batch_size)]
        return _normalise(np.vstack(out)) if out else np.zeros((0, self.components_.shape[0]), np.float32)

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.name, "vocabulary": self.vocabulary_, "idf": [round(float(v), 6) for v in self.idf_],
                "components": np.round(self.components_, 6).tolist()}

    @classmethod
    def from_dict(cls, doc: dict[str, Any]) -> "TfidfSvd":
        e = cls(n_components=len(doc["components"]))
        e.vocabulary_ = dict(doc["vocabulary"])
        e.idf_ = np.asarray(doc["idf"], dtype=float)
        e.components_ = np.asarray(doc["components"], dtype=np.float32)
        return e


def embedder(kind: str = "auto") -> WordLlamaEmbedder | TfidfSvd:
    """An unfitted embedder: ``wordllama`` (needs segmint[text]), ``tfidf``, or ``auto`` (the first available)."""
    if kind == "wordllama" or (kind == "auto" and wordllama_available()):
        if not wordllama_available():
            raise ConfigError("psychographics.embedder is wordllama but the package is not installed; "
                              f"pip install 'segmint[text]' (wordllama=={WORDLLAMA_VERSION}) or use tfidf")
        return WordLlamaEmbedder()
    if kind not in ("auto", "tfidf"):
        raise ConfigError(f"unknown embedder {kind!r}; use auto, wordllama or tfidf")
    return TfidfSvd()


def from_dict(doc: dict[str, Any]) -> WordLlamaEmbedder | TfidfSvd:
    """The embedder a stored topic model was fitted with."""
    if doc["kind"] == "wordllama":
        if doc.get("weights_sha256") != WEIGHTS_SHA256:
            raise DataError("the topic model was fitted with other wordllama weights; fit it again "
                            "(`segmint topics QUESTION`)")
        return embedder("wordllama")
    return TfidfSvd.from_dict(doc)
