// Recognises chat messages in a span's input, output and attributes, so the span panel can show
// a conversation instead of raw JSON. Understood shapes:
//  - OpenAI-style arrays [{role, content}] (content a string or [{type:"text", text}]), with
//    tool_calls; request bodies {messages:[…]} and responses {choices:[{message}]}
//  - Anthropic content blocks (text, tool_use, tool_result) and a `system` field
//  - OTel GenAI `gen_ai.input.messages` / `gen_ai.output.messages` ([{role, parts:[…]}]) and
//    `gen_ai.system_instructions`
//  - OpenInference flattened attributes `llm.input_messages.N.message.role|content|contents…`
//  - LangChain messages ({type:"human"|"ai"|…, content} and serialized {lc, kwargs})
// Values may arrive as JSON text; they are parsed first.

export interface ToolCall {
  id?: string;
  name: string;
  arguments: string;
}

export interface ChatMessage {
  role: string;
  content: string;
  name?: string;
  toolCalls?: ToolCall[];
}

type Json = unknown;

const ROLES = new Set(["system", "user", "assistant", "tool", "function", "developer", "model", "human", "ai"]);
const LANGCHAIN_ROLE: Record<string, string> = {
  human: "user",
  ai: "assistant",
  system: "system",
  tool: "tool",
  function: "function",
  chat: "user",
  HumanMessage: "user",
  AIMessage: "assistant",
  SystemMessage: "system",
  ToolMessage: "tool",
  AIMessageChunk: "assistant",
};

function parseMaybeJson(value: Json): Json {
  if (typeof value === "string") {
    const t = value.trim();
    if ((t.startsWith("[") && t.endsWith("]")) || (t.startsWith("{") && t.endsWith("}"))) {
      try {
        return JSON.parse(t);
      } catch {
        return value;
      }
    }
  }
  return value;
}

function isObject(value: Json): value is Record<string, Json> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function stringify(value: Json): string {
  if (value === null || value === undefined) return "";
  if (typeof value === "string") return value;
  return JSON.stringify(value, null, 2);
}

/** The text of a message's content: a string, or parts / content blocks. */
function contentText(content: Json, toolCalls: ToolCall[]): string {
  content = parseMaybeJson(content);
  if (content === null || content === undefined) return "";
  if (typeof content === "string") return content;
  if (Array.isArray(content)) {
    const pieces: string[] = [];
    for (const part of content) {
      if (typeof part === "string") pieces.push(part);
      else if (isObject(part)) {
        const type = part.type;
        if (type === "tool_use" || type === "tool_call") {
          toolCalls.push({
            id: part.id as string | undefined,
            name: String(part.name ?? "tool"),
            arguments: stringify(part.input ?? part.arguments),
          });
        } else if (type === "tool_result" || type === "tool_call_response") {
          pieces.push(stringify(part.content ?? part.response ?? part.result));
        } else if (typeof part.text === "string") pieces.push(part.text);
        else if (typeof part.content === "string") pieces.push(part.content);
        else if (isObject(part.message_content) && typeof part.message_content.text === "string")
          pieces.push(part.message_content.text);
        else if (type === "image_url" || type === "image") pieces.push("[image]");
        else pieces.push(stringify(part));
      }
    }
    return pieces.join("\n");
  }
  return stringify(content);
}

function openAiToolCalls(value: Json): ToolCall[] {
  if (!Array.isArray(value)) return [];
  return value.filter(isObject).map((raw) => {
    // OpenInference reassembled by the collector: {tool_call: {id, function: {name, arguments}}}.
    const call = isObject(raw.tool_call) ? raw.tool_call : raw;
    const fn = isObject(call.function) ? call.function : call;
    return {
      id: call.id as string | undefined,
      name: String(fn.name ?? "tool"),
      arguments: stringify(parseMaybeJson(fn.arguments ?? fn.input)),
    };
  });
}

/** One message object in any of the shapes above, or null. */
function toMessage(value: Json): ChatMessage | null {
  // LangChain tuples: ["user", "text"].
  if (Array.isArray(value) && value.length === 2 && typeof value[0] === "string" && ROLES.has(value[0])) {
    const role = LANGCHAIN_ROLE[value[0]] ?? value[0];
    return { role: role === "model" ? "assistant" : role, content: contentText(value[1], []) };
  }
  if (!isObject(value)) return null;
  // LangChain serialized: {lc:1, type:"constructor", id:[…,"HumanMessage"], kwargs:{content, …}}
  if (value.lc !== undefined && isObject(value.kwargs)) {
    const cls = Array.isArray(value.id) ? String(value.id[value.id.length - 1]) : "";
    const kwargs = value.kwargs;
    const role = LANGCHAIN_ROLE[cls] ?? LANGCHAIN_ROLE[String(kwargs.type)] ?? "user";
    const toolCalls = openAiToolCalls(kwargs.tool_calls);
    return finish({ role, content: contentText(kwargs.content, toolCalls), name: kwargs.name as string | undefined, toolCalls });
  }
  let role: string | undefined = typeof value.role === "string" ? value.role : undefined;
  if (!role && typeof value.type === "string" && LANGCHAIN_ROLE[value.type]) role = LANGCHAIN_ROLE[value.type];
  if (!role || !(ROLES.has(role) || /^[a-z_]{2,20}$/.test(role))) return null;
  if (!("content" in value) && !("parts" in value) && !("tool_calls" in value) && !("contents" in value)) return null;
  if (role === "human") role = "user";
  if (role === "ai" || role === "model") role = "assistant";
  const toolCalls = openAiToolCalls(value.tool_calls);
  const content = "parts" in value ? contentText(value.parts, toolCalls) : "contents" in value ? contentText(value.contents, toolCalls) : contentText(value.content, toolCalls);
  return finish({ role, content, name: typeof value.name === "string" ? value.name : undefined, toolCalls });
}

function finish(message: ChatMessage): ChatMessage {
  if (!message.toolCalls?.length) delete message.toolCalls;
  if (!message.name) delete message.name;
  return message;
}

function toMessages(value: Json): ChatMessage[] | null {
  if (!Array.isArray(value) || value.length === 0) return null;
  // LangGraph under OpenInference nests a batch: [[msg, msg]] (but ["user", "hi"] is one tuple).
  if (value.length === 1 && Array.isArray(value[0]) && !(value[0].length === 2 && typeof value[0][0] === "string")) return toMessages(value[0]);
  const out: ChatMessage[] = [];
  for (const item of value) {
    const message = toMessage(parseMaybeJson(item));
    if (!message) return null;
    out.push(message);
  }
  return out;
}

/** Chat messages in a JSON value (a span's input or output), or null if it is something else. */
export function detectMessages(raw: Json): ChatMessage[] | null {
  const value = parseMaybeJson(raw);
  const direct = toMessages(value);
  if (direct) return direct;
  if (isObject(value)) {
    const single = toMessage(value);
    if (single) return [single];
    if (Array.isArray(value.messages) || typeof value.messages === "string") {
      const messages = toMessages(parseMaybeJson(value.messages));
      if (messages) {
        const system = value.system;
        if (typeof system === "string" && system) return [{ role: "system", content: system }, ...messages];
        if (Array.isArray(system)) return [{ role: "system", content: contentText(system, []) }, ...messages];
        return messages;
      }
    }
    if (Array.isArray(value.choices)) {
      const messages = value.choices
        .filter(isObject)
        .map((choice) => toMessage(choice.message ?? choice.delta))
        .filter((m): m is ChatMessage => m !== null);
      if (messages.length) return messages;
    }
    // Anthropic response: {role:"assistant", content:[blocks]} is handled by toMessage; a bare
    // {content:[blocks], type:"message"} is not.
    if (value.type === "message" && Array.isArray(value.content)) {
      const toolCalls: ToolCall[] = [];
      return [finish({ role: String(value.role ?? "assistant"), content: contentText(value.content, toolCalls), toolCalls })];
    }
  }
  return null;
}

/** OpenInference flattened messages: `prefix.N.message.role` / `.content` / `.contents.M…`. */
export function flattenedMessages(attributes: Record<string, Json>, prefix: string): ChatMessage[] | null {
  const rows = new Map<number, Record<string, Json>>();
  const head = `${prefix}.`;
  for (const [key, value] of Object.entries(attributes)) {
    if (!key.startsWith(head)) continue;
    const rest = key.slice(head.length);
    const m = /^(\d+)\.message\.(.+)$/.exec(rest);
    if (!m) continue;
    const row = rows.get(Number(m[1])) ?? {};
    row[m[2]] = value;
    rows.set(Number(m[1]), row);
  }
  if (!rows.size) return null;
  const out: ChatMessage[] = [];
  for (const index of [...rows.keys()].sort((a, b) => a - b)) {
    const row = rows.get(index)!;
    const toolCalls: ToolCall[] = [];
    const calls = new Map<number, Record<string, Json>>();
    const contents = new Map<number, string>();
    for (const [k, v] of Object.entries(row)) {
      const call = /^tool_calls\.(\d+)\.tool_call\.(.+)$/.exec(k);
      if (call) {
        const c = calls.get(Number(call[1])) ?? {};
        c[call[2]] = v;
        calls.set(Number(call[1]), c);
      }
      const part = /^contents\.(\d+)\.message_content\.text$/.exec(k);
      if (part) contents.set(Number(part[1]), String(v));
    }
    for (const i of [...calls.keys()].sort((a, b) => a - b)) {
      const c = calls.get(i)!;
      toolCalls.push({
        id: c.id as string | undefined,
        name: String(c["function.name"] ?? "tool"),
        arguments: stringify(parseMaybeJson(c["function.arguments"])),
      });
    }
    const content =
      row.content !== undefined
        ? contentText(row.content, toolCalls)
        : [...contents.keys()].sort((a, b) => a - b).map((i) => contents.get(i)).join("\n");
    out.push(finish({ role: String(row.role ?? "user"), content, name: row.name as string | undefined, toolCalls }));
  }
  return out;
}

export interface Conversation {
  input: ChatMessage[] | null;
  output: ChatMessage[] | null;
}

/** The conversation of a span: attributes (OTel GenAI, OpenInference) first, then input/output. */
export function spanConversation(span: { input?: Json; output?: Json; attributes?: Record<string, Json> }): Conversation {
  const attrs = span.attributes ?? {};
  let input: ChatMessage[] | null =
    detectMessages(attrs["gen_ai.input.messages"]) ?? flattenedMessages(attrs, "llm.input_messages") ?? detectMessages(span.input);
  let output: ChatMessage[] | null =
    detectMessages(attrs["gen_ai.output.messages"]) ?? flattenedMessages(attrs, "llm.output_messages") ?? detectMessages(span.output);
  const system = attrs["gen_ai.system_instructions"];
  if (input && system !== undefined) {
    input = [{ role: "system", content: contentText(parseMaybeJson(system), []) }, ...input];
  }
  // A chat whose answer was captured as plain text: show it as the assistant's turn.
  if (input && !output && typeof span.output === "string" && span.output) {
    output = [{ role: "assistant", content: span.output }];
  }
  return { input, output };
}

/** Whether a text is long enough to start collapsed. */
export function isLongText(text: string, maxChars = 600, maxLines = 12): boolean {
  if (text.length > maxChars) return true;
  let lines = 1;
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) === 10 && ++lines > maxLines) return true;
  return false;
}
