// convo serve's stored conversations, as the page sees them: the list (GET /conversations,
// convo's own), a conversation's items (the Conversations API) turned back into chat
// messages, and the header that continues one (X-Convo-Conversation). Nothing here
// touches the page; conversation-list.js renders.

export const HEADER = "X-Convo-Conversation";

const OPTIONS = { credentials: "omit", referrerPolicy: "no-referrer" };

async function getJson(url, headers) {
  const response = await fetch(url, { headers, ...OPTIONS });
  if (!response.ok) throw Object.assign(new Error(String(response.status)), { status: response.status });
  return response.json();
}

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

// The whole history, page by page (the API gives at most 100 items a page).
export async function loadMessages(base, headers, id) {
  const items = [];
  let after = null;
  for (;;) {
    const query = new URLSearchParams({ order: "asc", limit: "100" });
    if (after) query.set("after", after);
    const page = await getJson(`${base}/conversations/${encodeURIComponent(id)}/items?${query}`, headers);
    items.push(...(page.data || []));
    if (!page.has_more || !page.last_id) break;
    after = page.last_id;
  }
  return toMessages(items);
}

// Items back to chat messages: an item's id is item_<n> (its message's position), and a
// message's tool calls are items item_<n>_<call_id> of the same position.
export function toMessages(items) {
  const messages = [];
  let position = null;
  for (const item of items) {
    const n = String(item.id ?? "").split("_")[1];
    if (item.type === "message") {
      const text = (item.content || []).map((part) => part.text ?? "").join("");
      messages.push({ role: item.role, content: text });
    } else if (item.type === "function_call") {
      let last = messages[messages.length - 1];
      if (!last || last.role !== "assistant" || position !== n) {
        last = { role: "assistant", content: "" };
        messages.push(last);
      }
      (last.tool_calls ||= []).push({
        id: item.call_id, type: "function", function: { name: item.name, arguments: item.arguments },
      });
    } else if (item.type === "function_call_output") {
      messages.push({ role: "tool", tool_call_id: item.call_id, content: item.output ?? "" });
    }
    position = n;
  }
  return messages;
}

// A new conversation's id (the server takes 1-48 of A-Za-z0-9_-); its first request,
// carrying every message so far, creates it.
export function newId() {
  const bytes = crypto.getRandomValues(new Uint8Array(12));
  return `pg_${Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("")}`;
}
