"""A plugin module that cannot be imported: its dependency is missing."""

import convo_fake_plugin_missing_dependency  # noqa: F401
