"""What a reader selects: the filter parser shared by the web query and the deep links.

`query.py` validates a query once for every presenter; `deeplink.py` writes and reads the
Telegram `/start` payload that carries the same filters.
"""
