// otlp.mjs - a small OTLP/HTTP receiver for the trace tests: it takes JSON
// ExportTraceServiceRequests POSTed to /v1/traces on a free port of 127.0.0.1 and keeps
// their spans, flattened (each with its resource's and its own attributes as plain
// objects). It can be told to answer errors, and be stopped and started again on its port.
import { createServer } from 'node:http';
import { freePort } from './harness.mjs';

/** The value of an OTLP AnyValue as JavaScript (ints stay strings, as the JSON mapping sends them). */
function plain(v) {
  if (v === undefined || v === null) return undefined;
  if ('stringValue' in v) return v.stringValue;
  if ('intValue' in v) return String(v.intValue);
  if ('boolValue' in v) return v.boolValue;
  if ('doubleValue' in v) return v.doubleValue;
  return v;
}

const attrs = (list = []) => Object.fromEntries(list.map((a) => [a.key, plain(a.value)]));

/** Starts a receiver; resolves to { url, spans, posts, contentTypes, failWith(status|0), stop(), start() }. */
export async function startOtlpReceiver() {
  const port = await freePort();
  const rx = { url: `http://127.0.0.1:${port}/v1/traces`, spans: [], posts: 0, contentTypes: new Set(), fail: 0 };
  let server = null;
  const handle = (req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (d) => { body += d; });
    req.on('end', () => {
      rx.posts++;
      rx.contentTypes.add(req.headers['content-type']);
      if (req.method !== 'POST' || req.url !== '/v1/traces') { res.writeHead(404).end(); return; }
      if (rx.fail) { res.writeHead(rx.fail).end(); return; }
      let parsed;
      try { parsed = JSON.parse(body); } catch { res.writeHead(400).end('not JSON'); return; }
      for (const rs of parsed.resourceSpans || []) {
        const resource = attrs(rs.resource && rs.resource.attributes);
        for (const ss of rs.scopeSpans || []) {
          for (const s of ss.spans || []) rx.spans.push({ ...s, resource, attrs: attrs(s.attributes) });
        }
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  };
  rx.start = () => new Promise((resolve, reject) => {
    server = createServer(handle);
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
  rx.stop = () => new Promise((resolve) => {
    if (server === null) { resolve(); return; }
    server.close(() => resolve());
    server.closeAllConnections();
    server = null;
  });
  rx.failWith = (status) => { rx.fail = status; };
  /** The spans of one trace (hex id). */
  rx.trace = (traceId) => rx.spans.filter((s) => s.traceId === traceId);
  await rx.start();
  return rx;
}
