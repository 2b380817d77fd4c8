// Sending the request: one fetch to the target's /chat/completions, streamed (SSE) or not,
// and the reply appended to the conversation.
import { t } from "./i18n.js";
import { validate } from "./schema.js";
import { events, Assembler } from "./sse.js";
import * as stored from "./conversations.js";
import { $, el } from "./dom.js";
import { state, baseUrl, authHeaders } from "./state.js";
import { renderProblems, renderChat, renderUsage, changed } from "./render.js";
import { renderConversations } from "./conversation-list.js";
import { clearError, showError, errorMessage } from "./errors.js";

export async function send() {
  clearError();
  const next = $("next-message").value;
  if (next.trim()) {
    if (!Array.isArray(state.request.messages)) state.request.messages = [];
    state.request.messages.push({ role: "user", content: next });
    $("next-message").value = "";
    state.lastChoices = null;
    changed();
  }
  state.problems = validate(state.request);
  if (state.problems.length) { renderProblems(); showError("invalid"); return; }
  const controller = (state.controller = new AbortController());
  $("send").disabled = true;
  $("stop").disabled = false;
  $("send-status").textContent = t("sending");
  // A stored conversation is continued by its id: the server has its history, so only
  // the messages it does not have yet are sent.
  const c = state.conversation;
  const body = JSON.stringify(c ? { ...state.request, messages: state.request.messages.slice(c.stored) } : state.request);
  const named = c ? { [stored.HEADER]: c.id } : {};
  try {
    const response = await fetch(`${baseUrl()}/chat/completions`, {
      method: "POST",
      headers: { "Content-Type": "application/json", ...authHeaders(), ...named },
      body,
      signal: controller.signal,
      credentials: "omit",
      referrerPolicy: "no-referrer",
    });
    if (!response.ok) {
      showError("status", {
        status: response.status,
        retryAfter: response.headers.get("retry-after"),
        message: await errorMessage(response),
      });
      return;
    }
    const streamed = (response.headers.get("content-type") || "").includes("text/event-stream");
    const reply = streamed ? await readStream(response) : await response.json();
    if (!streamed) $("raw").textContent = JSON.stringify(reply, null, 2);
    finish(reply);
  } catch (err) {
    if (err.name === "AbortError") showError("stopped");
    else if (err instanceof TypeError && !state.streaming) showError("network");
    else showError("stream", { message: err.message });
  } finally {
    state.streaming = false;
    state.controller = null;
    $("send").disabled = false;
    $("stop").disabled = true;
    $("send-status").textContent = "";
  }
}

export async function readStream(response) {
  state.streaming = true;
  const assembler = new Assembler();
  const raw = [];
  const pending = el("li", { class: "turn assistant pending", "data-role": "assistant" },
    el("span", { class: "role", text: "assistant" }), el("div", { class: "text" }));
  renderChat(pending);
  for await (const data of events(response.body)) {
    raw.push(`data: ${data}`);
    if (data === "[DONE]") break;
    const chunk = JSON.parse(data);
    if (chunk.error) throw new Error(String(chunk.error.message ?? JSON.stringify(chunk.error)));
    assembler.add(chunk);
    pending.lastChild.textContent = assembler.choices[0]?.message.content ?? "";
    $("raw").textContent = raw.join("\n\n");
  }
  $("raw").textContent = raw.join("\n\n");
  return assembler.response();
}

export function finish(reply) {
  const choices = Array.isArray(reply?.choices) ? reply.choices : [];
  state.lastChoices = choices;
  const first = choices[0];
  if (first?.message) {
    const message = { role: "assistant", content: first.message.content ?? "" };
    if (first.message.tool_calls?.length) message.tool_calls = first.message.tool_calls;
    state.request.messages.push(message);
    if (state.conversation) state.conversation.stored = state.request.messages.length;
  }
  renderConversations();
  renderUsage(reply?.usage ?? null);
  changed();
  const finishNote = $("finish") ?? el("p", { id: "finish", class: "status" });
  finishNote.textContent = `${t("finish_reason")}: ${first?.finish_reason ?? ""}`;
  $("chat").after(finishNote);
  $("next-message").focus();
}
