// npm web-push-testing (a real Web Push service for tests) on 127.0.0.1 only,
// on the port given: its own command line listens on every interface and
// writes endpoints naming `localhost`. Run by tests/it/webpush.rs from
// target/web-tools, beside its node_modules (scripts/test installs them
// from tests/web/package.json).
'use strict';
const port = Number(process.argv[2]);
const TestingServer = require('web-push-testing/src/server.js');
const { PushApiModel } = require('web-push-testing/src/PushApiModel.js');
const model = new PushApiModel();
const server = new TestingServer(model, port);
const listen = server._app.listen.bind(server._app);
server._app.listen = (p, callback) => listen(p, '127.0.0.1', callback);
model.notifyUrl = 'http://127.0.0.1:' + port + '/notify/';
server.startServer();
