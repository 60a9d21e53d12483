"""The web dashboard: every digest, its next runs, what each channel got, and the digest
itself as Slack will show it. `app` routes the pages, `auth` and `session` decide who may see
them, `views` reads the bot for them, `render` draws Block Kit as Slack does, `http` is the
little HTTP they need. Served on the front door of `digestbot run`, or by `digestbot dashboard`.
"""
