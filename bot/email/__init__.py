"""Email, whole: the channel (SMTP through aiosmtplib) and the messages it sends.

Many NGO staff live in their inbox and on mailing lists rather than in Telegram or Slack.
`message.py` builds each alert as a standard message (plain text and HTML alternatives,
the unsubscribe headers mail clients show as a button); `channel.py` sends it through the
relay named by `SMTP_URL`, behind the same `Channel` Protocol as the other services.
"""
