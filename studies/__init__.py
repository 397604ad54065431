"""Studies: experiments that measured a modelling choice on synthetic worlds (not timings, not the product).

Run one from the repository root as a module, e.g. ``.venv/bin/python -m studies.worlds --help``. Each
study's conclusion is kept in docs/models.md with its figures under docs/results/; nothing in the
product imports this package.
"""
