/**
 * Parsing and validating YAML against zod schemas, with file:line:column for every problem. Kept apart from
 * load.ts so that a command run without a config file never loads yaml or zod.
 */
import {isMap, isScalar, LineCounter, parseDocument, type Document} from 'yaml'
import type {z} from 'zod'

import {ConfigError, type ConfigIssue} from '../errors.js'
import {configSchema, type LifeboatConfig} from './schema.js'

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
