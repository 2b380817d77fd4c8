// The playground page. The request object is the one source of truth: the form, the
// JSON editor, the chat and the code snippets are views of it. Model output is only
// ever put into the page as text (textContent), never as HTML.
import { pickLanguage, setLanguage, language, t } from "./i18n.js";
import { PARAMETERS, ROLES, validate } from "./schema.js";
import { events, Assembler } from "./sse.js";
import { pythonSnippet, curlSnippet } from "./snippets.js";
import * as stored from "./conversations.js";

const KEY = "convo.playground.key";
const BASE = "convo.playground.base";
const LANG = "convo.playground.language";
const SEED_MODEL = "gpt-4";

const $ = (id) => document.getElementById(id);
const el = (tag, props = {}, ...children) => {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (k === "text") node.textContent = v;
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v);
  }
  node.append(...children);
  return node;
};

const state = {
  request: {
    model: SEED_MODEL,
    messages: [
      { role: "system", content: "You are a helpful assistant." },
      { role: "user", content: "Hello!" },
    ],
    temperature: 0.7,
    max_tokens: 150,
  },
  problems: [],
  lastChoices: null, // the choices of the last reply, shown in full when n > 1
  branches: [], // message lists: each edit of an earlier user message starts one
  branch: 0,
  bindings: [], // per branch: the stored conversation it continues ({id, stored}) or null
  conversation: null, // this branch's: {id, stored: how many of the messages the server has}
  conversations: [], // the last list from the server
  windows: {}, // model -> context_window, as convo serve's /models says
  controller: null,
  lastError: null,
};

// -- storage: the key lives only in this browser --

function storedKey() {
  return localStorage.getItem(KEY) || "";
}

function baseUrl() {
  return $("base-url").value.trim().replace(/\/+$/, "");
}

function authHeaders() {
  const key = $("api-key").value;
  return key ? { Authorization: `Bearer ${key}` } : {};
}

// -- rendering --

function translate() {
  document.documentElement.lang = language() === "zh" ? "zh-CN" : "en";
  for (const node of document.querySelectorAll("[data-i18n]")) node.textContent = t(node.dataset.i18n);
  for (const node of document.querySelectorAll("[data-i18n-label]")) {
    node.setAttribute("aria-label", t(node.dataset.i18nLabel));
  }
  document.title = t("title");
  $("language").textContent = language() === "zh" ? "English" : "中文";
  for (const p of PARAMETERS) {
    const desc = $(`desc-${p.name}`);
    if (desc) desc.textContent = t(`desc.${p.name}`);
  }
  renderRoles();
  renderMessages();
  renderProblems();
  renderChat();
  renderUsage(state.lastUsage);
  renderConversations();
  if (state.lastError) showError(...state.lastError);
}

function renderRoles() {
  const select = $("new-role");
  const value = select.value || "user";
  select.replaceChildren(...ROLES.map((r) => el("option", { value: r, text: t(`role.${r}`) })));
  select.value = value;
}

function buildForm() {
  const box = $("params");
  for (const p of PARAMETERS) {
    if (p.name === "messages") continue;
    const id = `param-${p.name}`;
    let input;
    if (p.type === "boolean") {
      input = el("input", { id, type: "checkbox" });
    } else if (p.type === "number" || p.type === "integer") {
      input = el("input", { id, type: "number", step: p.type === "integer" ? "1" : "any" });
      if (p.min !== undefined) input.min = p.min;
      if (p.max !== undefined) input.max = p.max;
    } else {
      input = el("input", { id, type: "text", spellcheck: "false" });
      if (p.name === "model") input.setAttribute("list", "models");
    }
    if (p.placeholder) input.placeholder = p.placeholder;
    input.setAttribute("aria-describedby", `desc-${p.name}`);
    input.addEventListener("input", () => fromForm(p, input));
    box.append(el("div", { class: "param" },
      el("label", { for: id, text: p.name }),
      input,
      el("small", { id: `desc-${p.name}` })));
  }
  box.append(el("datalist", { id: "models" }));
}

function fromForm(p, input) {
  let value;
  if (p.type === "boolean") value = input.checked ? true : undefined;
  else if (p.type === "number" || p.type === "integer") value = input.value === "" ? undefined : Number(input.value);
  else if (p.type === "stop") {
    value = input.value === "" ? undefined : input.value;
    if (value && value.trim().startsWith("[")) {
      try { value = JSON.parse(value); } catch { /* kept as the string typed */ }
    }
  } else value = input.value === "" ? undefined : input.value;
  if (value === undefined) delete state.request[p.name];
  else state.request[p.name] = value;
  changed({ form: false });
}

function renderForm() {
  for (const p of PARAMETERS) {
    const input = $(`param-${p.name}`);
    if (!input) continue;
    const value = state.request[p.name];
    if (p.type === "boolean") input.checked = value === true;
    else if (p.type === "stop" && Array.isArray(value)) input.value = JSON.stringify(value);
    else input.value = value === undefined || value === null ? "" : String(value);
  }
}

function renderMessages() {
  const list = $("messages");
  const messages = Array.isArray(state.request.messages) ? state.request.messages : [];
  list.replaceChildren(...messages.map((m, i) => {
    const role = el("select", { "aria-label": `${t("role")} ${i + 1}` },
      ...ROLES.map((r) => el("option", { value: r, text: r })));
    role.value = ROLES.includes(m?.role) ? m.role : "user";
    role.addEventListener("change", () => { m.role = role.value; changed({ messages: false }); renderMessages(); });
    const content = el("textarea", { rows: "2", "aria-label": `${t("content")} ${i + 1}` });
    content.value = typeof m?.content === "string" ? m.content : JSON.stringify(m?.content ?? "");
    content.addEventListener("input", () => { m.content = content.value; changed({ messages: false }); });
    const item = el("li", { class: "message", "data-index": String(i) }, role, content);
    if (m?.role === "tool") {
      const callId = el("input", { type: "text", "aria-label": `tool_call_id ${i + 1}`, placeholder: "tool_call_id" });
      callId.value = m.tool_call_id || "";
      callId.addEventListener("input", () => { m.tool_call_id = callId.value; changed({ messages: false }); });
      item.append(callId);
    }
    item.append(el("button", {
      type: "button", text: t("remove"), "aria-label": `${t("remove")} ${i + 1}`,
      onclick: () => { messages.splice(i, 1); changed(); },
    }));
    return item;
  }));
}

function renderJson() {
  $("request").value = JSON.stringify(state.request, null, 2);
}

function renderProblems() {
  const list = $("request-problems");
  const fields = new Set(state.problems.map((p) => p.path.split(/[.[]/)[0]));
  for (const p of PARAMETERS) $(`param-${p.name}`)?.setAttribute("aria-invalid", String(fields.has(p.name)));
  $("request").setAttribute("aria-invalid", String(state.problems.length > 0));
  if (!state.problems.length) {
    list.replaceChildren(el("li", { class: "ok", text: t("valid") }));
    return;
  }
  list.replaceChildren(...state.problems.map((p) => el("li", {
    "data-path": p.path,
    text: p.key === "v.json" || p.key === "v.object" ? t(p.key, p.vars) : `${p.path}: ${t(p.key, p.vars)}`,
  })));
}

function renderSnippets() {
  const base = baseUrl() || "YOUR_BASE_URL";
  $("code-python").textContent = pythonSnippet(base, state.request);
  $("code-curl").textContent = curlSnippet(base, state.request);
}

function renderChat(pending) {
  const messages = Array.isArray(state.request.messages) ? state.request.messages : [];
  const items = messages.map((m, i) => {
    const item = el("li", { class: `turn ${m?.role}`, "data-role": String(m?.role) },
      el("span", { class: "role", text: String(m?.role) }),
      el("div", { class: "text", text: typeof m?.content === "string" ? m.content : JSON.stringify(m?.content ?? "") }));
    for (const call of m?.tool_calls || []) item.append(toolCall(call));
    if (m?.role === "user") {
      item.append(el("button", { type: "button", text: t("edit"), "aria-label": t("edit"), onclick: () => editFrom(i) }));
    }
    return item;
  });
  if (state.lastChoices && state.lastChoices.length > 1) {
    items.push(el("li", { class: "choices" }, ...state.lastChoices.map((c) => choiceView(c))));
  }
  if (pending) items.push(pending);
  $("chat").replaceChildren(...items);
  renderBranches();
}

function toolCall(call) {
  return el("div", { class: "tool-call" },
    el("span", { class: "label", text: `${t("tool_calls")}: ${call.function?.name ?? ""}` }),
    el("pre", { text: call.function?.arguments ?? "" }));
}

function choiceView(choice) {
  const view = el("div", { class: "choice", "data-choice": String(choice.index) },
    el("span", { class: "role", text: `${t("choice")} ${choice.index}` }),
    el("div", { class: "text", text: choice.message?.content ?? "" }));
  for (const call of choice.message?.tool_calls || []) view.append(toolCall(call));
  view.append(el("span", { class: "finish", text: `${t("finish_reason")}: ${choice.finish_reason ?? ""}` }));
  return view;
}

function renderUsage(usage) {
  state.lastUsage = usage;
  renderMeter(usage);
  const box = $("usage-values");
  if (usage === undefined) { box.replaceChildren(); return; }
  if (!usage) { box.replaceChildren(el("p", { text: t("no_usage") })); return; }
  box.replaceChildren(...["prompt_tokens", "completion_tokens", "total_tokens"].flatMap((k) => [
    el("dt", { text: k }), el("dd", { "data-usage": k, text: String(usage[k] ?? "") }),
  ]));
}

// The conversation after the reply (the prompt the server sent, with its window fitting,
// and the reply) against the model's window; the window only when the target says it.
function renderMeter(usage) {
  const box = $("meter");
  const used = (usage?.prompt_tokens ?? 0) + (usage?.completion_tokens ?? 0);
  if (!usage || !used) { box.replaceChildren(); return; }
  const window = state.windows[state.request.model];
  const label = window
    ? t("meter", { used, window, pct: Math.round((used / window) * 100) })
    : t("meter_no_window", { used });
  const meter = el("meter", { min: "0", max: String(window || used), value: String(used), "aria-label": t("token_meter") });
  box.replaceChildren(meter, el("span", { "data-meter": "", text: label }));
}

// -- stored conversations (when the target is convo serve) --

function renderConversations() {
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

async function refreshConversations() {
  try {
    state.conversations = await stored.listConversations(baseUrl(), authHeaders(), $("conversation-search").value.trim());
    $("conversations-status").textContent = t("conversations_loaded", { n: state.conversations.length });
  } catch (err) {
    state.conversations = [];
    $("conversations-status").textContent = t("conversations_failed", { status: err.status ?? "" });
  }
  renderConversations();
}

async function openConversation(id) {
  clearError();
  try {
    const messages = await stored.loadMessages(baseUrl(), authHeaders(), id);
    state.request.messages = messages;
    state.conversation = { id, stored: messages.length };
    state.branches = [];
    state.bindings = [];
    state.branch = 0;
    state.lastChoices = null;
    renderUsage(undefined);
    changed();
    $("next-message").focus();
  } catch (err) {
    $("conversations-status").textContent = t("conversations_failed", { status: err.status ?? "" });
  }
  renderConversations();
}

async function removeConversation(id) {
  try {
    await stored.deleteConversation(baseUrl(), authHeaders(), id);
    if (state.conversation?.id === id) state.conversation = null;
  } catch (err) {
    $("conversations-status").textContent = t("conversations_failed", { status: err.status ?? "" });
  }
  await refreshConversations();
}

function renderBranches() {
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

// -- branches: editing an earlier user message forks the conversation here --

function editFrom(index) {
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

function switchBranch(step) {
  state.branches[state.branch] = state.request.messages;
  state.bindings[state.branch] = state.conversation;
  state.branch = Math.min(Math.max(state.branch + step, 0), state.branches.length - 1);
  state.request.messages = state.branches[state.branch];
  state.conversation = state.bindings[state.branch] ?? null;
  renderConversations();
  state.lastChoices = null;
  changed();
}

// -- changes --

function changed({ form = true, json = true, messages = true } = {}) {
  state.problems = validate(state.request);
  if (form) renderForm();
  if (json) renderJson();
  if (messages) renderMessages();
  renderProblems();
  renderSnippets();
  renderChat();
}

function fromJson() {
  let parsed;
  try {
    parsed = JSON.parse($("request").value);
  } catch (err) {
    state.problems = [{ path: "", key: "v.json", vars: { m: err.message } }];
    renderProblems();
    return;
  }
  if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) {
    state.problems = [{ path: "", key: "v.object" }];
    renderProblems();
    return;
  }
  state.request = parsed;
  changed({ json: false });
}

// -- errors --

function clearError() {
  state.lastError = null;
  $("error").hidden = true;
  $("error").replaceChildren();
}

function showError(kind, detail = {}) {
  state.lastError = [kind, detail];
  const box = $("error");
  const lines = [];
  if (kind === "status") {
    const known = [401, 429, 500, 503].includes(detail.status);
    lines.push(known ? t(`error.${detail.status}`) : t("error.other", { status: detail.status }));
    if (detail.status === 429 && detail.retryAfter) lines.push(t("error.retry_after", { s: detail.retryAfter }));
    if (detail.message) lines.push(detail.message);
  } else if (kind === "network") lines.push(t("error.network"));
  else if (kind === "invalid") lines.push(t("error.invalid", { n: state.problems.length }));
  else if (kind === "stream") lines.push(t("error.stream", { m: detail.message }));
  else if (kind === "stopped") lines.push(t("stopped"));
  box.dataset.kind = kind;
  if (detail.status) box.dataset.status = String(detail.status);
  box.replaceChildren(...lines.map((line) => el("p", { text: line })));
  box.hidden = false;
}

async function errorMessage(response) {
  const text = await response.text();
  try {
    const body = JSON.parse(text);
    return String(body?.error?.message ?? body?.detail ?? body?.message ?? text);
  } catch {
    return text.slice(0, 500);
  }
}

// -- sending --

async function send() {
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

async function readStream(response) {
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

function finish(reply) {
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

// -- models --

let modelsTimer;
async function listModels() {
  const url = `${baseUrl()}/models`;
  try {
    const response = await fetch(url, { headers: authHeaders(), credentials: "omit", referrerPolicy: "no-referrer" });
    if (!response.ok) throw new Error(String(response.status));
    const data = (await response.json()).data || [];
    const ids = data.map((m) => String(m.id));
    state.windows = Object.fromEntries(data.filter((m) => Number.isInteger(m.context_window)).map((m) => [String(m.id), m.context_window]));
    $("models").replaceChildren(...ids.map((id) => el("option", { value: id })));
    $("models-status").textContent = t("models_loaded", { n: ids.length });
    if (ids.length && (state.request.model === SEED_MODEL || !state.request.model)) {
      state.request.model = ids[0];
      changed();
    }
  } catch {
    $("models-status").textContent = t("models_failed", { url });
  }
}

function scheduleModels() {
  clearTimeout(modelsTimer);
  modelsTimer = setTimeout(listModels, 300);
}

// -- tabs --

function selectTab(name) {
  for (const other of ["python", "curl"]) {
    const tab = $(`tab-${other}`);
    tab.setAttribute("aria-selected", String(other === name));
    tab.tabIndex = other === name ? 0 : -1;
    $(`panel-${other}`).hidden = other !== name;
  }
}

// -- start --

async function start() {
  setLanguage(pickLanguage(localStorage.getItem(LANG), navigator.languages));
  buildForm();
  let config = {};
  try { config = await (await fetch("config.json", { credentials: "omit" })).json(); } catch { /* defaults */ }
  const fallback = new URL("/v1", location.href).href;
  $("base-url").value = localStorage.getItem(BASE) || config.default_base_url || fallback;
  $("api-key").value = storedKey();
  translate();
  changed();
  $("base-url").addEventListener("input", () => {
    localStorage.setItem(BASE, $("base-url").value.trim());
    renderSnippets();
    scheduleModels();
  });
  $("api-key").addEventListener("input", () => {
    if ($("api-key").value) localStorage.setItem(KEY, $("api-key").value);
    else localStorage.removeItem(KEY);
    scheduleModels();
  });
  $("forget-key").addEventListener("click", () => {
    localStorage.removeItem(KEY);
    $("api-key").value = "";
    $("models-status").textContent = t("key_forgotten");
  });
  $("language").addEventListener("click", () => {
    setLanguage(language() === "zh" ? "en" : "zh");
    localStorage.setItem(LANG, language());
    translate();
  });
  $("request").addEventListener("input", fromJson);
  $("add-message").addEventListener("click", () => {
    if (!Array.isArray(state.request.messages)) state.request.messages = [];
    const role = $("new-role").value;
    state.request.messages.push(role === "tool" ? { role, content: "", tool_call_id: "" } : { role, content: "" });
    changed();
  });
  $("send").addEventListener("click", send);
  $("refresh-conversations").addEventListener("click", refreshConversations);
  $("conversation-search").addEventListener("keydown", (event) => { if (event.key === "Enter") refreshConversations(); });
  $("store-conversation").addEventListener("click", () => {
    state.conversation = { id: stored.newId(), stored: 0 };
    renderConversations();
  });
  $("leave-conversation").addEventListener("click", () => {
    state.conversation = null;
    renderConversations();
  });
  $("next-message").addEventListener("keydown", (event) => {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) send();
  });
  $("stop").addEventListener("click", () => state.controller?.abort());
  $("tab-python").addEventListener("click", () => selectTab("python"));
  $("tab-curl").addEventListener("click", () => selectTab("curl"));
  for (const tab of document.querySelectorAll("[role=tab]")) {
    tab.addEventListener("keydown", (event) => {
      if (event.key !== "ArrowRight" && event.key !== "ArrowLeft") return;
      const name = tab.id === "tab-python" ? "curl" : "python";
      selectTab(name);
      $(`tab-${name}`).focus();
    });
  }
  $("copy").addEventListener("click", async () => {
    const visible = $("panel-python").hidden ? "code-curl" : "code-python";
    try {
      await navigator.clipboard.writeText($(visible).textContent);
      $("copy-status").textContent = t("copied");
    } catch {
      getSelection().selectAllChildren($(visible));
    }
  });
  document.body.dataset.ready = "true";
  listModels();
}

start();
