"""Words: translations (`i18n.py`, `locales/`), labels, alert wording and rendering, bidi.

Everything here is pure: data in, text out, in the reader's language. Channels lay the
words out in their own markup; nothing here knows a channel.
"""
