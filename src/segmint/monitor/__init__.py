"""Living segments: refresh, monitoring figures (size and movement, drift, KPIs, model health), freshness, alerts.

The package sits between the judges and the workspace (``tests/test_architecture.py``): it reads stored
runs and snapshots through :mod:`segmint.segment` and :mod:`segmint.features`, and the workspace calls it.
Its settings (:mod:`segmint.monitor.settings`) belong to the foundation, as ``segmint.yaml``'s other models.
Nothing is imported here, so that the configuration can import the settings alone.
"""
