// A Worker as Workers KV users write them: a session store (SESSIONS) and feature flags (FLAGS),
// plus /op, which runs one KV call with the arguments it is given (for the edge cases the tests
// check: odd keys, errors, paging). Every answer is JSON; a KV error is a 500 whose body is
// {"error": "<the Error's message>"} so the test can check the text workerd builds.

const json = (body, status = 200) =>
  new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json" } });

// Lists every key under a prefix, page by page, the way users loop on list_complete.
async function listAll(ns, prefix, limit) {
  const names = [];
  const pages = [];
  let cursor = undefined;
  for (;;) {
    const page = await ns.list({ prefix, limit, cursor });
    pages.push(page.keys.length);
    for (const k of page.keys) names.push(k.name);
    if (page.list_complete) break;
    cursor = page.cursor;
  }
  return { names, pages };
}

const SESSION_TTL = 3600;

async function sessions(env, request, id) {
  const key = `session:${id}`;
  switch (request.method) {
    case "PUT": {
      const data = await request.json();
      await env.SESSIONS.put(key, JSON.stringify(data), {
        expirationTtl: SESSION_TTL,
        metadata: { user: data.user, createdAt: data.createdAt },
      });
      return json({ ok: true }, 201);
    }
    case "GET": {
      const data = await env.SESSIONS.get(key, "json");
      if (data === null) return json({ error: "no session" }, 404);
      return json(data);
    }
    case "DELETE":
      await env.SESSIONS.delete(key);
      return json({ ok: true });
  }
  return json({ error: "method" }, 405);
}

async function flags(env, request, name) {
  if (request.method === "PUT") {
    const text = await request.text();
    await env.FLAGS.put(`flag:${name}`, text, { metadata: { updatedBy: "admin" } });
    return json({ ok: true });
  }
  // Text value with its metadata; missing flags are off.
  const { value, metadata } = await env.FLAGS.getWithMetadata(`flag:${name}`);
  return json({ name, enabled: value === "on", value, metadata });
}

async function op(env, body) {
  const ns = env[body.ns || "SESSIONS"];
  switch (body.op) {
    case "put": {
      const value = body.base64 ? Uint8Array.from(atob(body.value), (c) => c.charCodeAt(0)) : body.value;
      await ns.put(body.key, value, body.options || {});
      return null;
    }
    case "putStream": {
      // A ReadableStream of unknown length: workerd sends it chunked.
      const { readable, writable } = new TransformStream();
      const w = writable.getWriter();
      const done = ns.put(body.key, readable, body.options || {});
      for (const part of body.parts) await w.write(new TextEncoder().encode(part));
      await w.close();
      await done;
      return null;
    }
    case "get": {
      const type = (body.options && body.options.type) || "text";
      const v = await ns.get(body.key, body.options || {});
      if (type === "arrayBuffer" && v !== null) return btoa(String.fromCharCode(...new Uint8Array(v)));
      return v;
    }
    case "getWithMetadata": {
      const r = await ns.getWithMetadata(body.key, body.options || {});
      return { value: r.value, metadata: r.metadata, cacheStatus: r.cacheStatus ?? null };
    }
    case "bulkGet": {
      const m = await ns.get(body.keys, body.options || {});
      return Object.fromEntries(m);
    }
    case "bulkGetWithMetadata": {
      const m = await ns.getWithMetadata(body.keys, body.options || {});
      return Object.fromEntries(m);
    }
    case "list":
      return await ns.list(body.options || {});
    case "listAll":
      return await listAll(ns, body.prefix, body.limit);
    case "delete":
      await ns.delete(body.key);
      return null;
  }
  throw new Error(`unknown op ${body.op}`);
}

export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    const parts = url.pathname.split("/").filter(Boolean).map(decodeURIComponent);
    try {
      if (parts[0] === "session" && parts.length === 2) return await sessions(env, request, parts[1]);
      if (parts[0] === "sessions") {
        const limit = url.searchParams.has("limit") ? Number(url.searchParams.get("limit")) : undefined;
        return json(await listAll(env.SESSIONS, url.searchParams.get("prefix") ?? "session:", limit));
      }
      if (parts[0] === "flag" && parts.length === 2) return await flags(env, request, parts[1]);
      if (parts[0] === "flags" && request.method === "POST") {
        // Bulk read of many flags at once: get(keys) returns a Map.
        const names = await request.json();
        const m = await env.FLAGS.get(names.map((n) => `flag:${n}`));
        const out = {};
        for (const n of names) out[n] = m.get(`flag:${n}`) === "on";
        return json(out);
      }
      if (parts[0] === "op" && request.method === "POST") return json({ result: await op(env, await request.json()) });
      return json({ error: "not found" }, 404);
    } catch (e) {
      return json({ error: String(e && e.message), name: e && e.name }, 500);
    }
  },
};
