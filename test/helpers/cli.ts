import {spawn} from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'

import {ROOT} from './env.js'

export interface CliResult {
  code: number
  stdout: string
  stderr: string
}

/**
 * Jobs record their results under $XDG_STATE_HOME (docs/operations.md): a test that does not choose one gets a
 * temporary folder, so no test writes into the real user's state.
 */
let defaultStateHome: string | undefined
function stateHome(): string {
  if (!defaultStateHome) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lifeboat-test-state-'))
    fs.chmodSync(dir, 0o1777) // tests may run the CLI as another user
    process.on('exit', () => fs.rmSync(dir, {recursive: true, force: true}))
    defaultStateHome = dir
  }
  return defaultStateHome
}

/** Runs the built CLI (bin/run.js) as a user would, with no stdin. */
export function lifeboat(args: string[], env: NodeJS.ProcessEnv = {}, opts: {uid?: number; gid?: number} = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [path.join(ROOT, 'bin', 'run.js'), ...args], {
      env: {...process.env, XDG_STATE_HOME: stateHome(), ...env},
      stdio: ['ignore', 'pipe', 'pipe'],
      uid: opts.uid,
      gid: opts.gid,
    })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (b) => (stdout += b))
    child.stderr.on('data', (b) => (stderr += b))
    child.on('error', reject)
    child.on('close', (code) => resolve({code: code ?? -1, stdout, stderr}))
  })
}

/** The last JSON line of a --json run (the envelope). */
export function envelope(stdout: string): any {
  const lines = stdout.trim().split('\n')
  try {
    return JSON.parse(lines.at(-1)!)
  } catch {
    return JSON.parse(stdout)
  }
}
