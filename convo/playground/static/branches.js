// Branches: editing an earlier user message forks the conversation; the arrows switch.
import { t } from "./i18n.js";
import * as stored from "./conversations.js";
import { $, el } from "./dom.js";
import { state } from "./state.js";
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

export function editFrom(index) {
  const messages = state.request.messages;
  if (!state.branches.length) state.branches = [messages];
  state.branches[state.branch] = messages;
  state.bindings[state.branch] = state.conversation;
  const fork = structuredClone(messages.slice(0, index));
  state.branches.push(fork);
  state.branch = state.branches.length - 1;
  // Editing a message the server already has forks the stored conversation: the
  // branch becomes a new one, created by its first request with every message so far.
  const c = state.conversation;
  state.conversation = c && index < c.stored ? { id: stored.newId(), stored: 0 } : c;
  state.bindings[state.branch] = state.conversation;
  renderConversations();
  $("next-message").value = messages[index].content ?? "";
  state.request.messages = fork;
  state.lastChoices = null;
  changed();
  $("next-message").focus();
}

export function switchBranch(step) {
  state.branches[state.branch] = state.request.messages;
  state.bindings[state.branch] = state.conversation;
  state.branch = Math.min(Math.max(state.branch + step, 0), state.branches.length - 1);
  state.request.messages = state.branches[state.branch];
  state.conversation = state.bindings[state.branch] ?? null;
  renderConversations();
  state.lastChoices = null;
  changed();
}
