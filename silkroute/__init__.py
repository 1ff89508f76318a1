"""silkroute: the open platform of a China-ASEAN AI computing centre."""

__version__ = "0.1.0"
