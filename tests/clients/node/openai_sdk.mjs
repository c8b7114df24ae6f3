// Drives OpenAI's own TypeScript SDK (`openai`) against a crossroads router through the Responses
// API: `client.responses.create` and the `client.responses.stream` helper. Same spec and output
// contract as openrouter_sdk.mjs (tests/clients/scripts.py).
//
//   node openai_sdk.mjs SPEC_JSON

import OpenAI from "openai";

import { play } from "./play.mjs";

const spec = JSON.parse(process.argv[2]);
const ctx = spec.context;
// No retries: a 5xx the test did not plan fails the run at once.
const client = new OpenAI({ apiKey: spec.api_key, baseURL: spec.base_url, maxRetries: 0 });

const tag = (scenario) => `${spec.run}:${scenario}`;
const say = (scenario, text = "Say something.") => `[${tag(scenario)}] ${text}`;
const WEATHER_TOOL = {
  type: "function",
  name: ctx.tool_name,
  description: "The weather in a city",
  strict: true,
  parameters: {
    type: "object",
    properties: { city: { type: "string" } },
    required: ["city"],
    additionalProperties: false,
  },
};

// A response in the normalised shape the Python side holds chat answers to (tests/clients/expect.py).
function observe(r) {
  const calls = r.output.filter((item) => item.type === "function_call");
  const incomplete = r.incomplete_details?.reason;
  const u = r.usage;
  return {
    id: r.id,
    model: r.model,
    provider: r.provider ?? null,
    status: r.status,
    output_types: r.output.map((item) => item.type),
    content: r.output_text,
    finish_reason: incomplete === "max_output_tokens" ? "length" : calls.length ? "tool_calls" : "stop",
    tool_calls: calls.map((c) => ({ id: c.call_id, name: c.name, arguments: c.arguments })),
    usage: u && {
      prompt_tokens: u.input_tokens,
      completion_tokens: u.output_tokens,
      total_tokens: u.total_tokens,
      cost: u.cost,
      prompt_cost: u.cost_details?.upstream_inference_input_cost,
      completion_cost: u.cost_details?.upstream_inference_output_cost,
    },
  };
}

// Every event the helper yields, then the response it accumulated (or why it had none).
async function streamed(request) {
  const stream = client.responses.stream(request);
  const kinds = [];
  const sequence = [];
  let text = "";
  for await (const event of stream) {
    kinds.push(event.type);
    sequence.push(event.sequence_number);
    if (event.type === "response.output_text.delta") text += event.delta;
    if (event.type === "response.failed") {
      return { kinds, sequence, text, failed: { status: event.response.status, error: event.response.error } };
    }
  }
  return { ...observe(await stream.finalResponse()), kinds, sequence, text };
}

const SCENARIOS = {
  create: async () =>
    observe(await client.responses.create({ model: ctx.main, input: say("create"), max_output_tokens: 8 })),
  stream: () => streamed({ model: ctx.main, input: say("stream") }),
  tools: async () =>
    observe(
      await client.responses.create({
        model: ctx.main,
        input: say("tools", "Please call a tool for Paris."),
        tools: [WEATHER_TOOL],
      }),
    ),
  tools_stream: () =>
    streamed({ model: ctx.main, input: say("tools_stream", "Please call a tool for Paris."), tools: [WEATHER_TOOL] }),
  err_previous_response: () =>
    client.responses.create({ model: ctx.main, input: say("err_previous_response"), previous_response_id: "resp_1" }),
  err_builtin_tool: () =>
    client.responses.create({ model: ctx.main, input: say("err_builtin_tool"), tools: [{ type: "web_search_preview" }] }),
  midstream_error: () =>
    streamed({
      model: ctx.main,
      input: say("midstream_error"),
      provider: { order: ["alpha"], allow_fallbacks: false },
    }),
};

await play(spec, SCENARIOS);
