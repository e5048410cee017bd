// SPDX-License-Identifier: Apache-2.0
// The OpenTelemetry Node.js SDK as a client of otlp-arrow (driven by test_sdk_node.py).
//
//   node send_spans.js --grpc http://127.0.0.1:PORT --http http://127.0.0.1:PORT/v1/traces \
//       --out spans.json
//
// Six tracer providers (OTLP/gRPC, OTLP/HTTP protobuf and OTLP/HTTP JSON, each plain and with
// gzip), each with its own resource, record the same traces. Next to each OTLP exporter an
// InMemorySpanExporter keeps the spans as the SDK recorded them; they are written to --out as
// JSON, with every attribute value tagged with its JavaScript type, together with the result of
// every OTLP export call. Exits non-zero if an export failed.
'use strict';

const fs = require('fs');
const api = require('@opentelemetry/api');
const { TraceState } = require('@opentelemetry/core');
const { resourceFromAttributes } = require('@opentelemetry/resources');
const {
  BasicTracerProvider, BatchSpanProcessor, InMemorySpanExporter, SimpleSpanProcessor,
} = require('@opentelemetry/sdk-trace-base');
const { NodeTracerProvider } = require('@opentelemetry/sdk-trace-node');
const { OTLPTraceExporter: GrpcExporter } = require('@opentelemetry/exporter-trace-otlp-grpc');
const { OTLPTraceExporter: ProtoExporter } = require('@opentelemetry/exporter-trace-otlp-proto');
const { OTLPTraceExporter: JsonExporter } = require('@opentelemetry/exporter-trace-otlp-http');

function parseArgs(argv) {
  const args = {};
  for (let i = 2; i < argv.length; i += 2) args[argv[i].replace(/^--/, '')] = argv[i + 1];
  for (const key of ['grpc', 'http', 'out']) {
    if (!args[key]) throw new Error(`missing --${key}`);
  }
  return args;
}

// Span attribute values of every kind the Node SDK takes (it drops Uint8Array and objects on
// spans, but keeps them in resources).
const RICH_ATTRIBUTES = {
  'str': 'héllo wörld ✓ 日本',
  'str.empty': '',
  'bool.true': true,
  'bool.false': false,
  'int': 42,
  'int.negative': -7,
  'int.max_safe': Number.MAX_SAFE_INTEGER,
  'int.min_safe': Number.MIN_SAFE_INTEGER,
  'double': 3.141592653589793,
  'double.negative': -0.5,
  'double.nan': NaN,
  'double.infinity': Infinity,
  'double.tiny': 5e-324,
  'arr.str': ['a', '', 'ü'],
  'arr.bool': [true, false],
  'arr.int': [1, -2, 3],
  'arr.double': [1.5, -0.25],
  'arr.with_null': ['x', null, 'z'],
  'arr.empty': [],
};

const LIMITS = {
  attributeCountLimit: 25,
  eventCountLimit: 4,
  linkCountLimit: 3,
  attributePerEventCountLimit: 3,
  attributePerLinkCountLimit: 2,
};

// Tags a value with its JavaScript type, so that the JSON keeps what JSON alone would lose.
function tag(value) {
  if (value === null || value === undefined) return { empty: true };
  if (typeof value === 'string') return { str: value };
  if (typeof value === 'boolean') return { bool: value };
  if (typeof value === 'number') {
    return { number: Number.isFinite(value) ? value : String(value) };
  }
  if (value instanceof Uint8Array) return { bytes: Buffer.from(value).toString('base64') };
  if (Array.isArray(value)) return { array: value.map(tag) };
  if (typeof value === 'object') return { kvlist: Object.keys(value).map(k => [k, tag(value[k])]) };
  throw new Error(`untaggable value ${value}`);
}

const tagAttributes = attributes => Object.keys(attributes || {}).map(k => [k, tag(attributes[k])]);

function describe(span, exporter) {
  const ctx = span.spanContext();
  const parent = span.parentSpanContext;
  return {
    exporter,
    traceId: ctx.traceId,
    spanId: ctx.spanId,
    traceFlags: ctx.traceFlags,
    traceState: ctx.traceState ? ctx.traceState.serialize() : null,
    parentSpanId: parent ? parent.spanId : null,
    parentIsRemote: parent ? Boolean(parent.isRemote) : null,
    name: span.name,
    kind: span.kind,
    startTime: span.startTime,
    endTime: span.endTime,
    status: { code: span.status.code, message: span.status.message ?? null },
    attributes: tagAttributes(span.attributes),
    droppedAttributesCount: span.droppedAttributesCount,
    events: span.events.map(e => ({
      name: e.name, time: e.time, attributes: tagAttributes(e.attributes),
      droppedAttributesCount: e.droppedAttributesCount ?? 0,
    })),
    droppedEventsCount: span.droppedEventsCount,
    links: span.links.map(l => ({
      traceId: l.context.traceId,
      spanId: l.context.spanId,
      traceFlags: l.context.traceFlags,
      isRemote: Boolean(l.context.isRemote),
      traceState: l.context.traceState ? l.context.traceState.serialize() : null,
      attributes: tagAttributes(l.attributes),
      droppedAttributesCount: l.droppedAttributesCount ?? 0,
    })),
    droppedLinksCount: span.droppedLinksCount,
    resource: { attributes: tagAttributes(span.resource.attributes),
                schemaUrl: span.resource.schemaUrl ?? null },
    scope: { name: span.instrumentationScope.name,
             version: span.instrumentationScope.version ?? null,
             schemaUrl: span.instrumentationScope.schemaUrl ?? null },
  };
}

// Forwards to the OTLP exporter and keeps the result of every export.
class RecordingExporter {
  constructor(inner) { this.inner = inner; this.results = []; }
  export(spans, done) {
    this.inner.export(spans, result => {
      this.results.push({ spans: spans.length, code: result.code,
                          error: result.error ? String(result.error) : null });
      done(result);
    });
  }
  shutdown() { return this.inner.shutdown(); }
  forceFlush() { return this.inner.forceFlush ? this.inner.forceFlush() : Promise.resolve(); }
}

// Nanoseconds since the epoch → HrTime, exactly.
function hr(ns) {
  return [Number(ns / 1000000000n), Number(ns % 1000000000n)];
}

function emitTraces(provider, tag) {
  const scoped = provider.getTracer('interop.node.scoped', '4.5.6',
                                    { schemaUrl: 'https://opentelemetry.io/schemas/1.26.0' });
  const plain = provider.getTracer('interop.node.plain');
  const base = BigInt(Date.now()) * 1000000n - 5000000000n + 123n;
  const at = offset => hr(base + BigInt(offset));

  const remoteParent = {
    traceId: '0af7651916cd43dd8448eb211c80319c', spanId: 'b7ad6b7169203331',
    traceFlags: api.TraceFlags.SAMPLED, isRemote: true,
    traceState: new TraceState('vendor=v1,other=x-y'),
  };
  const parentCtx = api.trace.setSpanContext(api.ROOT_CONTEXT, remoteParent);

  const root = scoped.startSpan(`${tag} GET /api/ü`,
                                { kind: api.SpanKind.SERVER, attributes: RICH_ATTRIBUTES,
                                  startTime: at(1) }, parentCtx);
  const rootCtx = api.trace.setSpan(api.ROOT_CONTEXT, root);

  const client = scoped.startSpan(`${tag} client call`,
                                  { kind: api.SpanKind.CLIENT, startTime: at(1000) }, rootCtx);
  client.addEvent('request.sent', { size: 123, ok: true, ratio: 0.25 }, at(1500));
  client.addEvent('no attributes', at(1600));
  client.addEvent('too many attributes', { a: 1, b: '2', c: 3.5, d: [1], e: false }, at(1700));
  client.setStatus({ code: api.SpanStatusCode.ERROR, message: 'upstream said 503: ✗' });
  client.end(at(2000000));

  const producer = plain.startSpan(`${tag} publish`,
                                   { kind: api.SpanKind.PRODUCER, startTime: at(3000) }, rootCtx);
  producer.setStatus({ code: api.SpanStatusCode.OK });
  producer.end(at(3500));

  const otherTrace = { traceId: '00000000000000000000000000000001', spanId: '0000000000000002',
                       traceFlags: api.TraceFlags.NONE, isRemote: true };
  const consumer = plain.startSpan(`${tag} consume`, {
    kind: api.SpanKind.CONSUMER, startTime: at(4000), links: [
      { context: producer.spanContext(), attributes: { 'link.kind': 'follows', n: 2 } },
      { context: otherTrace, attributes: { a: 1, b: 2, c: 3 } },  // one over the limit
      { context: remoteParent },
    ],
  }, api.ROOT_CONTEXT);
  consumer.addLink({ context: root.spanContext(), attributes: { late: true } });  // dropped
  consumer.end(at(9000));

  const internal = plain.startSpan(`${tag} internal`, { startTime: at(10000) }, rootCtx);
  for (let i = 0; i < 6; i++) internal.addEvent(`tick ${i}`, { i }, at(10001 + i));
  for (let i = 0; i < 28; i++) internal.setAttribute(`attr.${String(i).padStart(2, '0')}`, i);
  internal.end(at(20000));

  const lonely = plain.startSpan(`${tag} lonely root`, { startTime: at(30000) },
                                 api.ROOT_CONTEXT);
  lonely.end(at(30000));

  root.setStatus({ code: api.SpanStatusCode.ERROR, message: 'root failed' });
  root.end(at(50000000));
}

function makeProvider(tag, exporter, Provider) {
  const resource = resourceFromAttributes({
    'service.name': `interop-node-${tag}`,
    'service.version': '9.8.7',
    'deployment.environment': 'ci',
    'host.id': new Uint8Array([0xde, 0xad, 0xbe, 0xef]),
    'process.pid': 4242,
    'sampling.ratio': 0.5,
    'feature.flags': ['a', 'b'],
    'team': { name: 'tracing', size: 3 },
  }, { schemaUrl: 'https://opentelemetry.io/schemas/1.25.0' });
  const memory = new InMemorySpanExporter();
  const recording = new RecordingExporter(exporter);
  const provider = new Provider({
    resource, spanLimits: LIMITS,
    spanProcessors: [new SimpleSpanProcessor(memory),
                     new BatchSpanProcessor(recording, { scheduledDelayMillis: 100 })],
  });
  return { tag, provider, memory, recording };
}

async function main() {
  const args = parseArgs(process.argv);
  const setups = [
    makeProvider('grpc', new GrpcExporter({ url: args.grpc }), NodeTracerProvider),
    makeProvider('grpc-gzip', new GrpcExporter({ url: args.grpc, compression: 'gzip' }),
                 NodeTracerProvider),
    makeProvider('http', new ProtoExporter({ url: args.http }), BasicTracerProvider),
    makeProvider('http-gzip', new ProtoExporter({ url: args.http, compression: 'gzip' }),
                 BasicTracerProvider),
    makeProvider('http-json', new JsonExporter({ url: args.http }), BasicTracerProvider),
    makeProvider('http-json-gzip', new JsonExporter({ url: args.http, compression: 'gzip' }),
                 BasicTracerProvider),
  ];
  for (const s of setups) emitTraces(s.provider, s.tag);
  const out = { spans: [], exports: {} };
  let failed = false;
  for (const s of setups) {
    await s.provider.forceFlush();
    // Before shutdown(), which empties the in-memory exporter.
    out.spans.push(...s.memory.getFinishedSpans().map(span => describe(span, s.tag)));
    await s.provider.shutdown();
    out.exports[s.tag] = s.recording.results;
    if (s.recording.results.length === 0 || s.recording.results.some(r => r.code !== 0)) {
      failed = true;
    }
  }
  fs.writeFileSync(args.out, JSON.stringify(out, null, 1));
  if (failed) {
    console.error('an OTLP export failed:', JSON.stringify(out.exports));
    process.exit(1);
  }
}

main().catch(error => {
  console.error(error);
  process.exit(2);
});
