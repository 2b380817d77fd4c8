"""Loading templates: from strings, files, directories, registries and plugins."""

from __future__ import annotations

from pathlib import Path

import pytest

from convo.errors import TemplateError, TemplateSyntaxError
from convo.plugins import hookimpl
from convo.plugins.manager import PluginManager
from convo.templates import Template, TemplateLibrary, TemplateRegistry

EXAMPLE = Path(__file__).parents[2] / "examples" / "templates" / "assistant.prompty"


def test_from_file_reads_utf8_with_or_without_bom(tmp_path: Path) -> None:
    path = tmp_path / "hello.jinja"
    path.write_bytes("\ufeff你好 {{ who }} 🎉".encode())
    t = Template.from_file(path)
    assert (t.name, t.path) == ("hello", path)
    assert t.render(who="世界") == "你好 世界 🎉"
    assert Template.from_file(path, name="custom").name == "custom"


def test_the_example_template_is_a_few_shot_chat() -> None:
    t = Template.from_file(EXAMPLE)
    assert t.variables == {"product"}
    assert t.defaults == {"product": "Acme Cloud"}
    messages = t.render_messages(product="Zed")
    assert [m.role for m in messages] == ["system", "user", "assistant"]
    assert "Zed" in messages[0].text
    assert "Zed" in messages[2].text


def test_registry_registers_sources_templates_and_paths() -> None:
    registry = TemplateRegistry()
    registry.register("a", "A {{ x }}")
    registry.register("b", Template("B", name="b"))
    registry.register("c", EXAMPLE)
    assert registry.names() == ["a", "b", "c"]
    assert list(registry) == ["a", "b", "c"]
    assert len(registry) == 3
    assert "a" in registry
    assert registry.get("a").render(x=1) == "A 1"
    assert registry.get("a").name == "a"
    assert registry.get("c").is_messages


def test_registry_refuses_duplicates_unless_replacing() -> None:
    registry = TemplateRegistry()
    registry.register("a", "one")
    with pytest.raises(TemplateError, match="already registered"):
        registry.register("a", "two")
    registry.register("a", "two", replace=True)
    assert registry.get("a").render() == "two"


def test_registry_errors() -> None:
    registry = TemplateRegistry()
    registry.register("support", "x")
    with pytest.raises(TemplateError, match="did you mean 'support'"):
        registry.get("suport")
    with pytest.raises(TemplateError, match="non-empty string"):
        registry.register("", "x")
    with pytest.raises(TemplateError, match="expected a Template"):
        registry.register("n", 42)  # type: ignore[arg-type]
    with pytest.raises(TemplateSyntaxError, match="template 'bad', line 1"):
        registry.register("bad", "{% if %}")


def test_library_reads_a_directory_lazily(tmp_path: Path) -> None:
    (tmp_path / "greet.prompty").write_text("user:\nHi {{ name }}", encoding="utf-8")
    (tmp_path / "support").mkdir()
    (tmp_path / "support" / "refund.jinja").write_text("Refund {{ id }}", encoding="utf-8")
    (tmp_path / "broken.j2").write_text("ok\n{{ x }", encoding="utf-8")
    (tmp_path / "notes.py").write_text("ignored", encoding="utf-8")
    library = TemplateLibrary(tmp_path)
    assert library.names() == ["broken", "greet", "support/refund"]
    assert library.get("support/refund").render(id=7) == "Refund 7"
    assert library.get("greet") is library.get("greet")  # loaded once
    with pytest.raises(TemplateSyntaxError) as info:
        library.get("broken")
    assert (info.value.template, info.value.lineno) == ("broken", 2)
    library.register("extra", "E")
    assert "extra" in library.names()


def test_library_errors(tmp_path: Path) -> None:
    with pytest.raises(TemplateError, match="does not exist"):
        TemplateLibrary(tmp_path / "nope")
    (tmp_path / "a.prompty").write_text("1", encoding="utf-8")
    (tmp_path / "a.jinja").write_text("2", encoding="utf-8")
    with pytest.raises(TemplateError, match="'a' is both"):
        TemplateLibrary(tmp_path)


def test_plugins_register_templates_through_the_registry() -> None:
    class Prompts:
        @hookimpl
        def register_templates(self, register):  # type: ignore[no-untyped-def]
            register("haiku", "Write a haiku about {{ topic }}.")
            register("chat", Template("user:\n{{ q }}"))

    class Clash:
        @hookimpl
        def register_templates(self, register):  # type: ignore[no-untyped-def]
            register("haiku", "another")

    pm = PluginManager(entry_points=False, builtins=())
    pm.add(Prompts(), "prompts")
    pm.add(Clash(), "clash")
    templates = pm.templates()
    assert templates.names() == ["chat", "haiku"]
    assert templates.get("haiku").render(topic="rain") == "Write a haiku about rain."
    assert "already registered" in pm.errors()["clash"]
