// Server-sent events from a fetch() body: yields each event's data, in order.
// Lines may arrive split across network chunks; an event ends at a blank line.

export async function* events(body) {
  const reader = body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  let data = [];
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += value;
    let end;
    while ((end = buffer.search(/\r\n|\r|\n/)) >= 0) {
      const line = buffer.slice(0, end);
      buffer = buffer.slice(end + (buffer.startsWith("\r\n", end) ? 2 : 1));
      if (line === "") {
        if (data.length) yield data.join("\n");
        data = [];
      } else if (line.startsWith("data:")) {
        data.push(line.slice(line.startsWith("data: ") ? 6 : 5));
      }
    }
  }
  if (data.length) yield data.join("\n");
}

// Folds Chat Completions chunks into choices: text, tool calls, finish_reason; and usage.
export class Assembler {
  constructor() {
    this.choices = [];
    this.usage = null;
    this.model = null;
    this.id = null;
  }

  add(chunk) {
    this.id = chunk.id ?? this.id;
    this.model = chunk.model ?? this.model;
    if (chunk.usage) this.usage = chunk.usage;
    for (const c of chunk.choices || []) {
      const i = c.index ?? 0;
      const choice = (this.choices[i] ??= {
        index: i, message: { role: "assistant", content: "" }, finish_reason: null,
      });
      const delta = c.delta || {};
      if (typeof delta.content === "string") choice.message.content += delta.content;
      for (const call of delta.tool_calls || []) {
        const calls = (choice.message.tool_calls ??= []);
        const k = call.index ?? calls.length;
        const into = (calls[k] ??= { id: "", type: "function", function: { name: "", arguments: "" } });
        if (call.id) into.id = call.id;
        if (call.function?.name) into.function.name += call.function.name;
        if (call.function?.arguments) into.function.arguments += call.function.arguments;
      }
      if (c.finish_reason) choice.finish_reason = c.finish_reason;
    }
  }

  response() {
    return {
      id: this.id, object: "chat.completion", model: this.model,
      choices: this.choices.filter(Boolean), usage: this.usage,
    };
  }
}
