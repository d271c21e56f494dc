import { describe, expect, it } from "vitest";
import { detectMessages, flattenedMessages, isLongText, spanConversation } from "./messages";

describe("chat message detection", () => {
  it("recognises OpenAI-style arrays, with parts and tool calls", () => {
    const messages = detectMessages([
      { role: "system", content: "Be brief." },
      { role: "user", content: [{ type: "text", text: "Weather?" }] },
      { role: "assistant", content: null, tool_calls: [{ id: "c1", type: "function", function: { name: "weather", arguments: '{"city":"Lisbon"}' } }] },
      { role: "tool", content: "rain", tool_call_id: "c1" },
    ]);
    expect(messages?.map((m) => m.role)).toEqual(["system", "user", "assistant", "tool"]);
    expect(messages?.[1].content).toBe("Weather?");
    expect(messages?.[2].toolCalls).toEqual([{ id: "c1", name: "weather", arguments: '{\n  "city": "Lisbon"\n}' }]);
  });

  it("recognises request bodies, responses and JSON text", () => {
    expect(detectMessages({ model: "gpt-4o", messages: [{ role: "user", content: "hi" }] })).toEqual([{ role: "user", content: "hi" }]);
    expect(detectMessages({ choices: [{ message: { role: "assistant", content: "hello" } }] })).toEqual([{ role: "assistant", content: "hello" }]);
    expect(detectMessages('[{"role":"user","content":"as text"}]')).toEqual([{ role: "user", content: "as text" }]);
  });

  it("recognises Anthropic blocks and system", () => {
    const m = detectMessages({
      system: "You are terse.",
      messages: [{ role: "user", content: [{ type: "text", text: "q" }] }, { role: "assistant", content: [{ type: "tool_use", id: "t", name: "search", input: { q: "x" } }] }],
    });
    expect(m?.[0]).toEqual({ role: "system", content: "You are terse." });
    expect(m?.[2].toolCalls?.[0].name).toBe("search");
  });

  it("recognises OTel GenAI parts messages", () => {
    const m = detectMessages(
      JSON.stringify([
        { role: "user", parts: [{ type: "text", content: "Weather in Paris?" }] },
        { role: "assistant", parts: [{ type: "tool_call", id: "call_1", name: "get_weather", arguments: { location: "Paris" } }] },
        { role: "tool", parts: [{ type: "tool_call_response", id: "call_1", response: "rainy, 57°F" }] },
      ]),
    );
    expect(m?.map((x) => x.content)).toEqual(["Weather in Paris?", "", "rainy, 57°F"]);
    expect(m?.[1].toolCalls?.[0]).toMatchObject({ name: "get_weather", id: "call_1" });
  });

  it("recognises LangChain messages, serialized and plain, nested in a batch", () => {
    const m = detectMessages({
      messages: [[
        { lc: 1, type: "constructor", id: ["langchain", "schema", "messages", "HumanMessage"], kwargs: { content: "hi", type: "human" } },
        { type: "ai", content: "hello" },
      ]],
    });
    expect(m).toEqual([{ role: "user", content: "hi" }, { role: "assistant", content: "hello" }]);
  });

  it("recognises LangChain tuples and the collector's reassembled OpenInference tool calls", () => {
    expect(detectMessages({ messages: [["user", "What is the capital of Portugal?"]] })).toEqual([{ role: "user", content: "What is the capital of Portugal?" }]);
    expect(detectMessages([["system", "s"], ["human", "h"], ["ai", "a"]])?.map((m) => m.role)).toEqual(["system", "user", "assistant"]);
    const m = detectMessages([{ role: "assistant", tool_calls: [{ tool_call: { function: { arguments: '{"country":"Portugal"}', name: "lookup_capital" } } }] }]);
    expect(m?.[0].toolCalls?.[0].name).toBe("lookup_capital");
    expect(m?.[0].toolCalls?.[0].arguments).toContain('"country": "Portugal"');
  });

  it("does not mistake ordinary JSON for a conversation", () => {
    expect(detectMessages({ question: "Do I need an umbrella today?" })).toBeNull();
    expect(detectMessages("Take an umbrella.")).toBeNull();
    expect(detectMessages([1, 2, 3])).toBeNull();
    expect(detectMessages([{ role: "user" }])).toBeNull();
    expect(detectMessages({ steps: ["a", "b"] })).toBeNull();
    expect(detectMessages([])).toBeNull();
    expect(detectMessages([["a", "b"]])).toBeNull();
    expect(detectMessages(null)).toBeNull();
  });

  it("reads OpenInference flattened attributes in index order", () => {
    const attrs = {
      "llm.input_messages.1.message.role": "user",
      "llm.input_messages.1.message.content": "second",
      "llm.input_messages.0.message.role": "system",
      "llm.input_messages.0.message.content": "first",
      "llm.output_messages.0.message.role": "assistant",
      "llm.output_messages.0.message.tool_calls.0.tool_call.function.name": "lookup",
      "llm.output_messages.0.message.tool_calls.0.tool_call.function.arguments": '{"a":1}',
      "llm.model_name": "gpt-4o",
    };
    expect(flattenedMessages(attrs, "llm.input_messages")).toEqual([{ role: "system", content: "first" }, { role: "user", content: "second" }]);
    const conv = spanConversation({ attributes: attrs });
    expect(conv.output?.[0].toolCalls?.[0]).toEqual({ id: undefined, name: "lookup", arguments: '{\n  "a": 1\n}' });
  });

  it("prefers gen_ai.input.messages and shows a plain-text answer as the assistant's turn", () => {
    const conv = spanConversation({
      attributes: { "gen_ai.input.messages": [{ role: "user", parts: [{ type: "text", content: "q" }] }], "gen_ai.system_instructions": "be kind" },
      input: { prompt: "ignored" },
      output: "the answer",
    });
    expect(conv.input).toEqual([{ role: "system", content: "be kind" }, { role: "user", content: "q" }]);
    expect(conv.output).toEqual([{ role: "assistant", content: "the answer" }]);
  });

  it("collapses long text", () => {
    expect(isLongText("short")).toBe(false);
    expect(isLongText("x".repeat(601))).toBe(true);
    expect(isLongText("a\n".repeat(13))).toBe(true);
  });
});
