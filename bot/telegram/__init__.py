"""The Telegram bot: commands, keyboards and buttons on top of python-telegram-bot.

`app.py` builds the PTB `Application` and runs it on the caller's event loop;
one module per concern holds the handlers, which stay thin: parse the update, call the
subscriber operations, the `Store` or the `Publisher`, and lay out the answer in the
chat's language. `webhook.py` serves updates to the web process in webhook mode.
"""
