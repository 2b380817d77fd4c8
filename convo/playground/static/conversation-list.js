// Stored conversations (when the target is convo serve): the list, opening and deleting one.
// The requests are in conversations.js; this renders them.
import { t } from "./i18n.js";
import * as stored from "./conversations.js";
import { $, el } from "./dom.js";
import { state, baseUrl, authHeaders } from "./state.js";
import { renderUsage, changed } from "./render.js";
import { clearError } from "./errors.js";
import { openBranches } from "./branches.js";

export function renderConversations() {
  const list = $("conversation-list");
  list.replaceChildren(...state.conversations.map((c) => {
    const name = c.title || c.preview || c.id;
    return el("li", { class: "stored", "data-id": c.id },
      el("span", { class: "text", text: name }),
      el("small", { text: t("conversation_info", { id: c.id, n: c.message_count }) }),
      el("button", { type: "button", text: t("open"), "aria-label": `${t("open")} ${name}`, onclick: () => openConversation(c.id) }),
      el("button", { type: "button", text: t("delete"), "aria-label": `${t("delete")} ${name}`, onclick: () => removeConversation(c.id) }));
  }));
  const current = $("current-conversation");
  const c = state.conversation;
  current.textContent = c ? t(c.stored ? "continuing" : "will_store", { id: c.id }) : t("not_stored");
  $("leave-conversation").hidden = !c;
}

export async function refreshConversations() {
  try {
    state.conversations = await stored.listConversations(baseUrl(), authHeaders(), $("conversation-search").value.trim());
    $("conversations-status").textContent = t("conversations_loaded", { n: state.conversations.length });
  } catch (err) {
    state.conversations = [];
    $("conversations-status").textContent = t("conversations_failed", { status: err.status ?? "" });
  }
  renderConversations();
}

export async function openConversation(id) {
  clearError();
  try {
    const { messages } = await stored.loadMessages(baseUrl(), authHeaders(), id);
    await openBranches(id, messages);
    state.request.messages = messages;
    state.conversation = { id, stored: messages.length };
    state.lastChoices = null;
    renderUsage(undefined);
    changed();
    $("next-message").focus();
  } catch (err) {
    $("conversations-status").textContent = t("conversations_failed", { status: err.status ?? "" });
  }
  renderConversations();
}

export async function removeConversation(id) {
  try {
    await stored.deleteConversation(baseUrl(), authHeaders(), id);
    if (state.conversation?.id === id) state.conversation = null;
  } catch (err) {
    $("conversations-status").textContent = t("conversations_failed", { status: err.status ?? "" });
  }
  await refreshConversations();
}
