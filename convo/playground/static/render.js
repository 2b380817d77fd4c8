// The views of the request: the parameter form, the message list, the JSON editor with its
// problems, the chat, the snippets and the usage meter, and `changed`, which re-renders them.
// Model output is only ever put into the page as text (textContent), never as HTML.
import { language, t } from "./i18n.js";
import { PARAMETERS, ROLES, validate } from "./schema.js";
import { pythonSnippet, curlSnippet } from "./snippets.js";
import { $, el } from "./dom.js";
import { state, baseUrl } from "./state.js";
import { renderConversations } from "./conversation-list.js";
import { renderBranches, editFrom } from "./branches.js";
import { showError } from "./errors.js";

export function translate() {
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

export function renderRoles() {
  const select = $("new-role");
  const value = select.value || "user";
  select.replaceChildren(...ROLES.map((r) => el("option", { value: r, text: t(`role.${r}`) })));
  select.value = value;
}

export function buildForm() {
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

export function fromForm(p, input) {
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

export function renderForm() {
  for (const p of PARAMETERS) {
    const input = $(`param-${p.name}`);
    if (!input) continue;
    const value = state.request[p.name];
    if (p.type === "boolean") input.checked = value === true;
    else if (p.type === "stop" && Array.isArray(value)) input.value = JSON.stringify(value);
    else input.value = value === undefined || value === null ? "" : String(value);
  }
}

export function renderMessages() {
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

export function renderJson() {
  $("request").value = JSON.stringify(state.request, null, 2);
}

export function renderProblems() {
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

export function renderSnippets() {
  const base = baseUrl() || "YOUR_BASE_URL";
  $("code-python").textContent = pythonSnippet(base, state.request);
  $("code-curl").textContent = curlSnippet(base, state.request);
}

export function renderChat(pending) {
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

export function toolCall(call) {
  return el("div", { class: "tool-call" },
    el("span", { class: "label", text: `${t("tool_calls")}: ${call.function?.name ?? ""}` }),
    el("pre", { text: call.function?.arguments ?? "" }));
}

export function choiceView(choice) {
  const view = el("div", { class: "choice", "data-choice": String(choice.index) },
    el("span", { class: "role", text: `${t("choice")} ${choice.index}` }),
    el("div", { class: "text", text: choice.message?.content ?? "" }));
  for (const call of choice.message?.tool_calls || []) view.append(toolCall(call));
  view.append(el("span", { class: "finish", text: `${t("finish_reason")}: ${choice.finish_reason ?? ""}` }));
  return view;
}

export function renderUsage(usage) {
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
export function renderMeter(usage) {
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

// -- changes --

export function changed({ form = true, json = true, messages = true } = {}) {
  state.problems = validate(state.request);
  if (form) renderForm();
  if (json) renderJson();
  if (messages) renderMessages();
  renderProblems();
  renderSnippets();
  renderChat();
}

export function fromJson() {
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
