"""The message marker: `N_("text")` marks a message for extraction where it is defined
(it is translated where it is shown). Kept apart so marking costs no import of Babel."""


def N_(message: str) -> str:
    """Return `message` unchanged; its only job is to be found by `make translations`."""
    return message
