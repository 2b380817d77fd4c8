// Checks a request against the Chat Completions request schema as the user types.
// Each problem names the field it is about ("temperature", "messages[1].role"), so the
// page can point at it. Messages are keys into i18n.js with their variables.

export const ROLES = ["system", "developer", "user", "assistant", "tool"];

// The seed's parameter table, in its order: name, type, range.
export const PARAMETERS = [
  { name: "model", type: "string", required: true },
  { name: "messages", type: "array", required: true },
  { name: "temperature", type: "number", min: 0, max: 2, placeholder: "1" },
  { name: "max_tokens", type: "integer", min: 1 },
  { name: "top_p", type: "number", min: 0, max: 1 },
  { name: "n", type: "integer", min: 1, placeholder: "1" },
  { name: "stream", type: "boolean" },
  { name: "stop", type: "stop" },
  { name: "presence_penalty", type: "number", min: -2, max: 2 },
  { name: "frequency_penalty", type: "number", min: -2, max: 2 },
  { name: "user", type: "string" },
];

// Parameters of the Chat Completions API beyond the seed's table, accepted as they are.
const OTHER = new Set([
  "max_completion_tokens", "seed", "tools", "tool_choice", "parallel_tool_calls",
  "response_format", "logprobs", "top_logprobs", "logit_bias", "stream_options",
  "metadata", "store", "reasoning_effort", "service_tier", "modalities", "prediction",
  "audio", "web_search_options", "functions", "function_call",
]);

function typeOk(value, type) {
  switch (type) {
    case "string": return typeof value === "string";
    case "number": return typeof value === "number" && Number.isFinite(value);
    case "integer": return Number.isInteger(value);
    case "boolean": return typeof value === "boolean";
    case "array": return Array.isArray(value);
    case "stop":
      return typeof value === "string" ||
        (Array.isArray(value) && value.every((s) => typeof s === "string"));
    default: return true;
  }
}

const TYPE_NAMES = {
  string: "string", number: "number", integer: "integer", boolean: "boolean",
  array: "array", stop: "string / array",
};

function checkMessage(message, i, problems) {
  const at = `messages[${i}]`;
  if (message === null || typeof message !== "object" || Array.isArray(message)) {
    problems.push({ path: at, key: "v.type", vars: { t: "object" } });
    return;
  }
  if (!ROLES.includes(message.role)) {
    problems.push({ path: `${at}.role`, key: "v.role" });
  }
  const content = message.content;
  const hasCalls = Array.isArray(message.tool_calls) && message.tool_calls.length > 0;
  if (content === undefined || content === null) {
    if (!(message.role === "assistant" && hasCalls)) {
      problems.push({ path: `${at}.content`, key: "v.required" });
    }
  } else if (typeof content !== "string" && !Array.isArray(content)) {
    problems.push({ path: `${at}.content`, key: "v.type", vars: { t: "string / array" } });
  }
  if (message.role === "tool" && (typeof message.tool_call_id !== "string" || !message.tool_call_id)) {
    problems.push({ path: `${at}.tool_call_id`, key: "v.tool_call_id" });
  }
}

export function validate(request) {
  const problems = [];
  if (request === null || typeof request !== "object" || Array.isArray(request)) {
    return [{ path: "", key: "v.object" }];
  }
  const known = new Set(PARAMETERS.map((p) => p.name));
  for (const name of Object.keys(request)) {
    if (!known.has(name) && !OTHER.has(name)) problems.push({ path: name, key: "v.unknown" });
  }
  for (const p of PARAMETERS) {
    const value = request[p.name];
    if (value === undefined || value === null) {
      if (p.required) problems.push({ path: p.name, key: "v.required" });
      continue;
    }
    if (!typeOk(value, p.type)) {
      problems.push({ path: p.name, key: "v.type", vars: { t: TYPE_NAMES[p.type] } });
      continue;
    }
    if (p.min !== undefined && p.max !== undefined && (value < p.min || value > p.max)) {
      problems.push({ path: p.name, key: "v.range", vars: { min: p.min, max: p.max } });
    } else if (p.min !== undefined && value < p.min) {
      problems.push({ path: p.name, key: "v.min", vars: { min: p.min } });
    }
  }
  if (typeof request.model === "string" && request.model.trim() === "") {
    problems.push({ path: "model", key: "v.empty" });
  }
  if (Array.isArray(request.messages)) {
    if (request.messages.length === 0) problems.push({ path: "messages", key: "v.empty" });
    request.messages.forEach((m, i) => checkMessage(m, i, problems));
  }
  return problems;
}
