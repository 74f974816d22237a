"""Audit: the append-only, HMAC-chained log of logins, reads of personal data, changes, exports."""
