// otlp-sink.mjs - a collector stand-in for bench/traces: answers every POST to /v1/traces
// 200 without parsing it (a real collector's work is not the server's cost), and prints
// the posts and bytes it took when stopped (SIGTERM or SIGINT).
//   node bench/otlp-sink.mjs PORT
import { createServer } from 'node:http';

const port = Number(process.argv[2]);
let posts = 0, bytes = 0;
const server = createServer((req, res) => {
  req.on('data', (d) => { bytes += d.length; });
  req.on('end', () => {
    posts++;
    res.writeHead(req.method === 'POST' ? 200 : 405, { 'content-type': 'application/json' }).end('{}');
  });
});
server.listen(port, '127.0.0.1');
const stop = () => {
  console.log(`otlp sink: ${posts} POST(s), ${(bytes / 1048576).toFixed(1)} MiB`);
  process.exit(0);
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
