// Drives the Vercel AI SDK (`ai`) with OpenRouter's provider (@openrouter/ai-sdk-provider)
// against a crossroads router: the same spec and output contract as openrouter_sdk.mjs.
//
//   node ai_sdk.mjs SPEC_JSON

import { createOpenRouter } from "@openrouter/ai-sdk-provider";
import { generateObject, generateText, streamText, tool } from "ai";
import { z } from "zod";

import { play } from "./play.mjs";

const spec = JSON.parse(process.argv[2]);
const ctx = spec.context;
const openrouter = createOpenRouter({ apiKey: spec.api_key, baseURL: spec.base_url });

const tag = (scenario) => `${spec.run}:${scenario}`;
const prompt = (scenario, text = "Say something.") => `[${tag(scenario)}] ${text}`;
const weather = tool({
  description: "The weather in a city",
  inputSchema: z.object({ city: z.string() }),
});

// The wire's usage object, as the provider hands it through (`usage.raw`), plus its own view.
function usageOf(usage) {
  const raw = usage.raw;
  return {
    prompt_tokens: usage.inputTokens,
    completion_tokens: usage.outputTokens,
    total_tokens: usage.totalTokens,
    cost: raw?.cost,
    prompt_cost: raw?.cost_details?.upstream_inference_prompt_cost,
    completion_cost: raw?.cost_details?.upstream_inference_completions_cost,
  };
}

const FINISH = { "tool-calls": "tool_calls", "content-filter": "content_filter" };

function observe(result, { text, finishReason, usage, response, providerMetadata, toolCalls }) {
  return {
    id: response.id,
    model: response.modelId,
    provider: providerMetadata?.openrouter?.provider ?? null,
    content: text,
    finish_reason: FINISH[finishReason] ?? finishReason,
    tool_calls: (toolCalls ?? []).map((c) => ({
      id: c.toolCallId,
      name: c.toolName,
      arguments: JSON.stringify(c.input),
    })),
    usage: usageOf(usage),
    ...result,
  };
}

async function generate(scenario, { model = ctx.main, settings = {}, ...call } = {}) {
  const r = await generateText({
    model: openrouter.chat(model, settings),
    prompt: prompt(scenario),
    maxOutputTokens: 8,
    maxRetries: 0, // a 5xx the test did not plan fails the run at once
    ...call,
  });
  return observe({}, r);
}

async function stream(scenario, { model = ctx.main, settings = {}, ...call } = {}) {
  const r = streamText({
    model: openrouter.chat(model, settings),
    prompt: prompt(scenario),
    maxOutputTokens: 8,
    maxRetries: 0, // a 5xx the test did not plan fails the run at once
    ...call,
  });
  let chunks = 0;
  for await (const part of r.fullStream) {
    if (part.type === "text-delta") chunks += 1;
    if (part.type === "error") throw part.error;
  }
  const [text, finishReason, usage, response, providerMetadata, toolCalls] = await Promise.all([
    r.text, r.finishReason, r.usage, r.response, r.providerMetadata, r.toolCalls,
  ]);
  return observe({ text_deltas: chunks }, {
    text, finishReason, usage, response, providerMetadata, toolCalls,
  });
}

const SCENARIOS = {
  chat: () => generate("chat"),
  stream: () => stream("stream"),
  only: () => generate("only", { settings: { provider: { only: ["bravo"] } } }),
  order: () =>
    generate("order", { settings: { provider: { order: ["charlie"], allow_fallbacks: false } } }),
  ignore: () => generate("ignore", { settings: { provider: { ignore: ["alpha", "bravo"] } } }),
  sort_price: () => generate("sort_price", { settings: { provider: { sort: "price" } } }),
  floor: () => generate("floor", { model: `${ctx.main}:floor` }),
  nitro: () => stream("nitro", { model: `${ctx.main}:nitro` }),
  fallback_models: () =>
    generate("fallback_models", {
      settings: { models: [ctx.backup] },
      maxOutputTokens: ctx.over_main_max_output,
    }),
  tools: () =>
    generate("tools", {
      prompt: prompt("tools", "Please call a tool for Paris."),
      tools: { [ctx.tool_name]: weather },
      maxOutputTokens: 40,
    }),
  tools_stream: () =>
    stream("tools_stream", {
      prompt: prompt("tools_stream", "Please call a tool for Paris."),
      tools: { [ctx.tool_name]: weather },
      maxOutputTokens: 40,
    }),
  image: () =>
    generate("image", {
      prompt: undefined,
      messages: [{
        role: "user",
        content: [
          { type: "text", text: prompt("image", "What is in this picture?") },
          { type: "image", image: new URL(ctx.image_url) },
        ],
      }],
      settings: { provider: { order: ["charlie", "bravo"] } },
    }),
  structured: async () => {
    const r = await generateObject({
      model: openrouter.chat(ctx.main, { provider: { require_parameters: true } }),
      schema: z.object({ city: z.string(), celsius: z.number() }),
      prompt: prompt("structured", "The weather in Paris?"),
      maxOutputTokens: 40,
      maxRetries: 0,
    });
    return { object: r.object, id: r.response.id, finish_reason: r.finishReason };
  },
  failover: () => generate("failover", { settings: { provider: { order: ["alpha", "bravo"] } } }),
  err_unknown_model: () => generate("err_unknown_model", { model: ctx.unknown_model }),
  err_invalid_param: () => generate("err_invalid_param", { temperature: 7 }),
  err_no_endpoint: () =>
    generate("err_no_endpoint", { settings: { provider: { only: ["nobody"] } } }),
  err_no_auth: async () => {
    const anonymous = createOpenRouter({ apiKey: "", baseURL: spec.base_url });
    const r = await generateText({
      model: anonymous.chat(ctx.main),
      prompt: prompt("err_no_auth"),
      maxOutputTokens: 8,
      maxRetries: 0,
    });
    return observe({}, r);
  },
};

await play(spec, SCENARIOS);
