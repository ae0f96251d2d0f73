"""The block-by-block search (paper Fig. 4): its settings, its rule, and what runs it.

:mod:`~netsplit.search.config` holds ``SearchConfig``, the one source of a search's options;
:mod:`~netsplit.search.rule` decides blocks from accuracies alone (jobs, decisions, ``replay``) and trains
nothing; :mod:`~netsplit.search.runner` runs a search on its records file, training what they lack through
:mod:`~netsplit.search.evaluator` on an executor from :mod:`~netsplit.search.executors`.
"""
