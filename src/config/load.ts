import fs from 'node:fs/promises'
import {isMap, isScalar, LineCounter, parseDocument, type Document} from 'yaml'
import type {z} from 'zod'

import {ConfigError, type ConfigIssue} from '../errors.js'
import {defaultConfigPath} from './paths.js'
import {configSchema, type LifeboatConfig} from './schema.js'

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
  return {file, exists: true, config: parseConfigText(text, file)}
}

/** Parses and validates YAML text against a zod schema; every problem is reported with file:line:column. */
export function parseYamlWithSchema<S extends z.ZodType>(text: string, file: string, schema: S): z.infer<S> {
  const lineCounter = new LineCounter()
  const doc = parseDocument(text, {lineCounter, prettyErrors: false, uniqueKeys: true})
  if (doc.errors.length > 0) {
    const issues: ConfigIssue[] = doc.errors.map((e) => {
      const pos = lineCounter.linePos(e.pos[0])
      return {file, line: pos.line, column: pos.col, path: '', message: firstLine(e.message)}
    })
    throw new ConfigError(formatIssues('is not valid YAML', file, issues), issues, {
      where: where(issues[0]),
      hint: 'fix the YAML syntax at the position shown',
    })
  }
  const value = doc.toJS() ?? {}
  const parsed = schema.safeParse(value)
  if (parsed.success) return parsed.data
  const issues: ConfigIssue[] = []
  for (const issue of parsed.error.issues) {
    const basePath = issue.path.map((p) => (typeof p === 'symbol' ? String(p) : p))
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) {
        const pos = positionOf(doc, [...basePath, key], lineCounter, true)
        issues.push({file, ...pos, path: dotted([...basePath, key]), message: `unknown field "${key}"`})
      }
      continue
    }
    const pos = positionOf(doc, basePath, lineCounter, false)
    issues.push({file, ...pos, path: dotted(basePath), message: describeIssue(issue)})
  }
  throw new ConfigError(formatIssues('is invalid', file, issues), issues, {
    where: where(issues[0]),
    hint: 'fix the fields named above; `lifeboat config validate` re-checks the file',
  })
}

export function parseConfigText(text: string, file: string): LifeboatConfig {
  return parseYamlWithSchema(text, file, configSchema)
}

function describeIssue(issue: z.core.$ZodIssue): string {
  let msg = issue.message
  // zod's default for a missing field is "expected X, received undefined": say it in words.
  if (issue.code === 'invalid_type' && /received undefined/.test(msg)) msg = `required field is missing (${issue.expected} expected)`
  return msg
}

function positionOf(doc: Document, path: Array<string | number>, lc: LineCounter, keyNode: boolean): {line?: number; column?: number} {
  // Walk down as far as the document has nodes; report the deepest one found.
  for (let depth = path.length; depth >= 0; depth--) {
    const sub = path.slice(0, depth)
    let offset: number | undefined
    if (keyNode || depth < path.length) {
      // Prefer the key of the last path element when it exists (points at the field name).
      const parent = sub.length === 0 ? doc.contents : doc.getIn(sub.slice(0, -1), true)
      if (sub.length > 0 && isMap(parent)) {
        const pair = parent.items.find((it) => isScalar(it.key) && it.key.value === sub.at(-1))
        if (pair && isScalar(pair.key) && pair.key.range) offset = pair.key.range[0]
      }
    }
    if (offset === undefined) {
      const node = sub.length === 0 ? doc.contents : doc.getIn(sub, true)
      const range = (node as {range?: [number, number, number]} | null | undefined)?.range
      if (range) offset = range[0]
    }
    if (offset !== undefined) {
      const p = lc.linePos(offset)
      return {line: p.line, column: p.col}
    }
  }
  return {}
}

function dotted(path: Array<string | number>): string {
  return path.map((p, i) => (typeof p === 'number' ? `[${p}]` : i === 0 ? p : `.${p}`)).join('') || '(top level)'
}

function where(issue: ConfigIssue | undefined): string | undefined {
  if (!issue) return undefined
  return issue.line === undefined ? issue.file : `${issue.file}:${issue.line}:${issue.column}`
}

function formatIssues(what: string, file: string, issues: ConfigIssue[]): string {
  const lines = issues.map((i) => `  ${where(i)}: ${i.path ? `${i.path}: ` : ''}${i.message}`)
  return `${file} ${what}:\n${lines.join('\n')}`
}

function firstLine(s: string): string {
  return s.split('\n')[0]
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
