"""PII redaction for the region: e-mail, phone, IP and national IDs, as typed placeholders."""

from silkroute.corpus.pii.redact import PiiRedactor

__all__ = ["PiiRedactor"]
