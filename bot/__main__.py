"""`python -m bot` is the same as `untoc-watch`."""

from bot.cli import main

main()
