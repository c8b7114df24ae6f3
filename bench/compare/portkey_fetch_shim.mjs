// Loaded into Portkey Gateway with `node --import` by bench/compare/run.py.
// Portkey 1.15.2 on Node 20 fails every streamed chat completion with "TypeError: immutable"
// (it appends x-portkey-* headers to the upstream fetch Response, whose headers are immutable;
// Portkey-AI/gateway issues #1389, #1550). This copies streamed responses into a Response with
// mutable headers; non-streamed responses are passed through untouched.
const realFetch = globalThis.fetch;
globalThis.fetch = async (...args) => {
  const res = await realFetch(...args);
  if ((res.headers.get('content-type') || '').includes('text/event-stream')) {
    return new Response(res.body, { status: res.status, statusText: res.statusText,
                                    headers: new Headers(res.headers) });
  }
  return res;
};
