// Branches: editing an earlier user message forks the conversation; the arrows switch.
// Against convo serve a stored conversation forks on the server (POST .../fork), and
// opening one shows its sibling branches as the server lists them (GET .../branches);
// elsewhere the branches live in the page.
import { t } from "./i18n.js";
import * as stored from "./conversations.js";
import { $, el } from "./dom.js";
import { state, baseUrl, authHeaders } from "./state.js";
import { changed } from "./render.js";
import { renderConversations } from "./conversation-list.js";

export function renderBranches() {
  let nav = $("branches");
  if (state.branches.length < 2) { nav?.remove(); return; }
  if (!nav) {
    nav = el("div", { id: "branches", class: "row" });
    $("chat").before(nav);
  }
  nav.replaceChildren(
    el("button", { type: "button", text: "‹", "aria-label": t("previous_branch"), onclick: () => switchBranch(-1) }),
    el("span", { text: t("branch", { i: state.branch + 1, n: state.branches.length }) }),
    el("button", { type: "button", text: "›", "aria-label": t("next_branch"), onclick: () => switchBranch(1) }));
  nav.firstChild.disabled = state.branch === 0;
  nav.lastChild.disabled = state.branch === state.branches.length - 1;
}

export async function editFrom(index) {
  const messages = state.request.messages;
  const c = state.conversation;
  // Editing a message the server already has forks the stored conversation. Until the
  // fork is made there is nothing to type into or send.
  let next = c;
  if (c && index < c.stored) {
    const busy = [$("send"), $("next-message")];
    for (const b of busy) b.disabled = true;
    try {
      next = await serverFork(c, index);
    } finally {
      for (const b of busy) b.disabled = false;
    }
  }
  if (!state.branches.length) state.branches = [messages];
  state.branches[state.branch] = messages;
  state.bindings[state.branch] = c;
  const fork = structuredClone(messages.slice(0, index));
  state.branches.push(fork);
  state.bindings.push(next);
  state.branch = state.branches.length - 1;
  state.conversation = next;
  renderConversations();
  $("next-message").value = messages[index].content ?? "";
  state.request.messages = fork;
  state.lastChoices = null;
  changed();
  $("next-message").focus();
}

// The fork, made by the server: it shares the history before the edited message and is
// listed as a branch of the original. Should that fail (a server without forks), the
// branch becomes a new stored conversation, created by its first request with every
// message so far.
async function serverFork(c, index) {
  try {
    const { messages, ids } = await stored.loadMessages(baseUrl(), authHeaders(), c.id);
    // The server's history is the tail of the page's first `stored` messages: a leading
    // system message the page sent became the conversation's prompt, not an item.
    const offset = c.stored - messages.length;
    const at = offset >= 0 ? ids[index - offset] : undefined;
    if (at === undefined) throw Object.assign(new Error("moved"), { status: 409 });
    const made = await stored.fork(baseUrl(), authHeaders(), c.id, at);
    return { id: made.id, stored: index };
  } catch (err) {
    $("conversations-status").textContent = t("fork_failed", { status: err.status ?? "" });
    return { id: stored.newId(), stored: 0 };
  }
}

// Opening a stored conversation: its sibling branches, as the server lists them, each
// loaded when first switched to. A target without branches has none.
export async function openBranches(id, messages) {
  let family = [];
  try {
    family = await stored.branchFamily(baseUrl(), authHeaders(), id);
  } catch {
    family = [];
  }
  const many = family.length > 1;
  state.branches = many ? family.map((other) => (other === id ? messages : null)) : [];
  state.bindings = many ? family.map((other) => ({ id: other, stored: other === id ? messages.length : 0 })) : [];
  state.branch = many ? family.indexOf(id) : 0;
}

export async function switchBranch(step) {
  state.branches[state.branch] = state.request.messages;
  state.bindings[state.branch] = state.conversation;
  const to = Math.min(Math.max(state.branch + step, 0), state.branches.length - 1);
  if (state.branches[to] === null) {
    try {
      const { messages } = await stored.loadMessages(baseUrl(), authHeaders(), state.bindings[to].id);
      state.branches[to] = messages;
      state.bindings[to] = { id: state.bindings[to].id, stored: messages.length };
    } catch (err) {
      $("conversations-status").textContent = t("conversations_failed", { status: err.status ?? "" });
      return;
    }
  }
  state.branch = to;
  state.request.messages = state.branches[state.branch];
  state.conversation = state.bindings[state.branch] ?? null;
  renderConversations();
  state.lastChoices = null;
  changed();
}
