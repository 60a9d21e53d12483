"""Logging: key=value lines, and secrets blanked wherever they appear."""

from __future__ import annotations

import logging

from digestbot.logs import REDACTED, RedactingFormatter


def test_secrets_are_blanked_in_messages_arguments_and_tracebacks() -> None:
    """A token in the message, in an argument or in an exception never reaches the log."""
    secret = "xoxb-test-secret-abcdefghijklmnop"
    formatter = RedactingFormatter([secret, ""])
    try:
        raise RuntimeError(f"Slack said no to {secret}")
    except RuntimeError:
        import sys

        record = logging.LogRecord(
            "digestbot",
            logging.ERROR,
            __file__,
            1,
            "token=%s in %s",
            (secret, "call"),
            sys.exc_info(),
        )
    text = formatter.format(record)
    assert secret not in text
    assert f"token={REDACTED} in call" in text and f"Slack said no to {REDACTED}" in text
    assert "level=ERROR logger=digestbot" in text


def test_a_short_secret_is_not_blanked_inside_ordinary_words() -> None:
    """A secret of fewer than 4 characters ("ai") would blank parts of channel names and
    titles, and the gaps would give it away: only longer ones are blanked (a password piece
    of 4, split off by a parser at a raw @, still is)."""
    formatter = RedactingFormatter(["ai", "p4ss", "passw0rd-long"])
    message = "posted channel=#ai-news with %s to host 'p4ss@localhost'"
    record = logging.LogRecord(
        "digestbot", logging.INFO, __file__, 1, message, ("passw0rd-long",), None
    )
    text = formatter.format(record)
    assert f"posted channel=#ai-news with {REDACTED} to host '{REDACTED}@localhost'" in text
