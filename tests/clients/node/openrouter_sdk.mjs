// Drives OpenRouter's TypeScript SDK (@openrouter/sdk) against a crossroads router.
//
//   node openrouter_sdk.mjs SPEC_JSON
//
// SPEC_JSON: {"base_url", "api_key", "run", "scenarios": [names], "context": {...}} (see
// tests/clients/scripts.py). Prints one JSON document: {scenario: observation}. A scenario that
// throws is observed as {"error": {"class", "status", "message"}}, so one broken call never hides
// the others. Requests are written the SDK's own way (camelCase, `chatRequest`); observations are
// normalised to the snake_case names of the wire so every client's test asserts alike.

import { OpenRouter } from "@openrouter/sdk";

import { play } from "./play.mjs";

const spec = JSON.parse(process.argv[2]);
const ctx = spec.context;
// No retries: a 5xx the test did not plan must fail the run at once, not after a backoff.
const NO_RETRIES = { strategy: "none" };
const client = new OpenRouter({
  apiKey: spec.api_key,
  serverURL: spec.base_url,
  retryConfig: NO_RETRIES,
});

const tag = (scenario) => `${spec.run}:${scenario}`;
const say = (scenario, text = "Say something.") => [
  { role: "user", content: `[${tag(scenario)}] ${text}` },
];
const WEATHER_TOOL = {
  type: "function",
  function: {
    name: ctx.tool_name,
    description: "The weather in a city",
    parameters: {
      type: "object",
      properties: { city: { type: "string" } },
      required: ["city"],
    },
  },
};

function usageOf(u) {
  if (!u) return null;
  return {
    prompt_tokens: u.promptTokens,
    completion_tokens: u.completionTokens,
    total_tokens: u.totalTokens,
    cost: u.cost,
    prompt_cost: u.costDetails?.upstreamInferencePromptCost,
    completion_cost: u.costDetails?.upstreamInferenceCompletionsCost,
  };
}

function chatOf(r) {
  const choice = r.choices[0];
  return {
    id: r.id,
    model: r.model,
    content: choice.message.content ?? null,
    finish_reason: choice.finishReason,
    tool_calls: (choice.message.toolCalls ?? []).map((c) => ({
      id: c.id,
      name: c.function.name,
      arguments: c.function.arguments,
    })),
    usage: usageOf(r.usage),
  };
}

async function streamOf(events) {
  const ids = new Set();
  const finishes = [];
  const calls = new Map();
  let content = "";
  let usage = null;
  let model = null;
  let chunks = 0;
  let error = null;
  let last = null;
  for await (const chunk of events) {
    chunks += 1;
    last = { usage: Boolean(chunk.usage), choices: chunk.choices.length };
    ids.add(chunk.id);
    model = chunk.model;
    if (chunk.usage) usage = usageOf(chunk.usage);
    if (chunk.error) error = { code: chunk.error.code, message: chunk.error.message };
    for (const choice of chunk.choices) {
      content += choice.delta.content ?? "";
      if (choice.finishReason) finishes.push(choice.finishReason);
      for (const part of choice.delta.toolCalls ?? []) {
        const call = calls.get(part.index) ?? { id: null, name: "", arguments: "" };
        call.id = part.id ?? call.id;
        call.name += part.function?.name ?? "";
        call.arguments += part.function?.arguments ?? "";
        calls.set(part.index, call);
      }
    }
  }
  return {
    ids: [...ids],
    id: [...ids][0],
    model,
    chunks,
    last_chunk: last,
    content,
    finish_reasons: finishes,
    finish_reason: finishes.at(-1) ?? null,
    tool_calls: [...calls.values()],
    usage,
    stream_error: error,
  };
}

async function answered(answer) {
  const g = (await client.generations.getGeneration({ id: answer.id })).data;
  return {
    chat: answer,
    generation: {
      id: g.id,
      model: g.model,
      provider_name: g.providerName,
      total_cost: g.totalCost,
      tokens_prompt: g.tokensPrompt,
      tokens_completion: g.tokensCompletion,
      finish_reason: g.finishReason,
      streamed: g.streamed,
      provider_responses: (g.providerResponses ?? []).map((p) => ({
        status: p.status,
        provider_name: p.providerName ?? null,
      })),
    },
  };
}

const chat = async (request) => chatOf(await client.chat.send({ chatRequest: request }));
const stream = async (request) =>
  streamOf(await client.chat.send({ chatRequest: { ...request, stream: true } }));
const basic = (scenario, extra = {}) => ({
  model: ctx.main,
  messages: say(scenario),
  maxTokens: 8,
  ...extra,
});

function modelOf(m) {
  return {
    id: m.id,
    name: m.name,
    context_length: m.contextLength,
    pricing: { prompt: m.pricing.prompt, completion: m.pricing.completion },
    input_modalities: m.architecture.inputModalities,
    tokenizer: m.architecture.tokenizer ?? null,
    max_completion_tokens: m.topProvider.maxCompletionTokens ?? null,
    supported_parameters: m.supportedParameters,
  };
}

const SCENARIOS = {
  chat: () => chat(basic("chat")),
  stream: () => stream(basic("stream")),
  only: () => chat(basic("only", { provider: { only: ["bravo"] } })),
  order: () =>
    chat(basic("order", { provider: { order: ["charlie"], allowFallbacks: false } })),
  ignore: () => chat(basic("ignore", { provider: { ignore: ["alpha", "bravo"] } })),
  sort_price: () => chat(basic("sort_price", { provider: { sort: "price" } })),
  floor: () => chat(basic("floor", { model: `${ctx.main}:floor` })),
  nitro: () => stream(basic("nitro", { model: `${ctx.main}:nitro` })),
  fallback_models: () =>
    chat(basic("fallback_models", { models: [ctx.backup], maxTokens: ctx.over_main_max_output })),
  tools: () =>
    chat(basic("tools", {
      messages: say("tools", "Please call a tool for Paris."),
      tools: [WEATHER_TOOL],
      maxTokens: 40,
    })),
  tools_stream: () =>
    stream(basic("tools_stream", {
      messages: say("tools_stream", "Please call a tool for Paris."),
      tools: [WEATHER_TOOL],
      maxTokens: 40,
    })),
  response_format: () =>
    chat(basic("response_format", {
      responseFormat: {
        type: "json_schema",
        jsonSchema: {
          name: "weather",
          strict: true,
          schema: {
            type: "object",
            properties: { city: { type: "string" }, celsius: { type: "number" } },
            required: ["city", "celsius"],
            additionalProperties: false,
          },
        },
      },
      provider: { requireParameters: true },
      maxTokens: 40,
    })),
  image: () =>
    chat(basic("image", {
      messages: [{
        role: "user",
        content: [
          { type: "text", text: `[${tag("image")}] What is in this picture?` },
          { type: "image_url", imageUrl: { url: ctx.image_url } },
        ],
      }],
      provider: { order: ["charlie", "bravo"] },
    })),
  // The answer and the SDK's own look-up of it.
  failover: async () =>
    answered(await chat(basic("failover", { provider: { order: ["alpha", "bravo"] } }))),
  midstream_error: () =>
    stream(basic("midstream_error", {
      provider: { order: ["alpha"], allowFallbacks: false },
      maxTokens: 12,
    })),
  generation: async () => answered(await chat(basic("generation"))),
  models_list: async () => {
    const page = await client.models.list();
    return { total_count: page.result.totalCount, models: page.result.data.map(modelOf) };
  },
  models_page: async () => {
    const pages = [];
    for await (const page of await client.models.list({ offset: 0, limit: 1 })) {
      pages.push(page.result.data.map((m) => m.id));
    }
    return { pages };
  },
  model_get: async () => modelOf((await client.models.get({ author: "acme", slug: "main" })).data),
  models_count: async () => ({ count: (await client.models.count()).data.count }),
  endpoints_list: async () => {
    const [author, slug] = ctx.main.split("/");
    const data = (await client.endpoints.list({ author, slug })).data;
    return {
      id: data.id,
      name: data.name,
      endpoints: data.endpoints.map((e) => ({
        tag: e.tag,
        provider_name: e.providerName,
        context_length: e.contextLength,
        max_completion_tokens: e.maxCompletionTokens,
        pricing: { prompt: e.pricing.prompt, completion: e.pricing.completion },
        supported_parameters: e.supportedParameters,
        status: e.status ?? null,
        quantization: e.quantization,
      })),
    };
  },
  providers_list: async () => ({
    providers: (await client.providers.list()).data.map((p) => ({
      slug: p.slug,
      name: p.name,
      privacy_policy_url: p.privacyPolicyUrl,
    })),
  }),
  err_unknown_model: () => chat(basic("err_unknown_model", { model: ctx.unknown_model })),
  err_invalid_param: () => chat(basic("err_invalid_param", { temperature: 7 })),
  err_no_endpoint: () => chat(basic("err_no_endpoint", { provider: { only: ["nobody"] } })),
  err_endpoints_unknown: () => client.endpoints.list({ author: "nobody", slug: "nothing" }),
  err_generation_unknown: () => client.generations.getGeneration({ id: "gen-0-unknown" }),
  // The account routes, with a management key made by `crossroads keys create` (ctx.admin_key).
  keys_flow: async () => {
    const admin = new OpenRouter({ apiKey: ctx.admin_key, serverURL: spec.base_url,
                                   retryConfig: NO_RETRIES });
    const created = await admin.apiKeys.create({
      requestBody: { name: tag("keys_flow"), limit: 1, limitReset: "daily" },
    });
    const user = new OpenRouter({ apiKey: created.key, serverURL: spec.base_url,
                                  retryConfig: NO_RETRIES });
    const answer = await user.chat.send({ chatRequest: basic("keys_flow") });
    const current = (await user.apiKeys.getCurrentKeyMetadata()).data;
    const credits = (await user.credits.getCredits()).data;
    const listed = (await admin.apiKeys.list()).data.map((k) => k.hash);
    const got = (await admin.apiKeys.get({ hash: created.data.hash })).data;
    // An inference key's activity is its own traffic.
    const activity = (await user.analytics.getUserActivity()).data;
    const userList = await user.apiKeys.list().then(() => null, (e) => ({
      class: e.constructor.name, status: e.statusCode ?? null }));
    const disabled = (await admin.apiKeys.update({
      hash: created.data.hash, requestBody: { disabled: true } })).data;
    const refused = await user.chat.send({ chatRequest: basic("keys_flow") }).then(
      () => null, (e) => ({ class: e.constructor.name, status: e.statusCode ?? null }));
    const deleted = await admin.apiKeys.delete({ hash: created.data.hash });
    return {
      key_prefix: created.key.slice(0, 9),
      created: { hash: created.data.hash, name: created.data.name, limit: created.data.limit,
                 limit_reset: created.data.limitReset, label: created.data.label },
      answer_id: answer.id,
      answer_cost: answer.usage.cost,
      current: { label: current.label, limit: current.limit,
                 limit_remaining: current.limitRemaining, usage: current.usage,
                 usage_daily: current.usageDaily, is_management_key: current.isManagementKey },
      credits: { total_credits: credits.totalCredits, total_usage: credits.totalUsage },
      listed,
      got: { hash: got.hash, usage: got.usage, disabled: got.disabled },
      activity: activity.map((a) => ({ model: a.model, endpoint_id: a.endpointId,
                                       requests: a.requests, usage: a.usage })),
      user_list: userList,
      disabled: disabled.disabled,
      refused,
      deleted: deleted.deleted,
    };
  },
  err_no_auth: async () => {
    const anonymous = new OpenRouter({ serverURL: spec.base_url, retryConfig: NO_RETRIES });
    return chatOf(await anonymous.chat.send({ chatRequest: basic("err_no_auth") }));
  },
};

await play(spec, SCENARIOS);
