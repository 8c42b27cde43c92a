"""Getting alerts out: the dispatcher, the worker and its jobs, broadcasts, the watcher loop.

`dispatcher.py` claims outbox rows and sends them through the channels; `worker.py`
runs it and, while it leads, the scheduled jobs; `broadcasts.py` enqueues an operator's
message to every subscriber; `watch.py` runs the page watcher.
"""
