"""Storage: the tables, the engine that reaches them, their migrations and repositories.

Nothing here connects at import time; the composition root builds one engine with
`create_engine` and hands a `session_factory` to whoever needs the database.
"""
