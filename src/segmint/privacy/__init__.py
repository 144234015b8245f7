"""Privacy and fairness: erasure (:mod:`.forget`, :mod:`.ledger`), retention (:mod:`.retention`), the
sensitive-attribute policy (:mod:`.sensitive`) and the fairness audit of a segmentation (:mod:`.fairness`).

The package's modules are imported where they are used (this file imports nothing), so opening a
workspace stays cheap. docs/privacy.md is the user's guide.
"""
