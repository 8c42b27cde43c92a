"""`python -m bot` is the same as `untoc-watch`."""

from bot.cli.app import main

main()
