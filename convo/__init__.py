"""convo: conversations with large language models.

>>> from convo import Conversation, ScriptedTransport
>>> conv = Conversation("You are terse.", model="gpt-4o-mini", transport=ScriptedTransport("Hi."))
>>> conv.send("Hello").text
'Hi.'
"""

from convo.errors import *  # noqa: F403 - the error tree is part of the public face
from convo.errors import __all__ as _errors
from convo.messages import FunctionCall, ImagePart, Message, TextPart, ToolCall
from convo.reply import Choice, Reply, Usage
from convo.request import Request
from convo.transports.base import Transport
from convo.transports.testing import FunctionTransport, ScriptedTransport

__all__ = sorted(
    [
        *_errors,
        "Choice",
        "FunctionCall",
        "FunctionTransport",
        "ImagePart",
        "Message",
        "Reply",
        "Request",
        "ScriptedTransport",
        "TextPart",
        "ToolCall",
        "Transport",
        "Usage",
    ]
)
