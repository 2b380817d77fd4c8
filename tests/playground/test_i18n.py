"""Chinese and English: the browser's language chooses, the Language button switches."""

from __future__ import annotations

from typing import Any

from tests.playground.conftest import Page, Served, open_page, screenshot
from tests.playground.test_flow import send
from tests.support import ChatServer, error, require

expect = require("playwright.sync_api", "needs playwright").expect


def test_chinese_browser_gets_the_chinese_ui(
    browser: Any, served: Served, chat: ChatServer
) -> None:
    chat.reset()
    page = open_page(browser, served, locale="zh-CN")
    try:
        expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
        assert page.get_by_label("API 基础地址", exact=True).input_value() == chat.url
        assert (
            "密钥仅保存在浏览器本地,不会上传到服务器" in page.locator("#api-key-hint").inner_text()
        )
        # API names stay; the seed's descriptions are in Chinese
        assert page.locator("#desc-temperature").inner_text() == "随机性控制 (0-2),默认 1"
        expect(page.get_by_label("temperature", exact=True)).to_be_visible()
        chat.script(error(401, "bad key"))
        page.get_by_role("button", name="发送", exact=True).click()
        expect(page.get_by_role("alert")).to_contain_text("401 未授权:检查 API Key 是否正确。")
        screenshot(page.page, "zh")
        page.get_by_role("button", name="语言").click()
        expect(page.get_by_role("button", name="Send", exact=True)).to_be_visible()
        # what was on screen is translated too
        expect(page.get_by_role("alert")).to_contain_text("check that the API key is correct")
        page.reload()
        expect(page.get_by_role("button", name="Send", exact=True)).to_be_visible()  # remembered
        assert not page.errors
    finally:
        page.page.context.close()


def test_english_switches_to_chinese(page: Page, chat: ChatServer) -> None:
    send(page)
    page.get_by_role("button", name="Language").click()
    expect(page.get_by_role("button", name="发送", exact=True)).to_be_visible()
    expect(page.get_by_role("region", name="响应")).to_contain_text("echo: Hello!")
    expect(page.get_by_role("region", name="用量")).to_contain_text("total_tokens")
    expect(page.get_by_label("API 密钥", exact=True)).to_be_visible()
    expect(page.get_by_role("button", name="清除密钥")).to_be_visible()


def test_narrow_width_has_no_horizontal_scroll_and_works(
    browser: Any, served: Served, chat: ChatServer
) -> None:
    chat.reset()
    page = open_page(browser, served, width=375)
    try:
        assert page.evaluate("() => document.documentElement.scrollWidth") <= 375
        page.get_by_label("Next message", exact=True).fill("from a phone")
        page.get_by_label("Next message", exact=True).press("Control+Enter")  # keyboard send
        expect(page.locator("#chat .assistant .text").last).to_have_text("echo: from a phone")
        assert page.evaluate("() => document.documentElement.scrollWidth") <= 375
        screenshot(page.page, "mobile")
    finally:
        page.page.context.close()
