"""Customer journeys: sessions, paths, funnels and journeys between segments (issue 23).

Everything here is an Ibis expression over the store's ``events``, ``orders`` and ``memberships``
tables, run in the engine; only small aggregates (a funnel's counts, the most common paths) come
back to Python. The :class:`~segmint.workspace.Workspace` passes the tables in.
"""
