// The current request as code: the seed's OpenAI SDK form (with base_url) and cURL.
// The key is always the placeholder YOUR_API_KEY, never the stored key.

function pyString(s) {
  return JSON.stringify(s); // a JSON string is a valid Python string literal
}

export function python(value, indent = "") {
  const inner = indent + "    ";
  if (value === null) return "None";
  if (value === true) return "True";
  if (value === false) return "False";
  if (typeof value === "string") return pyString(value);
  if (typeof value === "number") return String(value);
  if (Array.isArray(value)) {
    if (!value.length) return "[]";
    return "[\n" + value.map((v) => inner + python(v, inner)).join(",\n") + "\n" + indent + "]";
  }
  const keys = Object.keys(value);
  if (!keys.length) return "{}";
  return "{\n" + keys.map((k) => `${inner}${pyString(k)}: ${python(value[k], inner)}`).join(",\n") +
    "\n" + indent + "}";
}

export function pythonSnippet(baseUrl, request) {
  const args = Object.entries(request)
    .map(([k, v]) => `    ${k}=${python(v, "    ")}`)
    .join(",\n");
  const tail = request.stream === true
    ? 'for chunk in response:\n    if chunk.choices:\n        print(chunk.choices[0].delta.content or "", end="")\nprint()'
    : "print(response.choices[0].message.content)";
  return `from openai import OpenAI

client = OpenAI(
    base_url=${pyString(baseUrl)},
    api_key="YOUR_API_KEY"
)

response = client.chat.completions.create(
${args}
)

${tail}
`;
}

function shellQuote(s) {
  return "'" + s.replace(/'/g, "'\\''") + "'";
}

export function curlSnippet(baseUrl, request) {
  const url = baseUrl.replace(/\/+$/, "") + "/chat/completions";
  const flag = request.stream === true ? " -N" : "";
  return `curl${flag} ${shellQuote(url)} \\
  -H "Content-Type: application/json" \\
  -H "Authorization: Bearer YOUR_API_KEY" \\
  -d ${shellQuote(JSON.stringify(request, null, 2))}
`;
}
