"""Developer tools that sit beside the bot, not inside it: `make eval` (evaluation.py) and `make bench` (bench/).

They are not part of the installed `bot` package: a running bot never needs them, and the benchmark drives the
loopback Discord emulator from tests/, which a runtime package must never import. Run them from the project root
(`python -m tools.evaluation`, `python -m tools.bench`), as the Makefile does.
"""
