// The Worker in workerd (through miniflare), sent real HTTP requests, with a stub origin:
// an HTTP server on 127.0.0.1 that every subrequest of the Worker reaches (miniflare's
// outboundService), stopped to play "every pool down" (the connection refused).
import { after, before, beforeEach, describe, test } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { Miniflare } from "miniflare";

// The module, date and flags the Pulumi component deploys (components/edge/worker.py).
const CONFIG = JSON.parse(readFileSync(new URL("../worker.json", import.meta.url), "utf8"));
const SCRIPT = fileURLToPath(new URL(`../${CONFIG.source}`, import.meta.url));
const API = "https://api.project-ai.dev";
const KEY = `pai_0123456789abcdef_${"A".repeat(43)}`;
const OTHER_KEY = `pai_fedcba9876543210_${"b-_".repeat(14)}x`;
const CF = { country: "DE", colo: "FRA", continent: "EU" };

// The stub origin: records what reaches it, answers as `answer` says.
const origin = { seen: [], answer: null, server: null, port: 0 };

function startOrigin() {
  origin.server = http.createServer((req, res) => {
    origin.seen.push({ method: req.method, url: req.url, headers: req.headers });
    const [status, body, headers] = origin.answer?.(req) ?? [200, { object: "list", data: [{ id: "echo" }] }, {}];
    res.writeHead(status, { "content-type": "application/json", ...headers });
    res.end(JSON.stringify(body));
  });
  return new Promise((resolve) => origin.server.listen(0, "127.0.0.1", () => resolve(origin.server.address().port)));
}

function stopOrigin() {
  return new Promise((resolve) => {
    origin.server.closeAllConnections();
    origin.server.close(() => resolve());
  });
}

// Every fetch() of the Worker goes to the stub origin, which workerd itself connects to
// (an external service on 127.0.0.1): with the stub stopped, the connection is refused.
function worker(bindings = {}) {
  return new Miniflare({
    modules: true,
    scriptPath: SCRIPT,
    compatibilityDate: CONFIG.compatibility_date,
    compatibilityFlags: CONFIG.compatibility_flags,
    bindings: { MODELS_CACHE_TTL_SECONDS: "30", RETRY_AFTER_SECONDS: "30", ...bindings },
    outboundService: { external: { address: `127.0.0.1:${origin.port}`, http: {} } },
  });
}

let mf;
before(async () => {
  origin.port = await startOrigin();
  mf = worker();
});
after(async () => {
  await mf.dispose();
  if (origin.server.listening) await stopOrigin();
});
beforeEach(() => {
  origin.seen = [];
  origin.answer = null;
});

const call = (path, { headers = {}, cf = CF, method = "GET", body } = {}) =>
  mf.dispatchFetch(`${API}${path}`, { method, headers, cf, body });
const bearer = (key) => ({ authorization: `Bearer ${key}` });

async function assertUnauthorized(response, detail, path) {
  assert.equal(response.status, 401);
  assert.equal(response.headers.get("content-type"), "application/problem+json");
  assert.equal(response.headers.get("www-authenticate"), 'Bearer realm="project-ai"');
  assert.match(response.headers.get("x-request-id"), /^[0-9a-f]{32}$/);
  // app/problems.py's body, field for field.
  assert.deepEqual(await response.json(), { type: "about:blank", title: "Unauthorized", status: 401, detail, instance: path });
}

describe("the API key's shape", () => {
  test("a missing key is refused at the edge, as the app refuses it", async () => {
    await assertUnauthorized(await call("/v1/models"), "an API key is required (Authorization: Bearer <key>)", "/v1/models");
    assert.equal(origin.seen.length, 0);
  });

  test("an empty key, in either header, counts as missing", async () => {
    for (const headers of [{ authorization: "Bearer " }, { authorization: "Bearer    " }, { "x-api-key": "" }]) {
      await assertUnauthorized(
        await call("/v1/completions", { headers, method: "POST", body: "{}" }),
        "an API key is required (Authorization: Bearer <key>)",
        "/v1/completions",
      );
    }
    assert.equal(origin.seen.length, 0);
  });

  const malformed = {
    "another prefix": `sk_0123456789abcdef_${"A".repeat(43)}`,
    "a short id": `pai_0123_${"A".repeat(43)}`,
    "an id that is not hex": `pai_0123456789abcdeg_${"A".repeat(43)}`,
    "no secret": "pai_0123456789abcdef_",
    "a short secret": "pai_0123456789abcdef_abc",
    "an oversized key": `pai_0123456789abcdef_${"A".repeat(4000)}`,
    "a secret outside URL-safe base64": `pai_0123456789abcdef_${"A".repeat(40)}+/=`,
    "a space inside": `pai_0123456789abcdef_${"A".repeat(20)} ${"A".repeat(20)}`,
    "a non-ASCII secret": `pai_0123456789abcdef_${"é".repeat(43)}`,
  };
  for (const [what, key] of Object.entries(malformed)) {
    test(`a key with ${what} is refused without an origin round trip`, async () => {
      const headers = what === "a non-ASCII secret" ? { "x-api-key": key } : bearer(key);
      await assertUnauthorized(await call("/v1/models", { headers }), "the API key is not valid", "/v1/models");
      assert.equal(origin.seen.length, 0);
    });
  }

  test("non-ASCII bytes on the wire (a raw request to the Worker's port) are refused", async () => {
    const url = await mf.ready;
    const raw = Buffer.from(`pai_0123456789abcdef_${"ü".repeat(43)}`, "latin1");
    const answer = await new Promise((resolve, reject) => {
      const req = http.request({ host: "127.0.0.1", port: url.port, path: "/v1/models", headers: { host: "api.project-ai.dev" } });
      req.setHeader("x-api-key", raw.toString("latin1"));
      req.on("response", (res) => {
        let body = "";
        res.on("data", (chunk) => (body += chunk));
        res.on("end", () => resolve({ status: res.statusCode, body: JSON.parse(body) }));
      });
      req.on("error", reject);
      req.end();
    });
    assert.equal(answer.status, 401);
    assert.equal(answer.body.detail, "the API key is not valid");
    assert.equal(origin.seen.length, 0);
  });

  test("a well-shaped key goes to the origin, which decides; X-API-Key works as well", async () => {
    origin.answer = () => [401, { type: "about:blank", title: "Unauthorized", status: 401, detail: "the API key is not valid" }, {}];
    const response = await call("/v1/completions", { headers: { "x-api-key": KEY }, method: "POST", body: "{}" });
    assert.equal(response.status, 401);
    assert.equal(origin.seen.length, 1);
    assert.equal(origin.seen[0].headers["x-api-key"], KEY);
  });

  test("the Bearer scheme in any case, as the app reads it", async () => {
    const response = await call("/v1/completions", { headers: { authorization: `bEaReR ${KEY}` }, method: "POST", body: "{}" });
    assert.equal(response.status, 200);
    assert.equal(origin.seen.length, 1);
  });

  test("unversioned paths and CORS preflights are not checked at the edge", async () => {
    assert.equal((await call("/healthz")).status, 200);
    assert.equal((await call("/openapi.json")).status, 200);
    assert.equal((await call("/v1/models", { method: "OPTIONS" })).status, 200);
    assert.equal(origin.seen.length, 3);
  });
});

describe("the request id and the edge headers", () => {
  test("a valid incoming request id is kept, to the origin and back", async () => {
    const response = await call("/v1/completions", {
      headers: { ...bearer(KEY), "x-request-id": "client.id-0001" },
      method: "POST",
      body: "{}",
    });
    assert.equal(response.headers.get("x-request-id"), "client.id-0001");
    assert.equal(origin.seen[0].headers["x-request-id"], "client.id-0001");
  });

  for (const [what, offered] of Object.entries({
    "too short": "abc",
    "too long": "a".repeat(65),
    "with forbidden characters": "id with spaces/and;semicolons",
    empty: "",
  })) {
    test(`an incoming request id ${what} is replaced`, async () => {
      const response = await call("/v1/completions", {
        headers: { ...bearer(KEY), "x-request-id": offered },
        method: "POST",
        body: "{}",
      });
      const id = response.headers.get("x-request-id");
      assert.match(id, /^[0-9a-f]{32}$/);
      assert.equal(origin.seen[0].headers["x-request-id"], id);
    });
  }

  test("each request without an id gets its own", async () => {
    const first = await call("/healthz");
    const second = await call("/healthz");
    assert.notEqual(first.headers.get("x-request-id"), second.headers.get("x-request-id"));
  });

  test("country, colo and continent from request.cf reach the origin", async () => {
    await call("/v1/completions", { headers: bearer(KEY), method: "POST", body: "{}" });
    const seen = origin.seen[0].headers;
    assert.equal(seen["x-edge-country"], "DE");
    assert.equal(seen["x-edge-colo"], "FRA");
    assert.equal(seen["x-edge-continent"], "EU");
  });

  test("a client's own edge headers never reach the origin", async () => {
    await call("/v1/completions", {
      headers: { ...bearer(KEY), "x-edge-country": "XX", "x-edge-colo": "FAKE" },
      cf: { country: "JP", continent: "AS", colo: "" },
      method: "POST",
      body: "{}",
    });
    const seen = origin.seen[0].headers;
    assert.equal(seen["x-edge-country"], "JP");
    assert.equal(seen["x-edge-continent"], "AS");
    assert.equal(seen["x-edge-colo"], undefined);
  });

  test("the body and method reach the origin unchanged", async () => {
    let received = "";
    origin.answer = () => [200, { ok: true }, {}];
    origin.server.once("request", (req) => req.on("data", (chunk) => (received += chunk)));
    await call("/v1/completions", { headers: bearer(KEY), method: "POST", body: '{"prompt":"hi"}' });
    assert.equal(origin.seen[0].method, "POST");
    assert.equal(received, '{"prompt":"hi"}');
  });
});

describe("GET /v1/models at the edge", () => {
  // A Worker of its own per test: an empty cache.
  let local;
  beforeEach(async () => {
    await local?.dispose();
    local = worker({ MODELS_CACHE_TTL_SECONDS: "2" });
  });
  after(async () => await local?.dispose());
  const models = (key, headers = {}) =>
    local.dispatchFetch(`${API}/v1/models`, { headers: { ...bearer(key), ...headers }, cf: CF });

  test("the first request is a miss, the next a hit that never reaches the origin", async () => {
    const miss = await models(KEY);
    assert.equal(miss.status, 200);
    assert.equal(miss.headers.get("x-edge-cache"), "MISS");
    assert.deepEqual(await miss.json(), { object: "list", data: [{ id: "echo" }] });
    const hit = await models(KEY, { "x-request-id": "second-request" });
    assert.equal(hit.headers.get("x-edge-cache"), "HIT");
    assert.deepEqual(await hit.json(), { object: "list", data: [{ id: "echo" }] });
    assert.equal(hit.headers.get("x-request-id"), "second-request");
    assert.equal(origin.seen.length, 1);
  });

  test("the key is the same cache entry in either header", async () => {
    await (await models(KEY)).arrayBuffer();
    const hit = await local.dispatchFetch(`${API}/v1/models`, { headers: { "x-api-key": KEY }, cf: CF });
    assert.equal(hit.headers.get("x-edge-cache"), "HIT");
    assert.equal(origin.seen.length, 1);
  });

  test("two keys never share an entry", async () => {
    origin.answer = (req) => [200, { object: "list", data: [{ id: `for-${req.headers.authorization.slice(-4)}` }] }, {}];
    const first = await (await models(KEY)).json();
    const other = await models(OTHER_KEY);
    assert.equal(other.headers.get("x-edge-cache"), "MISS");
    assert.notDeepEqual(await other.json(), first);
    assert.equal(origin.seen.length, 2);
    assert.equal((await models(KEY)).headers.get("x-edge-cache"), "HIT");
    assert.equal((await models(OTHER_KEY)).headers.get("x-edge-cache"), "HIT");
    assert.equal(origin.seen.length, 2);
  });

  test("the cache names the key only by its SHA-256 hash", async () => {
    await (await models(KEY)).arrayBuffer();
    const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(KEY));
    const hash = Buffer.from(digest).toString("hex");
    const cache = await local.getCaches().then((caches) => caches.open("project-ai-api-models"));
    const entry = await cache.match(`${API}/__edge-cache/v1/models/${hash}`);
    assert.ok(entry, "the entry is under the key's hash");
    await entry.arrayBuffer();
    assert.equal(await cache.match(`${API}/__edge-cache/v1/models/${KEY}`), undefined);
    // Per-request headers are not stored.
    assert.equal(entry.headers.get("x-request-id"), null);
    assert.equal(entry.headers.get("cache-control"), "public, max-age=2");
  });

  test("only 200 responses are cached", async () => {
    for (const status of [401, 429, 500, 503]) {
      origin.answer = () => [status, { status }, {}];
      const first = await models(KEY);
      assert.equal(first.status, status);
      assert.equal(first.headers.get("x-edge-cache"), null);
      await first.arrayBuffer();
    }
    assert.equal(origin.seen.length, 4);
    origin.answer = null;
    assert.equal((await models(KEY)).headers.get("x-edge-cache"), "MISS");
  });

  test("per-request headers from the origin are not replayed on a hit", async () => {
    origin.answer = () => [200, { object: "list", data: [] }, { "x-ratelimit-remaining": "9", "x-request-id": "origin-id-1" }];
    const miss = await models(KEY);
    assert.equal(miss.headers.get("x-ratelimit-remaining"), "9");
    await miss.arrayBuffer();
    const hit = await models(KEY);
    assert.equal(hit.headers.get("x-edge-cache"), "HIT");
    assert.equal(hit.headers.get("x-ratelimit-remaining"), null);
    assert.notEqual(hit.headers.get("x-request-id"), "origin-id-1");
  });

  test("an entry lives for the TTL only", async () => {
    await (await models(KEY)).arrayBuffer();
    assert.equal((await models(KEY)).headers.get("x-edge-cache"), "HIT");
    await new Promise((resolve) => setTimeout(resolve, 2600));
    assert.equal((await models(KEY)).headers.get("x-edge-cache"), "MISS");
    assert.equal(origin.seen.length, 2);
  });

  test("other paths and methods are never cached", async () => {
    for (let i = 0; i < 2; i++) {
      const response = await local.dispatchFetch(`${API}/v1/models/echo`, { headers: bearer(KEY), cf: CF });
      assert.equal(response.headers.get("x-edge-cache"), null);
      await response.arrayBuffer();
    }
    assert.equal(origin.seen.length, 2);
  });
});

describe("no region answering", () => {
  async function assertMaintenance(response, path) {
    assert.equal(response.status, 503);
    assert.equal(response.headers.get("retry-after"), "30");
    assert.equal(response.headers.get("content-type"), "application/problem+json");
    assert.equal(response.headers.get("cache-control"), "no-store");
    assert.ok(response.headers.get("x-request-id"));
    const body = await response.json();
    assert.equal(body.type, "https://api.project-ai.dev/problems/maintenance");
    assert.equal(body.title, "Service Unavailable");
    assert.equal(body.status, 503);
    assert.equal(body.instance, path);
    assert.match(body.detail, /no region is answering/);
  }

  for (const status of [520, 521, 522, 523, 524, 530]) {
    test(`Cloudflare's ${status} (no origin reached) becomes the maintenance answer`, async () => {
      origin.answer = () => [status, { error: status }, {}];
      await assertMaintenance(await call("/v1/completions", { headers: bearer(KEY), method: "POST", body: "{}" }), "/v1/completions");
    });
  }

  test("the app's own 503 passes through unchanged", async () => {
    origin.answer = () => [503, { detail: "the database is unavailable; retry later" }, { "retry-after": "5" }];
    const response = await call("/v1/completions", { headers: bearer(KEY), method: "POST", body: "{}" });
    assert.equal(response.status, 503);
    assert.equal(response.headers.get("retry-after"), "5");
    assert.equal((await response.json()).detail, "the database is unavailable; retry later");
  });

  test("a forced maintenance (MAINTENANCE=true) answers without the origin", async () => {
    const closed = worker({ MAINTENANCE: "true" });
    try {
      await assertMaintenance(await closed.dispatchFetch(`${API}/v1/models`, { headers: bearer(KEY), cf: CF }), "/v1/models");
      assert.equal(origin.seen.length, 0);
    } finally {
      await closed.dispose();
    }
  });

  test("with the origin stopped, every request gets the maintenance answer", async () => {
    await stopOrigin();
    await assertMaintenance(await call("/v1/models", { headers: bearer(KEY) }), "/v1/models");
    await assertMaintenance(await call("/healthz"), "/healthz");
    await assertMaintenance(await call("/v1/completions", { headers: bearer(KEY), method: "POST", body: "{}" }), "/v1/completions");
  });
});
