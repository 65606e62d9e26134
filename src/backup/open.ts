/**
 * Finding and opening a repository: where it is (flag > LIFEBOAT_REPOSITORY > RESTIC_REPOSITORY > config >
 * the default local folder) and its password (LIFEBOAT_PASSWORD > --password-file / LIFEBOAT_PASSWORD_FILE >
 * --password-command > RESTIC_PASSWORD / RESTIC_PASSWORD_FILE > config > a prompt on a terminal).
 */
import fs from 'node:fs/promises'
import path from 'node:path'

import type {LifeboatConfig, RepositoryConfig} from '../config/schema.js'
import {defaultRepositoryPath, expandHome} from '../config/paths.js'
import {LifeboatError, UsageError} from '../errors.js'
import {runTool} from '../exec/runner.js'
import {LocalBackend} from './backend/local.js'
import type {S3Options} from './backend/s3.js'
import {NoRepositoryError} from './errors.js'
import {randomPolynomial} from './polynomial.js'
import {type InitOptions, Repository, type RepositoryOptions} from './repository.js'
import type {Backend} from './types.js'

/** How to reach remote storage (S3 settings from flags and config). */
export interface BackendOptions {
  s3?: S3Options
}

export type LocationSource = 'flag' | 'LIFEBOAT_REPOSITORY' | 'RESTIC_REPOSITORY' | 'config' | 'default'

export interface RepositoryLocation {
  location: string
  source: LocationSource
  /** The config file's entry, when the location came from (or names) one. */
  entry?: RepositoryConfig
  name?: string
}

export function resolveLocation(flag: string | undefined, config: LifeboatConfig, env: NodeJS.ProcessEnv = process.env): RepositoryLocation {
  const repos = config.repositories ?? {}
  if (flag) {
    // --repo may name a repository of the config file.
    if (repos[flag]) return {location: repos[flag].location, source: 'flag', entry: repos[flag], name: flag}
    return {location: flag, source: 'flag'}
  }
  if (env.LIFEBOAT_REPOSITORY) return {location: env.LIFEBOAT_REPOSITORY, source: 'LIFEBOAT_REPOSITORY'}
  if (env.RESTIC_REPOSITORY) return {location: env.RESTIC_REPOSITORY, source: 'RESTIC_REPOSITORY'}
  const name = config.defaultRepository ?? (repos.default ? 'default' : undefined)
  if (name) {
    const entry = repos[name]
    if (!entry) {
      throw new UsageError(`defaultRepository "${name}" is not among the config's repositories`, {
        hint: `add repositories.${name}.location to the config file, or pass --repo`,
      })
    }
    return {location: entry.location, source: 'config', entry, name}
  }
  return {location: defaultRepositoryPath(env), source: 'default'}
}

/** The storage behind a location string. The S3 backend (and the AWS SDK) is loaded only for an S3 location. */
export async function backendFor(location: string, opts: BackendOptions = {}): Promise<Backend> {
  if (location.startsWith('s3:')) {
    const {S3Backend} = await import('./backend/s3.js')
    return new S3Backend(location, opts.s3)
  }
  if (/^(sftp|rest|b2|azure|gs|swift|rclone):/.test(location)) {
    throw new UsageError(`unsupported repository location ${location}`, {code: 'UNSUPPORTED_LOCATION', hint: 'use a local folder or an S3 bucket'})
  }
  const p = location.startsWith('local:') ? location.slice('local:'.length) : location
  return new LocalBackend(path.resolve(expandHome(p)))
}

export interface PasswordSources {
  passwordFile?: string
  passwordCommand?: string
  env?: NodeJS.ProcessEnv
  entry?: RepositoryConfig
  /** Asks on a terminal; absent when prompting is not allowed. */
  prompt?: (opts: {confirm: boolean}) => Promise<string>
  /** Ask twice (creating a repository). */
  confirm?: boolean
}

/** The environment variables one password is read from (the repository's own, or the source's of a copy). */
interface PasswordEnvNames {
  password: string
  passwordFile: string
  resticPassword: string
  resticPasswordFile: string
}

const MAIN_PASSWORD_ENV: PasswordEnvNames = {
  password: 'LIFEBOAT_PASSWORD',
  passwordFile: 'LIFEBOAT_PASSWORD_FILE',
  resticPassword: 'RESTIC_PASSWORD',
  resticPasswordFile: 'RESTIC_PASSWORD_FILE',
}

const FROM_PASSWORD_ENV: PasswordEnvNames = {
  password: 'LIFEBOAT_FROM_PASSWORD',
  passwordFile: 'LIFEBOAT_FROM_PASSWORD_FILE',
  resticPassword: 'RESTIC_FROM_PASSWORD',
  resticPasswordFile: 'RESTIC_FROM_PASSWORD_FILE',
}

/** The password from the first source that has one, in the documented order; undefined when none has. */
async function findPassword(s: PasswordSources, names: PasswordEnvNames): Promise<string | undefined> {
  const env = s.env ?? process.env
  if (env[names.password]) return env[names.password]
  const file = s.passwordFile ?? env[names.passwordFile]
  if (file) return readPasswordFile(file)
  if (s.passwordCommand) return runPasswordCommand(s.passwordCommand)
  if (env[names.resticPassword]) return env[names.resticPassword]
  const resticFile = env[names.resticPasswordFile]
  if (resticFile) return readPasswordFile(resticFile)
  if (s.entry?.passwordFile) return readPasswordFile(expandHome(s.entry.passwordFile))
  if (s.entry?.passwordCommand) return runPasswordCommand(s.entry.passwordCommand)
  if (s.entry?.password) return s.entry.password
  if (s.prompt) return s.prompt({confirm: Boolean(s.confirm)})
  return undefined
}

/** Finds the repository password; throws a usage error naming the ways to supply one. */
export async function resolvePassword(s: PasswordSources): Promise<string> {
  const pw = await findPassword(s, MAIN_PASSWORD_ENV)
  if (pw !== undefined) return pw
  throw new UsageError('the repository password is needed: set LIFEBOAT_PASSWORD, or pass --password-file FILE or --password-command CMD', {
    code: 'MISSING_PASSWORD',
    hint: 'LIFEBOAT_PASSWORD_FILE, RESTIC_PASSWORD and RESTIC_PASSWORD_FILE work too; on a terminal Lifeboat asks',
  })
}

/**
 * Where the source repository of `copy` / `init --copy-chunker-params` is: --from-repo (a folder or a config
 * repository name) > LIFEBOAT_FROM_REPOSITORY > RESTIC_FROM_REPOSITORY. There is no default.
 */
export function resolveFromLocation(flag: string | undefined, config: LifeboatConfig, env: NodeJS.ProcessEnv = process.env): RepositoryLocation {
  const loc = flag || env.LIFEBOAT_FROM_REPOSITORY || env.RESTIC_FROM_REPOSITORY
  if (!loc) {
    throw new UsageError('the source repository is needed: pass --from-repo REPO', {
      code: 'MISSING_FROM_REPOSITORY',
      hint: 'LIFEBOAT_FROM_REPOSITORY and RESTIC_FROM_REPOSITORY work too; the destination is --repo',
    })
  }
  return resolveLocation(loc, config, {})
}

/**
 * The source repository's password (copy, init --copy-chunker-params), the same pattern as resolvePassword
 * with "from" names: LIFEBOAT_FROM_PASSWORD > --from-password-file / LIFEBOAT_FROM_PASSWORD_FILE >
 * --from-password-command > RESTIC_FROM_PASSWORD > RESTIC_FROM_PASSWORD_FILE > the config entry when
 * --from-repo names one > a prompt on a terminal.
 */
export async function resolveFromPassword(s: Omit<PasswordSources, 'confirm'>): Promise<string> {
  const pw = await findPassword(s, FROM_PASSWORD_ENV)
  if (pw !== undefined) return pw
  throw new UsageError('the source repository password is needed: set LIFEBOAT_FROM_PASSWORD, or pass --from-password-file FILE or --from-password-command CMD', {
    code: 'MISSING_FROM_PASSWORD',
    hint: 'LIFEBOAT_FROM_PASSWORD_FILE, RESTIC_FROM_PASSWORD and RESTIC_FROM_PASSWORD_FILE work too; on a terminal Lifeboat asks',
  })
}

async function readPasswordFile(file: string): Promise<string> {
  let text: string
  try {
    text = await fs.readFile(file, 'utf8')
  } catch (error) {
    throw new UsageError(`cannot read the password file ${file}: ${(error as NodeJS.ErrnoException).code ?? error}`, {where: file})
  }
  // Like restic: the first line, without its line ending.
  const pw = text.split(/\r?\n/)[0]
  if (pw === '') throw new UsageError(`the password file ${file} is empty`, {where: file})
  return pw
}

/** Splits a command line into argv (single and double quotes, backslash escapes); never runs a shell. */
export function splitCommandLine(cmd: string): string[] {
  const out: string[] = []
  let cur = ''
  let has = false
  let q: '"' | "'" | undefined
  for (let i = 0; i < cmd.length; i++) {
    const c = cmd[i]
    if (q) {
      if (c === q) q = undefined
      else if (c === '\\' && q === '"' && i + 1 < cmd.length) cur += cmd[++i]
      else cur += c
    } else if (c === '"' || c === "'") {
      q = c
      has = true
    } else if (c === '\\' && i + 1 < cmd.length) {
      cur += cmd[++i]
      has = true
    } else if (/\s/.test(c)) {
      if (has || cur) out.push(cur)
      cur = ''
      has = false
    } else cur += c
  }
  if (q) throw new UsageError(`unbalanced quote in --password-command`)
  if (has || cur) out.push(cur)
  return out
}

async function runPasswordCommand(cmd: string): Promise<string> {
  const argv = splitCommandLine(cmd)
  if (argv.length === 0) throw new UsageError('--password-command is empty')
  const r = await runTool(argv[0], argv.slice(1), {timeoutMs: 60_000}).catch((error: unknown) => {
    throw new UsageError(`the password command failed: ${(error as Error).message}`, {code: 'PASSWORD_COMMAND_FAILED'})
  })
  const pw = r.stdout.split(/\r?\n/)[0]
  if (pw === '') throw new UsageError('the password command printed nothing')
  return pw
}

export interface OpenRequest {
  location: RepositoryLocation
  password: () => Promise<string>
  options?: RepositoryOptions
  backend?: BackendOptions
}

/** Opens an existing repository. */
export async function openRepository(r: OpenRequest): Promise<Repository> {
  const backend = await backendFor(r.location.location, r.backend)
  if (!(await backend.exists({type: 'config', name: 'config'}))) {
    throw new NoRepositoryError(backend.location)
  }
  return Repository.open(backend, await r.password(), {compression: r.location.entry?.compression, ...r.options})
}

/** Creates a repository; refuses an existing one. */
export async function initRepository(r: OpenRequest & {init?: InitOptions}): Promise<Repository> {
  const backend = await backendFor(r.location.location, r.backend)
  if (await backend.exists({type: 'config', name: 'config'})) {
    throw new LifeboatError(`a repository already exists at ${backend.location}`, {code: 'REPOSITORY_EXISTS', where: backend.location})
  }
  const password = await r.password()
  return Repository.init(backend, password, {chunkerPolynomial: randomPolynomial(), compression: r.location.entry?.compression, ...r.init})
}
