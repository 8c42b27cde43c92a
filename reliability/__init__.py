"""The reliability and security suite: the whole service under load, faults and hostile input.

`make reliability` runs every part in full and rewrites the figures in
docs/RELIABILITY.md; the tests in tests/reliability run each part in a short form, so
`make test` (and CI) proves the guarantees hold on every change.
"""
