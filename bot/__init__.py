"""Contributor-onboarding assistant: answers newcomers by quoting the community's own documents."""

__version__ = "0.1.0"
