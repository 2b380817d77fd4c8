"""Rendering text and message-list templates, front matter, defaults, Unicode."""

from __future__ import annotations

import pickle

import pytest

from convo.errors import TemplateError
from convo.messages import Message
from convo.templates import Template

CHAT = """\
---
name: support
model:
  id: gpt-4o-mini
  parameters: {temperature: 0.2, max_tokens: 100}
inputs:
  product: {type: string, default: Acme}
  question: {type: string, sample: "How do I log in?"}
---
system:
You support {{ product }}.

user:
{{ question }}
"""


def pairs(messages: list[Message]) -> list[tuple[str, str]]:
    return [(m.role, m.text) for m in messages]


def test_text_template_renders_a_string() -> None:
    t = Template("Hello {{ name }}, you have {{ n }} messages.", name="greet")
    assert t.render(name="Ada", n=3) == "Hello Ada, you have 3 messages."
    assert not t.is_messages
    assert t.variables == {"name", "n"}
    assert t.name == "greet"


def test_text_template_as_messages_is_one_system_message() -> None:
    t = Template("Be brief about {{ topic }}.")
    assert pairs(t.render_messages(topic="tea")) == [("system", "Be brief about tea.")]
    assert Template("{{ x }}").render_messages(x="   ") == []


def test_message_template_renders_messages() -> None:
    t = Template(CHAT)
    assert t.is_messages
    assert t.name == "support"
    assert pairs(t.render(question="Where is my bill?")) == [
        ("system", "You support Acme."),
        ("user", "Where is my bill?"),
    ]


def test_front_matter_is_normalised() -> None:
    t = Template(CHAT)
    assert t.model == "gpt-4o-mini"
    assert t.parameters == {"temperature": 0.2, "max_tokens": 100}
    assert t.defaults == {"product": "Acme"}
    assert t.front_matter["inputs"]["question"] == {"type": "string", "sample": "How do I log in?"}
    assert t.variables == {"product", "question"}


def test_front_matter_variants() -> None:
    flat = Template("---\nmodel: gpt-4o\nparameters: {seed: 1}\n---\nHi")
    assert (flat.model, flat.parameters, flat.render()) == ("gpt-4o", {"seed": 1}, "Hi")
    listed = Template(
        "---\ninputs:\n  - name: who\n    default: World\nsample: {mood: calm}\n---\n"
        "Hello {{ who }}"
    )
    assert listed.render() == "Hello World"
    assert listed.front_matter["inputs"]["mood"] == {"sample": "calm"}
    azure = Template("---\nmodel:\n  configuration: {azure_deployment: gpt-35}\n---\nx")
    assert azure.model == "gpt-35"
    assert Template("---\n---\nx").front_matter["parameters"] == {}


def test_sample_values_never_fill_a_missing_variable() -> None:
    with pytest.raises(TemplateError, match="question"):
        Template(CHAT).render()


def test_given_variables_override_defaults() -> None:
    assert pairs(Template(CHAT).render(product="Zed", question="q"))[0] == (
        "system",
        "You support Zed.",
    )


def test_render_text_refuses_a_message_template() -> None:
    with pytest.raises(TemplateError, match="render_messages"):
        Template(CHAT).render_text(question="q")


def test_text_before_the_first_marker_is_a_system_message() -> None:
    t = Template("You are terse.\nuser:\nhi\nASSISTANT:\nhello\n# developer:\nrule")
    assert pairs(t.render()) == [
        ("system", "You are terse."),
        ("user", "hi"),
        ("assistant", "hello"),
        ("developer", "rule"),
    ]


def test_markers_inside_loops_and_macros_make_messages() -> None:
    t = Template(
        "system:\nAnswer like the examples.\n"
        "{% for ex in examples %}\nuser:\n{{ ex.q }}\nassistant:\n{{ ex.a }}\n{% endfor %}\n"
        "{% macro ask(q) %}\nuser:\n{{ q }}\n{% endmacro %}\n"
        "{{ ask(question) }}\n"
    )
    examples = [{"q": "2+2?", "a": "4"}, {"q": "3+3?", "a": "6"}]
    assert pairs(t.render(examples=examples, question="5+5?")) == [
        ("system", "Answer like the examples."),
        ("user", "2+2?"),
        ("assistant", "4"),
        ("user", "3+3?"),
        ("assistant", "6"),
        ("user", "5+5?"),
    ]


def test_a_section_that_renders_blank_is_left_out() -> None:
    t = Template("system:\nBe kind.\n{% if hint %}\nassistant:\n{{ hint }}\n{% endif %}\nuser:\nhi")
    assert [m.role for m in t.render(hint="")] == ["system", "user"]
    assert [m.role for m in t.render(hint="ok")] == ["system", "assistant", "user"]


def test_a_marker_must_be_the_whole_line() -> None:
    t = Template("Answer as user: plain text.\nThe user: said hi")
    assert not t.is_messages
    assert t.render() == "Answer as user: plain text.\nThe user: said hi"


def test_emoji_cjk_and_line_separators_round_trip() -> None:
    value = "héllo 👋🏽 世界 \u2028 مرحبا 🇯🇵"
    assert Template("{{ v }}").render(v=value) == value
    assert Template("user:\n{{ v }}").render_messages(v=value)[0].text == value
    assert Template("日本語: {{ v }} ✓").render(v="テスト") == "日本語: テスト ✓"


def test_block_tags_leave_no_blank_lines() -> None:
    t = Template("Rules:\n{% for r in rules %}\n- {{ r }}\n{% endfor %}\nEnd.")
    assert t.render(rules=["a", "b"]) == "Rules:\n- a\n- b\nEnd."


def test_everyday_jinja_still_works() -> None:
    t = Template(
        "{% set ns = namespace(total=0) %}{% for i in items %}{% set ns.total = ns.total + i %}"
        "{% endfor %}{{ ns.total }}|{{ items|join(', ') }}|{{ names|map('upper')|join }}|"
        "{{ '%s=%d' % ('n', 5) }}|{{ '{}-{}'.format(1, 2) }}|{{ d|tojson }}|"
        "{{ 'ab'|center(6) }}|{{ 'a-b'|replace('-', '+') }}|{{ 'x' ~ 1 }}|{{ 2 ** 10 }}|"
        "{{ users|join(',', attribute='n') }}|{{ 'a\nb'|indent(2, first=True) }}"
    )
    out = t.render(items=[1, 2, 3], names=["a", "b"], d={"k": 1}, users=[{"n": "u"}, {"n": "v"}])
    assert out == '6|1, 2, 3|AB|n=5|1-2|{"k": 1}|  ab  |a+b|x1|1024|u,v|  a\n  b'


def test_identity_hash_and_pickle() -> None:
    a, b = Template(CHAT), Template(CHAT)
    assert a == b
    assert hash(a) == hash(b)
    assert a != Template(CHAT, name="other")
    assert len(a.hash) == 64
    assert a.hash == Template(CHAT, name="x").hash
    copy = pickle.loads(pickle.dumps(a))
    assert copy == a
    assert pairs(copy.render(question="q")) == pairs(a.render(question="q"))
    assert "support" in repr(a)
    assert "messages" in repr(a)


def test_variables_may_be_named_like_parameters() -> None:
    assert Template("{{ variables }}").render(variables="v") == "v"


def test_render_cached_returns_equal_results_and_fresh_lists() -> None:
    t = Template(CHAT)
    first = t.render_cached(question="q")
    second = t.render_cached(question="q")
    assert first == second
    assert first is not second
    assert isinstance(first, list)
    first.clear()  # a caller's change must not reach the cache
    assert pairs(t.render_cached(question="q")) == [("system", "You support Acme."), ("user", "q")]


def test_render_cached_tells_equal_values_of_other_types_apart() -> None:
    t = Template("{{ v }}")
    assert [t.render_cached(v=v) for v in (1, True, 1.0, "1")] == ["1", "True", "1.0", "1"]


def test_render_cached_renders_unhashable_values_every_time() -> None:
    class Box:
        def __init__(self, v: str) -> None:
            self.v = v

    t = Template("{{ b.v }}")
    box = Box("one")
    assert t.render_cached(b=box) == "one"
    box.v = "two"
    assert t.render_cached(b=box) == "two"


def test_counted_loops_keep_the_loop_variable() -> None:
    t = Template(
        "{% for x in items %}{{ loop.index }}/{{ loop.length }}{{ ',' if not loop.last }}"
        "{% endfor %}|{% for x in [] %}{% else %}empty{% endfor %}|"
        "{% for k, v in d.items() %}{{ k }}={{ v }}{% endfor %}|"
        "{% for x in items if x > 1 %}{{ loop.cycle('a', 'b') }}{% endfor %}"
    )
    assert t.render(items=[1, 2, 3], d={"a": 1}) == "1/3,2/3,3/3|empty|a=1|ab"


def test_windows_line_endings() -> None:
    t = Template("---\r\nmodel: m\r\n---\r\nsystem:\r\nHi {{ x }}\r\n\r\nuser:\r\n{{ q }}\r\n")
    assert t.model == "m"
    assert pairs(t.render_messages(x="a", q="b\r\nc")) == [("system", "Hi a"), ("user", "b\r\nc")]
