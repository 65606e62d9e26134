import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'

import {loadConfig} from '../config/load.js'
import type {LifeboatConfig} from '../config/schema.js'
import {errorMessage, LifeboatError} from '../errors.js'
import {DEBIAN_PACKAGE, type Runner, defaultRunner, which} from '../exec/runner.js'

export type CheckStatus = 'ok' | 'missing' | 'fail' | 'warn' | 'skipped'

export interface DoctorCheck {
  name: string
  kind: 'runtime' | 'tool' | 'config' | 'aws'
  status: CheckStatus
  detail: string
  /** Features that need this. */
  neededFor: string[]
  /** True when a configured feature needs it: then a missing/failed check makes doctor exit non-zero. */
  required: boolean
  install?: string
  version?: string
  path?: string
}

export interface DoctorReport {
  ok: boolean
  checks: DoctorCheck[]
  configFile: string
}

interface ToolSpec {
  tool: string
  neededFor: string[]
  versionArgs: string[]
  /** Is it required for what the config turns on? */
  required: (c: LifeboatConfig) => boolean
}

const usesRaid = (c: LifeboatConfig) => Boolean(c.raid)
const usesEngine = (c: LifeboatConfig, e: 'md' | 'btrfs') =>
  c.raid?.engine === e || Boolean(c.raid?.arrays?.some((a) => (a.engine ?? c.raid?.engine ?? 'md') === e))

const TOOLS: ToolSpec[] = [
  {tool: 'mdadm', neededFor: ['raid (md)'], versionArgs: ['--version'], required: (c) => usesEngine(c, 'md')},
  {tool: 'btrfs', neededFor: ['raid (btrfs)'], versionArgs: ['--version'], required: (c) => usesEngine(c, 'btrfs')},
  {tool: 'lsblk', neededFor: ['raid (disk discovery)'], versionArgs: ['--version'], required: usesRaid},
  {tool: 'blkid', neededFor: ['raid (disk signatures)'], versionArgs: ['--version'], required: usesRaid},
  {tool: 'smartctl', neededFor: ['raid (disk health, optional)'], versionArgs: ['--version'], required: () => false},
  {tool: 'restic', neededFor: ['backup (optional: restic can read Lifeboat repositories)'], versionArgs: ['version'], required: () => false},
  {tool: 'systemctl', neededFor: ['schedule (systemd timers)'], versionArgs: ['--version'], required: () => false},
  {tool: 'python3', neededFor: ['backup restore (nanosecond file times; else microseconds)'], versionArgs: ['--version'], required: () => false},
]

export interface DoctorOptions {
  configFlag?: string
  online?: boolean
  env?: NodeJS.ProcessEnv
  runner?: Runner
  nodeVersion?: string
  /** Checks AWS credentials with STS GetCallerIdentity (only with online). */
  callerIdentity?: () => Promise<{account?: string; arn?: string}>
}

/** Checks what Lifeboat needs on this machine. Makes no network call unless `online`. */
export async function runDoctor(o: DoctorOptions = {}): Promise<DoctorReport> {
  const env = o.env ?? process.env
  const runner = o.runner ?? defaultRunner
  const checks: DoctorCheck[] = []

  const nodeVersion = o.nodeVersion ?? process.versions.node
  const major = Number(nodeVersion.split('.')[0])
  checks.push({
    name: 'node',
    kind: 'runtime',
    status: major >= 20 ? 'ok' : 'fail',
    detail: major >= 20 ? `Node.js ${nodeVersion}` : `Node.js ${nodeVersion} is too old: Lifeboat needs 20 or newer`,
    neededFor: ['everything'],
    required: true,
    version: nodeVersion,
  })

  let config: LifeboatConfig = {}
  let configFile = ''
  try {
    const loaded = await loadConfig(o.configFlag, env)
    config = loaded.config
    configFile = loaded.file
    checks.push({
      name: 'config',
      kind: 'config',
      status: 'ok',
      detail: loaded.exists ? `${loaded.file} is valid` : `no config file at ${loaded.file} (defaults apply)`,
      neededFor: ['everything'],
      required: true,
      path: loaded.file,
    })
  } catch (error) {
    configFile = error instanceof LifeboatError && error.where ? error.where : ''
    checks.push({
      name: 'config',
      kind: 'config',
      status: 'fail',
      detail: errorMessage(error),
      neededFor: ['everything'],
      required: true,
    })
  }

  for (const spec of TOOLS) {
    const found = which(spec.tool, env)
    const required = spec.required(config)
    const install = `apt-get install ${DEBIAN_PACKAGE[spec.tool] ?? spec.tool}`
    if (!found) {
      checks.push({name: spec.tool, kind: 'tool', status: 'missing', detail: `not on PATH (${install})`, neededFor: spec.neededFor, required, install})
      continue
    }
    let version: string | undefined
    try {
      const r = await runner.run(found, spec.versionArgs, {timeoutMs: 5000, okExitCodes: [0, 1]})
      version = (r.stdout || r.stderr).trim().split('\n')[0]
    } catch {
      version = undefined
    }
    checks.push({name: spec.tool, kind: 'tool', status: 'ok', detail: version ?? found, neededFor: spec.neededFor, required, path: found, version})
  }

  checks.push(await awsCheck(config, env, o))
  const ok = checks.every((c) => !c.required || c.status === 'ok' || c.status === 'warn' || c.status === 'skipped')
  return {ok, checks, configFile}
}

function usesAws(c: LifeboatConfig): boolean {
  const s3Repo = Object.values(c.repositories ?? {}).some((r) => r.location.startsWith('s3:'))
  const sns = Boolean(c.notifications?.sinks?.some((s) => s.type === 'sns'))
  return Boolean(c.aws) || Boolean(c.dr) || s3Repo || sns
}

async function awsCheck(config: LifeboatConfig, env: NodeJS.ProcessEnv, o: DoctorOptions): Promise<DoctorCheck> {
  const required = usesAws(config)
  const base = {name: 'aws-credentials', kind: 'aws' as const, neededFor: ['s3', 'aws-backup', 'dr', 'sns notifications'], required}
  const source = await staticCredentialSource(config, env)
  if (o.online && o.callerIdentity) {
    try {
      const id = await o.callerIdentity()
      return {...base, status: 'ok', detail: `authenticated as ${id.arn ?? 'unknown'} (account ${id.account ?? '?'})`}
    } catch (error) {
      return {...base, status: 'fail', detail: `AWS rejected the credentials: ${errorMessage(error)}`}
    }
  }
  if (source) return {...base, status: 'ok', detail: `${source} (not verified; use --online to ask AWS)`}
  return {
    ...base,
    status: required ? 'missing' : 'skipped',
    detail: required
      ? 'no AWS credentials found: set AWS_PROFILE or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, or run `aws configure`'
      : 'no AWS credentials found (not needed: no AWS feature is configured)',
  }
}

/** Where the SDK chain would find credentials, judged from env and files only (no network). */
export async function staticCredentialSource(config: LifeboatConfig, env: NodeJS.ProcessEnv): Promise<string | undefined> {
  if (env.AWS_ACCESS_KEY_ID && env.AWS_SECRET_ACCESS_KEY) return 'environment (AWS_ACCESS_KEY_ID)'
  if (env.AWS_WEB_IDENTITY_TOKEN_FILE && env.AWS_ROLE_ARN) return 'web identity token (AWS_WEB_IDENTITY_TOKEN_FILE)'
  if (env.AWS_CONTAINER_CREDENTIALS_RELATIVE_URI || env.AWS_CONTAINER_CREDENTIALS_FULL_URI) return 'container credentials'
  const profile = config.aws?.profile ?? env.AWS_PROFILE ?? 'default'
  const home = env.HOME ?? os.homedir()
  const files = [env.AWS_SHARED_CREDENTIALS_FILE ?? path.join(home, '.aws', 'credentials'), env.AWS_CONFIG_FILE ?? path.join(home, '.aws', 'config')]
  for (const f of files) {
    let text: string
    try {
      text = await fs.readFile(f, 'utf8')
    } catch {
      continue
    }
    const names = [`[${profile}]`, `[profile ${profile}]`]
    if (text.split('\n').some((line) => names.includes(line.trim()))) return `profile "${profile}" in ${f}`
  }
  return undefined
}
