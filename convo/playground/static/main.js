// The playground page: starts it and wires the controls. The request object (state.js) is
// the one source of truth: the form, the JSON editor, the chat and the code snippets are
// views of it (render.js). Model output is only ever put into the page as text
// (textContent), never as HTML.
import { pickLanguage, setLanguage, language, t } from "./i18n.js";
import * as stored from "./conversations.js";
import { $ } from "./dom.js";
import { KEY, BASE, LANG, state, storedKey } from "./state.js";
import { translate, buildForm, renderSnippets, changed, fromJson } from "./render.js";
import { renderConversations, refreshConversations } from "./conversation-list.js";
import { send } from "./send.js";
import { listModels, scheduleModels } from "./models.js";

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
