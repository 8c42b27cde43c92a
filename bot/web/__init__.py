"""The ASGI app (Starlette): the page, the iCal feeds, the JSON API, health and metrics.

`app.py` builds it from the parts the composition root passes in; `operations.py`
answers `/readyz` and `/metrics`; `templates/` holds the server-rendered page.
"""
