"""`convo chat` on a terminal with the real local model, past the end of its window.

The model is opened with a 512-token context (``$CONVO_LLAMACPP_N_CTX``), so a few
long pastes overflow it: convo must trim the history (and say so with ``--usage``)
instead of letting llama.cpp fail. Line editing and multi-line input go through the
same pseudo-terminal as a person's keys.
"""

from __future__ import annotations

from convo import SQLStore
from tests.cli.helpers import convo_cmd
from tests.support import require

PASTE = "\n".join(
    f"Ligne {i}: le ciel est bleu parce que la lumière du soleil est diffusée par l'air."
    for i in range(12)
)
# What a terminal sends for a paste when bracketed paste is on.
BRACKETED = f"\x1b[200~{PASTE}\x1b[201~"
LEFT = "\x1b[D"


def test_a_chat_longer_than_the_window_on_a_terminal(
    subprocess_env: dict[str, str], db_url: str
) -> None:
    require("convo_llamacpp", "needs the convo-llamacpp plugin")
    pexpect = require("pexpect", "drives an interactive chat on a terminal")
    env = {**subprocess_env, "CONVO_LLAMACPP_N_CTX": "512", "TERM": "xterm"}
    cmd = convo_cmd()
    args = [*cmd[1:], "chat", "-m", "local", "--usage", "-o", "max_tokens", "8"]
    child = pexpect.spawn(cmd[0], args, env=env, timeout=300, encoding="utf-8")
    log: list[str] = []
    try:
        child.expect_exact("> ")
        for n in range(3):  # each paste is one message, and three overflow the window
            child.send(f"{n} {BRACKETED}\r")
            child.expect_exact("[usage: ")
            log.append(child.before)
            child.expect_exact("> ")
            log.append(child.before)
        child.sendline("!multi")
        child.expect_exact(". ")
        child.sendline("first line")
        child.expect_exact(". ")
        child.sendline("second line")
        child.expect_exact(". ")
        child.sendline("!end")
        child.expect_exact("[usage: ")
        child.expect_exact("> ")
        # Line editing: the cursor goes back over "d!" and "worl" is completed in place.
        child.send(f"hello word!{LEFT}{LEFT}l\r")
        child.expect_exact("[usage: ")
        log.append(child.before)
        child.expect_exact("> ")
        log.append(child.before)
        child.sendeof()
        child.expect(pexpect.EOF)
    finally:
        child.close(force=True)
    screen = "".join(log)
    assert "Traceback" not in screen
    assert "exceed context window" not in screen
    assert "[trimmed: " in screen
    assert child.exitstatus == 0
    with SQLStore(db_url) as store:
        cid = store.latest()
        assert cid is not None
        users = [m.text for m in store.load(cid).messages if m.role == "user"]
    assert users == [
        f"0 {PASTE}",
        f"1 {PASTE}",
        f"2 {PASTE}",
        "first line\nsecond line",
        "hello world!",
    ]
