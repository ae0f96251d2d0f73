"""The book's support: what only the study's chapters use, apart from the library a user of the method imports.

:mod:`~netsplit.study.chapters` holds the paper's comparison networks, their training and the chapters'
tables; :mod:`~netsplit.study.verdicts` judges the paper's claims with :mod:`~netsplit.study.hypotheses`;
:mod:`~netsplit.study.inference` reads the inference records; :mod:`~netsplit.study.plots` and
:mod:`~netsplit.study.explorer` draw; :mod:`~netsplit.study.reproduce` runs the chapters under a profile.
The notebooks call these so that they hold narrative and calls, and the logic is tested once.
"""
