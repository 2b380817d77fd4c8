"""Testing conversations offline: cassettes that record and replay a transport's
traffic, and the scripted test doubles.

>>> from convo.testing import Cassette, FunctionTransport, ScriptedTransport
"""

from convo.testing.cassette import Cassette
from convo.transports.testing import FunctionTransport, ScriptedTransport, tool_calls

__all__ = ["Cassette", "FunctionTransport", "ScriptedTransport", "tool_calls"]
