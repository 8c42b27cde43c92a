"""Storage: the tables, the engine that reaches them, their migrations and repositories.

Nothing here connects at import time; the composition root builds one engine with
`create_engine` and hands a `session_factory` to whoever needs the database.
"""

# The migration this code needs; a test keeps it equal to the newest one shipped. Kept as
# a constant so a short command can check a database without importing Alembic.
SCHEMA_REVISION = "0005"

# The PostgreSQL advisory locks the workers take (`bot.delivery.leadership`): the leader's,
# and one of the presence kind per live worker. `stats.leader_known` reads the first.
ADVISORY_LOCK = 0x554E544F  # "UNTO"
PRESENCE_LOCK = 0x554E5457  # "UNTW"
