// The page's state: the request (the one source of truth), the chat's branches and stored
// conversation, and the target (base URL, key) as the form has it. The key lives only in this browser.
import { $ } from "./dom.js";

export const KEY = "convo.playground.key";
export const BASE = "convo.playground.base";
export const LANG = "convo.playground.language";
export const SEED_MODEL = "gpt-4";

export const state = {
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

export function storedKey() {
  return localStorage.getItem(KEY) || "";
}

export function baseUrl() {
  return $("base-url").value.trim().replace(/\/+$/, "");
}

export function authHeaders() {
  const key = $("api-key").value;
  return key ? { Authorization: `Bearer ${key}` } : {};
}
