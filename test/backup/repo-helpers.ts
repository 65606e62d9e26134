import {execFile, execFileSync} from 'node:child_process'
import {randomBytes} from 'node:crypto'
import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import {promisify} from 'node:util'

const pexec = promisify(execFile)

/** Fast scrypt parameters for tests. */
export const TEST_KDF = {N: 1024, r: 8, p: 1}
/** An irreducible polynomial (restic/chunker's test polynomial). */
export const TEST_POLY = '3da3358b4dc173'

export async function tempDir(prefix = 'lifeboat-test-'): Promise<string> {
  return fs.mkdtemp(path.join(os.tmpdir(), prefix))
}

/** Removes a temp tree, making read-only files/folders writable first (repository files are 0400). */
export async function removeTree(dir: string): Promise<void> {
  await fs.rm(dir, {recursive: true, force: true})
}

export interface ResticResult {
  stdout: string
  stderr: string
}

/** Runs restic with a password file (never the password in argv). */
export async function restic(repo: string, passwordFile: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<ResticResult> {
  const {stdout, stderr} = await pexec('restic', ['--no-cache', '-r', repo, '--password-file', passwordFile, ...args], {
    env: {...process.env, RESTIC_PASSWORD: '', RESTIC_PASSWORD_FILE: '', ...env},
    maxBuffer: 64 * 1024 * 1024,
  })
  return {stdout, stderr}
}

export async function writePasswordFile(dir: string, password: string): Promise<string> {
  const f = path.join(dir, `pw-${randomBytes(4).toString('hex')}`)
  await fs.writeFile(f, password + '\n', {mode: 0o600})
  return f
}

/** Whether the restic binary is on PATH (CI installs it). */
export function hasRestic(): boolean {
  try {
    execFileSync('restic', ['version'], {stdio: 'ignore'})
    return true
  } catch {
    return false
  }
}
