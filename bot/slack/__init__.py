"""The Slack app: the `/untoc` command, button presses, webhook targets, Socket Mode.

`app.build_slack_app` wires the handlers into a slack-bolt app that the composition
root builds once; `app.slack_routes` mounts it in the web process, `app.start_socket_mode`
runs it in the worker instead. Alerts themselves go out through `bot.slack.channel`.
"""
