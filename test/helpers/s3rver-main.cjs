/* eslint-disable @typescript-eslint/no-require-imports -- a CommonJS launcher: s3rver is CommonJS */
// Starts s3rver (a local S3 server) for the tests: node s3rver-main.cjs DIR [CERT KEY]; prints {"port":N} once listening.
// Run with NODE_OPTIONS=--openssl-legacy-provider (s3rver's paginated listings need it on Node ≥ 17).
const fs = require('node:fs')
const S3rver = require('s3rver')

const [dir, cert, key] = process.argv.slice(2)
const server = new S3rver({
  address: '127.0.0.1',
  port: 0,
  silent: true,
  directory: dir,
  vhostBuckets: false,
  ...(cert ? {cert: fs.readFileSync(cert), key: fs.readFileSync(key)} : {}),
})
server.run().then(({port}) => process.stdout.write(JSON.stringify({port}) + '\n'))
// Exit with the test process that started us, even when it dies without stopping us.
const parent = process.ppid
setInterval(() => {
  try {
    process.kill(parent, 0)
  } catch {
    process.exit(0)
  }
}, 1000).unref()
process.on('SIGTERM', () => server.close().finally(() => process.exit(0)))
