"""The closed-loop simulation: plan designs tried against a synthetic world year after year.

It combines the synthetic world (``synthetic``), the model (``models``) and planning (``serving``), so it sits
above the serving stage, beside the API, and only the command line and the studies call it.
"""
