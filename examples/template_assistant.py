"""A template-driven assistant: the prompt lives in examples/templates/assistant.prompty.

python examples/template_assistant.py "How do I reset my password?" --product "Acme Cloud"
"""

from __future__ import annotations

import argparse
from pathlib import Path

from convo import Conversation, Template
from convo.models import default_model

TEMPLATE = Path(__file__).parent / "templates" / "assistant.prompty"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("question")
    parser.add_argument("--product", default="Acme Cloud")
    args = parser.parse_args()
    template = Template.from_file(TEMPLATE)
    conv = Conversation(
        template,
        variables={"product": args.product},
        model=default_model(),
        temperature=0,
        max_tokens=200,
    )
    print(conv.send(args.question).text)


if __name__ == "__main__":
    main()
