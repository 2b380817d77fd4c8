"""Structured output: the reply comes back as a validated pydantic object.

python examples/structured.py "Ada Lovelace ordered 3 boxes of green tea, urgent."
"""

from __future__ import annotations

import sys
from typing import Literal

from pydantic import BaseModel, Field

from convo import Conversation
from convo.models import default_model


class Item(BaseModel):
    product: str = Field(description="What was ordered")
    quantity: int


class Order(BaseModel):
    customer: str
    items: list[Item]
    urgency: Literal["low", "normal", "urgent"]


def main() -> None:
    text = " ".join(sys.argv[1:]) or "Ada Lovelace ordered 3 boxes of green tea, urgent."
    conv = Conversation(
        "You extract orders from messages as JSON.",
        model=default_model(),
        temperature=0,
        max_tokens=200,
    )
    order = conv.send(f"Extract the order: {text}", response_format=Order).parsed
    print(order.model_dump_json(indent=2))


if __name__ == "__main__":
    main()
