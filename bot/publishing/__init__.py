"""The current snapshot of the timeline and the feeds built from it (`publisher.py`).

Read by the web app, the chat services and the planner; it reads the database through
the `Store` and computes with `schedulers/` and `feeds/`.
"""
