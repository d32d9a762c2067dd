"""avatar_app: a live CoNR avatar from a character sheet."""

__version__ = "0.1.0"
