"""Token counting: exact for OpenAI's models, offline, each message counted once.

>>> from convo.tokens import count_tokens
>>> count_tokens([{"role": "user", "content": "Hello!"}], model="gpt-4")
9
"""

from convo.tokens.counting import TokenCounter, Tokenizer, count_tokens, counter_for
from convo.tokens.encodings import encoding_name_for_model, get_encoding, is_openai_model

__all__ = [
    "TokenCounter",
    "Tokenizer",
    "count_tokens",
    "counter_for",
    "encoding_name_for_model",
    "get_encoding",
    "is_openai_model",
]
