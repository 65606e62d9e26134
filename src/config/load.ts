import fs from 'node:fs/promises'

import {ConfigError} from '../errors.js'
import {defaultConfigPath} from './paths.js'
import type {LifeboatConfig} from './schema.js'

export interface LoadedConfig {
  /** The file that was (or would have been) read. */
  file: string
  exists: boolean
  config: LifeboatConfig
}

/**
 * Where the config file is: `--config`, else `LIFEBOAT_CONFIG`, else the XDG default.
 * An explicitly named file must exist; the default one may be absent (then everything is defaults).
 */
export function configPath(flag: string | undefined, env: NodeJS.ProcessEnv = process.env): {file: string; explicit: boolean} {
  if (flag) return {file: flag, explicit: true}
  if (env.LIFEBOAT_CONFIG) return {file: env.LIFEBOAT_CONFIG, explicit: true}
  return {file: defaultConfigPath(env), explicit: false}
}

export async function loadConfig(flag?: string, env: NodeJS.ProcessEnv = process.env): Promise<LoadedConfig> {
  const {file, explicit} = configPath(flag, env)
  let text: string
  try {
    text = await fs.readFile(file, 'utf8')
  } catch (error: any) {
    if (error?.code === 'ENOENT' && !explicit) return {file, exists: false, config: {}}
    const why = error?.code === 'ENOENT' ? 'does not exist' : `cannot be read (${error?.code ?? error})`
    throw new ConfigError(`config file ${file} ${why}`, [], {
      where: file,
      hint: 'check the path given by --config or LIFEBOAT_CONFIG, or create one with `lifeboat config init`',
    })
  }
  const {parseConfigText} = await import('./parse.js')
  return {file, exists: true, config: parseConfigText(text, file)}
}

/** Field names whose values are secrets: always redacted when shown. */
const SECRET_KEY = /^(password|secret|token|secretAccessKey|sessionToken|accessKeyId)$/i

export function redactSecrets<T>(value: T): T {
  if (Array.isArray(value)) return value.map((v) => redactSecrets(v)) as T
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {}
    for (const [k, v] of Object.entries(value)) out[k] = SECRET_KEY.test(k) && v !== undefined ? '***' : redactSecrets(v)
    return out as T
  }
  return value
}

/**
 * Applies `LIFEBOAT_*` environment variables over the file's values (flags are applied later by each command,
 * so the precedence is flags > env > file > defaults).
 */
export function applyEnv(config: LifeboatConfig, env: NodeJS.ProcessEnv = process.env): LifeboatConfig {
  const out: LifeboatConfig = structuredClone(config)
  if (env.LIFEBOAT_AWS_PROFILE) out.aws = {...out.aws, profile: env.LIFEBOAT_AWS_PROFILE}
  if (env.LIFEBOAT_AWS_REGION) out.aws = {...out.aws, region: env.LIFEBOAT_AWS_REGION}
  if (env.LIFEBOAT_HOST) out.backup = {...out.backup, host: env.LIFEBOAT_HOST}
  return out
}
