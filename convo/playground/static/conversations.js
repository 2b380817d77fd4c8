// convo serve's stored conversations, as the page sees them: the list (GET /conversations,
// convo's own), a conversation's items (the Conversations API) turned back into chat
// messages, the header that continues one (X-Convo-Conversation), and forks and branches
// (convo's own POST .../fork and GET .../branches). Nothing here touches the page;
// conversation-list.js and branches.js render.

export const HEADER = "X-Convo-Conversation";

const OPTIONS = { credentials: "omit", referrerPolicy: "no-referrer" };

async function getJson(url, headers, init = {}) {
  const response = await fetch(url, { headers, ...init, ...OPTIONS });
  if (!response.ok) throw Object.assign(new Error(String(response.status)), { status: response.status });
  return response.json();
}

const path = (id) => `/conversations/${encodeURIComponent(id)}`;

export async function listConversations(base, headers, search) {
  const query = new URLSearchParams({ limit: "50" });
  if (search) query.set("search", search);
  return (await getJson(`${base}/conversations?${query}`, headers)).data || [];
}

export async function deleteConversation(base, headers, id) {
  const response = await fetch(`${base}/conversations/${encodeURIComponent(id)}`, {
    method: "DELETE", headers, ...OPTIONS,
  });
  if (!response.ok) throw Object.assign(new Error(String(response.status)), { status: response.status });
}

// The whole history, page by page (the API gives at most 100 items a page), as chat
// messages and, for each, the id of its first item.
export async function loadMessages(base, headers, id) {
  const items = [];
  let after = null;
  for (;;) {
    const query = new URLSearchParams({ order: "asc", limit: "100" });
    if (after) query.set("after", after);
    const page = await getJson(`${base}${path(id)}/items?${query}`, headers);
    items.push(...(page.data || []));
    if (!page.has_more || !page.last_id) break;
    after = page.last_id;
  }
  return toMessages(items);
}

// Items back to chat messages: an item's id is item_<key> (its message's key), and a
// message's tool calls are items item_<key>_<k> of the same message. `ids[i]` is the
// first item id of `messages[i]`, which names that message in a fork.
export function toMessages(items) {
  const messages = [];
  const ids = [];
  let position = null;
  for (const item of items) {
    const n = String(item.id ?? "").split("_")[1];
    if (item.type === "message") {
      const text = (item.content || []).map((part) => part.text ?? "").join("");
      messages.push({ role: item.role, content: text });
      ids.push(item.id);
    } else if (item.type === "function_call") {
      let last = messages[messages.length - 1];
      if (!last || last.role !== "assistant" || position !== n) {
        last = { role: "assistant", content: "" };
        messages.push(last);
        ids.push(item.id);
      }
      (last.tool_calls ||= []).push({
        id: item.call_id, type: "function", function: { name: item.name, arguments: item.arguments },
      });
    } else if (item.type === "function_call_output") {
      messages.push({ role: "tool", tool_call_id: item.call_id, content: item.output ?? "" });
      ids.push(item.id);
    }
    position = n;
  }
  return { messages, ids };
}

// A server-side fork holding the stored history before item `at` (an item id): shared
// with the original, and linked to it, so both show up in each other's branches.
export async function fork(base, headers, id, at) {
  return getJson(`${base}${path(id)}/fork`, { ...headers, "Content-Type": "application/json" }, {
    method: "POST", body: JSON.stringify({ at }),
  });
}

// The conversations that are this one's sibling branches: at each point where its
// history has siblings, theirs in the order they were written, as one list (this one
// included). Fewer than two: it has none.
export async function branchFamily(base, headers, id) {
  const family = [];
  for (const point of (await getJson(`${base}${path(id)}/branches`, headers)).data || []) {
    for (const other of point.conversations || []) if (!family.includes(other)) family.push(other);
  }
  return family.includes(id) ? family : [];
}

// A new conversation's id (the server takes 1-48 of A-Za-z0-9_-); its first request,
// carrying every message so far, creates it.
export function newId() {
  const bytes = crypto.getRandomValues(new Uint8Array(12));
  return `pg_${Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("")}`;
}
