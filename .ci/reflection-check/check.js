// A ringkv node seen by a client that knows nothing of ringkv: grpc-js-reflection-client speaks
// server reflection v1alpha only (as grpcurl before 1.9 does). With no proto file it lists the
// services, resolves ringkv.v1.KV, ringkv.v1.Watch and grpc.health.v1.Health from the node, calls
// Put, Get, Txn and Check, and reads the Put back from a Watch stream (as `grpcurl -d '{"prefix":..}'
// HOST:PORT ringkv.v1.Watch/Watch` does), all through the descriptors it downloaded. Exits 0 only if every answer is the expected one.
'use strict';
const grpc = require('@grpc/grpc-js');
const { GrpcReflection } = require('grpc-js-reflection-client');

// node check.js HOST:PORT [--cacert CA.crt [--cert C.crt --key C.key] [--token TOKEN]]: plaintext,
// or TLS trusting only the cluster CA (as grpcurl -cacert), optionally with a client certificate
// (grpcurl -cert/-key) and a bearer token on every call (grpcurl -H 'authorization: Bearer ...').
const fs = require('fs');
const target = process.argv[2];
const options = {};
for (let i = 3; i + 1 < process.argv.length; i += 2) options[process.argv[i].replace(/^--/, '')] = process.argv[i + 1];
if (!target || (options.token && !options.cacert)) {
  console.error('usage: node check.js HOST:PORT [--cacert CA [--cert CERT --key KEY] [--token TOKEN]]');
  process.exit(2);
}
function channelCredentials() {
  if (!options.cacert) return grpc.ChannelCredentials.createInsecure();
  const tls = grpc.credentials.createSsl(
    fs.readFileSync(options.cacert),
    options.key ? fs.readFileSync(options.key) : null,
    options.cert ? fs.readFileSync(options.cert) : null);
  if (!options.token) return tls;
  const bearer = grpc.credentials.createFromMetadataGenerator((_, done) => {
    const metadata = new grpc.Metadata();
    metadata.add('authorization', 'Bearer ' + options.token);
    done(null, metadata);
  });
  return grpc.credentials.combineChannelCredentials(tls, bearer);
}
const credentials = channelCredentials();
const mode = options.cacert
  ? 'TLS' + (options.cert ? ' with a client certificate' : '') + (options.token ? ' and a bearer token' : '')
  : 'plaintext';
const deadlineMillis = 10000;

function fail(message) {
  console.error('reflection-check: FAILED: ' + message);
  process.exit(1);
}

function call(client, method, request) {
  return new Promise((resolve, reject) => {
    client[method](request, { deadline: Date.now() + deadlineMillis }, (error, response) =>
      error ? reject(error) : resolve(response));
  });
}

async function serviceClient(reflection, symbol) {
  const descriptor = await reflection.getDescriptorBySymbol(symbol);
  const packageObject = descriptor.getPackageObject({ keepCase: true, longs: String, enums: String });
  const Service = symbol.split('.').reduce((object, part) => object && object[part], packageObject);
  if (typeof Service !== 'function') fail(`no client constructor for ${symbol} in the downloaded descriptor`);
  return new Service(target, credentials);
}

(async () => {
  const reflection = new GrpcReflection(target, credentials, {}, 'v1alpha');
  const services = await reflection.listServices();
  console.log('services: ' + services.join(', '));
  for (const expected of ['ringkv.v1.KV', 'ringkv.v1.Cluster', 'ringkv.v1.Watch', 'grpc.health.v1.Health']) {
    if (!services.includes(expected)) fail(`service ${expected} not listed`);
  }

  const kv = await serviceClient(reflection, 'ringkv.v1.KV');
  const key = Buffer.from('reflection-check:{k}');
  const value = Buffer.from('v-' + process.pid);
  await call(kv, 'Put', { key, value });
  const got = await call(kv, 'Get', { key });
  if (!got.found || !Buffer.from(got.value).equals(value)) fail('Get did not return the value Put wrote: ' + JSON.stringify(got));
  const txn = await call(kv, 'Txn', {
    compare: [{ key, target: 'VALUE', result: 'EQUAL', value }],
    success: [{ put: { key, value: Buffer.from('swapped') } }, { get: { key } }],
    failure: [],
  });
  if (!txn.succeeded) fail('Txn compare on the current value did not succeed: ' + JSON.stringify(txn));
  const read = txn.responses[1] && txn.responses[1].get;
  if (!read || Buffer.from(read.value).toString() !== 'swapped') fail('Txn get did not see its own put: ' + JSON.stringify(txn));
  console.log('Put, Get and Txn answered as expected (Txn revision ' + txn.revision + ')');

  const watch = await serviceClient(reflection, 'ringkv.v1.Watch');
  const event = await new Promise((resolve, reject) => {
    const stream = watch.Watch({ prefix: key, start: 'OLDEST' }, { deadline: Date.now() + deadlineMillis });
    stream.on('data', (response) => {
      const found = (response.events || []).find((e) => Buffer.from(e.value).toString() === 'swapped');
      if (found) {
        stream.cancel();
        resolve(found);
      }
    });
    stream.on('error', (error) => (error.code === grpc.status.CANCELLED ? null : reject(error)));
    stream.on('end', () => reject(new Error('the Watch stream ended before the Txn put arrived')));
  });
  // PUT is the enum's default value, which proto3 leaves out of the decoded message.
  if (!Buffer.from(event.key).equals(key) || (event.kind || 'PUT') !== 'PUT') fail('Watch event is not the Txn put: ' + JSON.stringify(event));
  console.log('Watch from OLDEST delivered the Txn put (partition ' + event.partition + ', revision ' + event.revision + ')');

  const health = await serviceClient(reflection, 'grpc.health.v1.Health');
  const status = await call(health, 'Check', {});
  if (status.status !== 'SERVING') fail('health check says ' + JSON.stringify(status));
  console.log('health: SERVING');
  console.log('reflection-check: OK (v1alpha client, no proto files, ' + mode + ')');
  process.exit(0);
})().catch((error) => fail(error && error.stack ? error.stack : String(error)));
