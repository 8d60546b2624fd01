// The API's edge Worker, on the route of the global hostname (api.project-ai.dev/*).
//
// What belongs at the edge, and nothing the app must decide:
// - a request id (X-Request-Id): a valid incoming one is kept, else a new one, on the way
//   to the origin and back to the client (the app's own rule: [A-Za-z0-9._-]{8,64});
// - where the request entered: X-Edge-Country, X-Edge-Colo, X-Edge-Continent from
//   request.cf (a client's own values for these are dropped, never passed on);
// - the API key's shape on versioned paths: a missing or malformed key is refused here
//   with the app's own 401 problem, without a round trip to a region;
// - GET /v1/models cached at the edge for a short TTL, keyed by a SHA-256 hash of the key
//   (never the key), in a cache namespace of its own, only for 200 responses;
// - a maintenance answer (503, Retry-After, a problem body) when no region answers.
//
// The app stays the authority: a well-shaped key still goes to the origin to be checked.

const REQUEST_ID = /^[A-Za-z0-9._-]{8,64}$/;
// app/keys.py: pai_<id>_<secret>; the id is 16 hex digits (secrets.token_hex(8)), the
// secret URL-safe base64 (secrets.token_urlsafe(32), 43 characters; some slack kept).
const API_KEY = /^pai_[0-9a-f]{16}_[A-Za-z0-9_-]{16,128}$/;
const MAX_KEY_LENGTH = 256;
const VERSIONED = /^\/v[0-9]+(\/|$)/;
const PROBLEM_JSON = "application/problem+json";
const PROBLEM_TYPES = "https://api.project-ai.dev/problems/";
// Cloudflare's own answers when it reaches no origin (520-527, 530): every pool is down.
const ORIGIN_UNREACHABLE = new Set([520, 521, 522, 523, 524, 525, 526, 527, 530]);
const EDGE_HEADERS = {
  "x-edge-country": "country",
  "x-edge-colo": "colo",
  "x-edge-continent": "continent",
};
// Per-request headers of the origin's answer, never stored in the shared edge cache.
const UNCACHED_HEADERS = [
  "x-request-id",
  "set-cookie",
  "ratelimit",
  "ratelimit-policy",
  "x-ratelimit-limit",
  "x-ratelimit-remaining",
  "x-ratelimit-reset",
  "retry-after",
];
const MODELS_CACHE = "project-ai-api-models";
const DEFAULTS = { MODELS_CACHE_TTL_SECONDS: 30, RETRY_AFTER_SECONDS: 30 };

export default {
  async fetch(request, env, ctx) {
    const url = new URL(request.url);
    const requestId = requestIdOf(request);
    const path = instance(url);

    if (env.MAINTENANCE === "true") {
      return withRequestId(maintenance(path, env), requestId);
    }

    let key = null;
    if (VERSIONED.test(url.pathname) && request.method !== "OPTIONS") {
      key = presentedKey(request.headers);
      if (!key) {
        return withRequestId(unauthorized("an API key is required (Authorization: Bearer <key>)", path), requestId);
      }
      if (key.length > MAX_KEY_LENGTH || !API_KEY.test(key)) {
        return withRequestId(unauthorized("the API key is not valid", path), requestId);
      }
    }

    const headers = new Headers(request.headers);
    headers.set("x-request-id", requestId);
    for (const [header, field] of Object.entries(EDGE_HEADERS)) {
      const value = request.cf?.[field];
      if (typeof value === "string" && value) headers.set(header, value);
      else headers.delete(header);
    }
    const forwarded = new Request(request, { headers });

    if (key && request.method === "GET" && url.pathname === "/v1/models") {
      return withRequestId(await cachedModels(forwarded, key, url, path, env, ctx), requestId);
    }
    return withRequestId(await toOrigin(forwarded, path, env), requestId);
  },
};

function requestIdOf(request) {
  const offered = request.headers.get("x-request-id") ?? "";
  return REQUEST_ID.test(offered) ? offered : crypto.randomUUID().replaceAll("-", "");
}

// The key as the app reads it (app/api/deps.py): `Authorization: Bearer <key>`
// (the scheme in any case, the key stripped), else `X-API-Key`.
function presentedKey(headers) {
  const authorization = headers.get("authorization") ?? "";
  const space = authorization.indexOf(" ");
  if (space > 0 && authorization.slice(0, space).toLowerCase() === "bearer") {
    const credentials = authorization.slice(space + 1).trim();
    if (credentials) return credentials;
  }
  return headers.get("x-api-key") ?? "";
}

// The problem's `instance`, as Starlette's request.url.path: the path, percent-decoded.
function instance(url) {
  try {
    return decodeURIComponent(url.pathname);
  } catch {
    return url.pathname;
  }
}

function problem(status, title, detail, path, headers = {}, extra = {}) {
  const body = { type: "about:blank", title, status, detail, instance: path, ...extra };
  return new Response(JSON.stringify(body), {
    status,
    headers: { "content-type": PROBLEM_JSON, "cache-control": "no-store", ...headers },
  });
}

function unauthorized(detail, path) {
  return problem(401, "Unauthorized", detail, path, { "www-authenticate": 'Bearer realm="project-ai"' });
}

function maintenance(path, env) {
  const retryAfter = String(positive(env.RETRY_AFTER_SECONDS, DEFAULTS.RETRY_AFTER_SECONDS));
  return problem(
    503,
    "Service Unavailable",
    "the API is unavailable: no region is answering (maintenance or failover); retry later",
    path,
    { "retry-after": retryAfter },
    { type: PROBLEM_TYPES + "maintenance" },
  );
}

function positive(value, fallback) {
  const number = Number.parseInt(value ?? "", 10);
  return Number.isFinite(number) && number > 0 ? number : fallback;
}

async function toOrigin(request, path, env) {
  let response;
  try {
    response = await fetch(request);
  } catch {
    return maintenance(path, env);
  }
  if (ORIGIN_UNREACHABLE.has(response.status)) return maintenance(path, env);
  return response;
}

async function sha256Hex(text) {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return [...new Uint8Array(digest)].map((byte) => byte.toString(16).padStart(2, "0")).join("");
}

// The cache key names the key only by its hash; the query is kept, so variants never mix.
async function cachedModels(request, key, url, path, env, ctx) {
  const cacheKey = new URL(`/__edge-cache/v1/models/${await sha256Hex(key)}`, url.origin);
  cacheKey.search = url.search;
  const cache = await caches.open(MODELS_CACHE);
  const hit = await cache.match(cacheKey.toString());
  if (hit) {
    const response = new Response(hit.body, hit);
    response.headers.set("x-edge-cache", "HIT");
    return response;
  }
  const response = await toOrigin(request, path, env);
  if (response.status !== 200) return response;
  const ttl = positive(env.MODELS_CACHE_TTL_SECONDS, DEFAULTS.MODELS_CACHE_TTL_SECONDS);
  const [forClient, forCache] = response.body ? response.body.tee() : [null, null];
  const stored = new Response(forCache, response);
  for (const header of UNCACHED_HEADERS) stored.headers.delete(header);
  stored.headers.set("cache-control", `public, max-age=${ttl}`);
  const put = cache.put(cacheKey.toString(), stored);
  if (ctx?.waitUntil) ctx.waitUntil(put);
  else await put;
  const answer = new Response(forClient, response);
  answer.headers.set("x-edge-cache", "MISS");
  return answer;
}

function withRequestId(response, requestId) {
  // Responses from fetch() and the cache have immutable headers: copy before changing.
  const answer = new Response(response.body, response);
  answer.headers.set("x-request-id", requestId);
  return answer;
}
