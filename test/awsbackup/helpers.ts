import {captureOutput} from '@oclif/test'
import {Readable} from 'node:stream'

import {BackupClient} from '@aws-sdk/client-backup'

import {ROOT} from '../helpers/env.js'

export interface Ran {
  code: number
  stdout: string
  stderr: string
  /** The parsed --json envelope (when stdout is one). */
  json?: any
}

/** Runs a command class in-process (so aws-sdk-client-mock applies) and returns its exit code and output. */
export async function run(cmd: {run: (argv: string[], root: string) => Promise<unknown>}, argv: string[]): Promise<Ran> {
  const env = {CI: '1'}
  const saved = Object.fromEntries(Object.keys(env).map((k) => [k, process.env[k]]))
  Object.assign(process.env, env)
  try {
    const out = await captureOutput(() => cmd.run(argv, ROOT))
    const code = out.error ? (out.error.oclif?.exit ?? 1) : 0
    let json: any
    try {
      json = JSON.parse(out.stdout)
    } catch {
      json = undefined
    }
    return {code, stdout: out.stdout, stderr: out.stderr, json}
  } finally {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k]
      else process.env[k] = v
    }
  }
}

/** An AWS-shaped service error as the SDK deserializes it (name, message, $metadata, $fault). */
export function awsErr(name: string, message: string, extra: Record<string, unknown> = {}): Error {
  return Object.assign(new Error(message), {name, $fault: 'client', $metadata: {httpStatusCode: 400, requestId: 'req-1', attempts: 1}, ...extra})
}

export interface FakeResponse {
  status: number
  body: unknown
  errorType?: string
}

/**
 * A BackupClient whose HTTP layer is a script of responses: the real SDK middleware (serialization, retries,
 * deserialization) runs; only the network is replaced. Retry delays are ~1 ms.
 */
export async function scriptedClient(responses: FakeResponse[]): Promise<{client: BackupClient; requests: Array<{method: string; path: string}>}> {
  const {ConfiguredRetryStrategy} = await import('@smithy/core/retry')
  const requests: Array<{method: string; path: string}> = []
  let i = 0
  const requestHandler = {
    async handle(req: {method: string; path: string}) {
      requests.push({method: req.method, path: req.path})
      const r = responses[Math.min(i++, responses.length - 1)]
      const headers: Record<string, string> = {'content-type': 'application/json', 'x-amzn-requestid': `req-${i}`}
      if (r.errorType) headers['x-amzn-errortype'] = r.errorType
      return {response: {statusCode: r.status, headers, body: Readable.from([Buffer.from(JSON.stringify(r.body))])}}
    },
    updateHttpClientConfig() {},
    httpHandlerConfigs: () => ({}),
  }
  const client = new BackupClient({
    region: 'us-east-1',
    credentials: {accessKeyId: 'AKIDTEST', secretAccessKey: 'test-secret'},
    maxAttempts: 5,
    retryStrategy: new ConfiguredRetryStrategy(5, () => 1),
    requestHandler,
  })
  return {client, requests}
}
