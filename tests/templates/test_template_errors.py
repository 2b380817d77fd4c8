"""Errors name the template and the line, and say what Jinja or YAML said."""

from __future__ import annotations

from pathlib import Path

import pytest

from convo.errors import ConvoError, TemplateError, TemplateSyntaxError
from convo.templates import Template


@pytest.mark.parametrize(
    ("source", "line", "said"),
    [
        ("Hello\n{% if %}\n", 2, "Expected an expression"),
        ("a\nb\n{{ x }\n", 3, "unexpected '}'"),
        ("{% for x in y %}\nno end\n", 2, "Unexpected end of template"),
        ("ok\n\n{{ x|no_such_filter }}", 3, "No filter named 'no_such_filter'"),
    ],
)
def test_syntax_error_names_template_and_line(source: str, line: int, said: str) -> None:
    with pytest.raises(TemplateSyntaxError) as info:
        Template(source, name="broken")
    err = info.value
    assert (err.template, err.lineno) == ("broken", line)
    assert str(err).startswith(f"template 'broken', line {line}: ")
    assert said in str(err)
    assert isinstance(err, ConvoError)


def test_lines_count_from_the_top_of_the_file_past_front_matter() -> None:
    source = "---\nname: x\nmodel: gpt-4o\n---\nsystem:\nHi\nuser:\n{{ q }\n"
    with pytest.raises(TemplateSyntaxError) as info:
        Template(source, name="chat")
    assert info.value.lineno == 8


def test_runtime_error_lines_count_past_front_matter_and_markers() -> None:
    source = "---\nmodel: gpt-4o\n---\nsystem:\nHi\nuser:\n{{ missing }}\n"
    with pytest.raises(TemplateError) as info:
        Template(source, name="chat").render()
    assert info.value.lineno == 7


@pytest.mark.parametrize(
    ("source", "line", "said"),
    [
        ("---\nmodel: [1\n---\nhi", 3, "not valid YAML"),
        ("---\nname: a\nmodel: 5\n---\nhi", 3, "'model': expected a model name"),
        ("---\nparameters: [1]\n---\nhi", 2, "'parameters': expected a mapping"),
        ("---\ninputs: 3\n---\nhi", 2, "'inputs': expected a mapping or a list"),
        ("---\ninputs:\n  - 3\n---\nhi", 2, "a 'name'"),
        ("---\n- a\n---\nhi", 2, "must be a YAML mapping"),
        ("---\nname: x\nhi", 1, "never closed"),
        ("---\n!!python/object:os.system {}\n---\nhi", 2, "not valid YAML"),
    ],
)
def test_front_matter_errors(source: str, line: int, said: str) -> None:
    with pytest.raises(TemplateSyntaxError) as info:
        Template(source, name="fm")
    assert info.value.lineno == line
    assert said in str(info.value)


def test_a_file_error_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "greet.prompty"
    path.write_text("---\nmodel: gpt-4o\n---\nuser:\n{{ name }\n", encoding="utf-8")
    with pytest.raises(TemplateSyntaxError) as info:
        Template.from_file(path)
    assert info.value.template == "greet"
    assert str(path) in str(info.value)
    assert info.value.lineno == 5


def test_unreadable_files_are_template_errors(tmp_path: Path) -> None:
    with pytest.raises(TemplateError, match="cannot read"):
        Template.from_file(tmp_path / "absent.prompty")
    bad = tmp_path / "latin1.prompty"
    bad.write_bytes("caf\xe9".encode("latin-1"))
    with pytest.raises(TemplateError, match="cannot read"):
        Template.from_file(bad)


def test_a_role_line_inside_a_tag_is_refused() -> None:
    with pytest.raises(TemplateSyntaxError, match="inside a"):
        Template("system:\n{{ 'a\nuser:\nb' }}")


def test_lone_surrogates_and_non_strings_are_refused() -> None:
    with pytest.raises(TemplateSyntaxError, match=r"line 2: .*surrogate"):
        Template("ok\nbad \udc80")
    with pytest.raises(TemplateError, match="must be a str"):
        Template(b"bytes")  # type: ignore[arg-type]
