import {S3ServiceException} from '@aws-sdk/client-s3'
import {captureOutput} from '@oclif/test'

import {s3Runtime} from '../../src/cli/s3-command.js'
import {isolateEnv, ROOT} from '../helpers/env.js'

/** An S3 error shaped as the SDK throws it for an S3 error response. */
export function s3Error(name: string, status: number, message = name): S3ServiceException {
  return new S3ServiceException({
    name,
    $fault: status >= 500 ? 'server' : 'client',
    $metadata: {httpStatusCode: status, requestId: 'R3QU35T1D', extendedRequestId: 'ext', attempts: 1, totalRetryDelay: 0},
    message,
  })
}

export interface Ran {
  code: number
  stdout: string
  stderr: string
  /** The --json envelope when stdout holds one. */
  json?: any
}

/** Runs a command class in-process (so aws-sdk-client-mock applies), as `lifeboat …` would. */
export async function runCmd(Cmd: {run(argv: string[], root: string): Promise<unknown>}, argv: string[]): Promise<Ran> {
  const r = await captureOutput(() => Cmd.run(argv, ROOT))
  const code = r.error ? (r.error.oclif?.exit ?? 1) : 0
  let json: any
  try {
    json = JSON.parse(r.stdout)
  } catch {
    json = undefined
  }
  return {code, stdout: r.stdout, stderr: r.stderr, json}
}

/** No real waiting between verify reads; counts the sleeps. */
export function fakeSleep(): {calls: number[]; restore: () => void} {
  const saved = s3Runtime.sleep
  const calls: number[] = []
  s3Runtime.sleep = async (ms) => {
    calls.push(ms)
  }
  return {calls, restore: () => (s3Runtime.sleep = saved)}
}

/** Commands run as from a script: no prompts, AWS region set, no real credentials needed (the client is mocked). */
export function scriptEnv(): () => void {
  const saved = {CI: process.env.CI, AWS_REGION: process.env.AWS_REGION, AWS_PROFILE: process.env.AWS_PROFILE}
  process.env.CI = '1'
  process.env.AWS_REGION = 'eu-west-1'
  delete process.env.AWS_PROFILE
  return () => {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k]
      else process.env[k] = v
    }
  }
}

/**
 * Mocha hooks of the command tests: an isolated HOME/XDG, script mode (no prompts), and per test `fresh()`
 * (reset mocks, install fakes) and a fake sleep. Returns accessors for the temp dir and the sleeps.
 */
export function commandTestHooks(fresh: () => void): {dir: () => string; sleeps: () => number[]} {
  let env: ReturnType<typeof isolateEnv>
  let restoreEnv: () => void
  let sleep: ReturnType<typeof fakeSleep>
  before(() => {
    env = isolateEnv()
    restoreEnv = scriptEnv()
  })
  after(() => {
    restoreEnv()
    env.restore()
  })
  beforeEach(() => {
    fresh()
    sleep = fakeSleep()
  })
  afterEach(() => sleep.restore())
  return {dir: () => env.dir, sleeps: () => sleep.calls}
}
