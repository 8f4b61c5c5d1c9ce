"""The web console: shell, sign-in, confirmation of actions and chart templates shared by every server's pages.

Each server contributes its own pages (``servers/<name>/console.py``) as a :class:`~.web.Section`
through its ``ServerSpec.console``; nothing here knows about a particular server.
"""
