import fs from 'node:fs/promises'
import {isMap, isSeq, isScalar, LineCounter, parseDocument, type Document} from 'yaml'

import {parseYamlWithSchema} from '../config/parse.js'
import {ConfigError, type ConfigIssue} from '../errors.js'
import {findReferences, type Accessor} from './interpolate.js'
import {playbookSchema, type Playbook, type PlaybookStep} from './schema.js'
import type {StepDefinition} from './step-types.js'

export type StepRegistry = Record<string, StepDefinition>

export interface LoadedPlaybook {
  file: string
  text: string
  playbook: Playbook
}

export interface StepLocation {
  step: PlaybookStep
  wave: number
  index: number
}

/** Reads, parses and fully validates a playbook; every problem is a ConfigError with file:line:column. */
export async function loadPlaybook(file: string, registry?: StepRegistry): Promise<LoadedPlaybook> {
  let text: string
  try {
    text = await fs.readFile(file, 'utf8')
  } catch (error: any) {
    throw new ConfigError(`playbook ${file} ${error?.code === 'ENOENT' ? 'does not exist' : `cannot be read (${error?.code ?? error})`}`, [], {
      where: file,
      hint: 'pass the playbook with -f FILE; `lifeboat dr init --strategy pilot-light -o FILE` writes one',
    })
  }
  return parsePlaybook(text, file, registry)
}

export function parsePlaybook(text: string, file: string, registry?: StepRegistry): LoadedPlaybook {
  const playbook = parseYamlWithSchema(text, file, playbookSchema) as Playbook
  const issues = checkPlaybook(playbook, registry)
  if (issues.length > 0) {
    const lc = new LineCounter()
    const doc = parseDocument(text, {lineCounter: lc})
    const located: ConfigIssue[] = issues.map((i) => ({file, ...locate(doc, lc, i.at), path: dotted(i.at), message: i.message}))
    const lines = located.map((i) => `  ${file}:${i.line ?? '?'}:${i.column ?? '?'}: ${i.path}: ${i.message}`)
    throw new ConfigError(`${file} is invalid:\n${lines.join('\n')}`, located, {
      where: located[0].line === undefined ? file : `${file}:${located[0].line}:${located[0].column}`,
      hint: 'fix the fields named above; `lifeboat dr validate -f FILE` re-checks the playbook',
    })
  }
  return {file, text, playbook}
}

/** All steps with their wave index, in playbook order. */
export function allSteps(p: Playbook): StepLocation[] {
  return p.waves.flatMap((w, wave) => w.steps.map((step, index) => ({step, wave, index})))
}

interface Issue {
  at: Accessor[]
  message: string
}

/** The checks zod cannot do: unique ids, dependsOn and ${steps...} order, known step types, params schemas. */
export function checkPlaybook(p: Playbook, registry?: StepRegistry): Issue[] {
  const issues: Issue[] = []
  const where = new Map<string, StepLocation>()
  for (const loc of allSteps(p)) {
    const at = ['waves', loc.wave, 'steps', loc.index, 'id']
    if (where.has(loc.step.id)) {
      const first = where.get(loc.step.id)!
      issues.push({at, message: `duplicate step id "${loc.step.id}" (first used in wave "${p.waves[first.wave].name}")`})
    } else where.set(loc.step.id, loc)
  }

  for (const loc of allSteps(p)) {
    const base: Accessor[] = ['waves', loc.wave, 'steps', loc.index]
    const {step} = loc
    for (const [i, dep] of step.dependsOn.entries()) {
      const target = where.get(dep)
      const at = [...base, 'dependsOn', i]
      if (!target) issues.push({at, message: `unknown step "${dep}"`})
      else if (dep === step.id) issues.push({at, message: 'a step cannot depend on itself'})
      else if (target.wave > loc.wave) issues.push({at, message: `"${dep}" is in a later wave ("${p.waves[target.wave].name}"); move it earlier or drop the dependency`})
    }
    for (const [key, tree] of [['params', step.params], ['failback', step.failback?.params], ['drill', step.drill?.params], ['rollback', step.rollback ? step.rollback.params : undefined]] as const) {
      if (!tree) continue
      const prefix = key === 'params' ? [...base, 'params'] : [...base, key, 'params']
      for (const r of findReferences(tree)) {
        const at = [...prefix, ...r.at]
        if (r.error) {
          issues.push({at, message: r.error})
          continue
        }
        const ref = r.ref!
        if (ref.root !== 'steps') continue
        const target = where.get(ref.stepId!)
        if (!target) issues.push({at, message: `\${${ref.expr}} names unknown step "${ref.stepId}"`})
        else if (ref.stepId === step.id) issues.push({at, message: `\${${ref.expr}} refers to the step itself`})
        else if (target.wave > loc.wave) issues.push({at, message: `\${${ref.expr}}: step "${ref.stepId}" runs in a later wave`})
        else if (target.wave === loc.wave && !dependsTransitively(step.id, ref.stepId!, where)) {
          issues.push({at, message: `\${${ref.expr}}: "${ref.stepId}" is in the same wave; add it to dependsOn so it finishes first`})
        }
      }
    }
    if (registry) {
      const def = registry[step.type]
      if (def) checkParams(def, step.params, [...base, 'params'], issues)
      else issues.push({at: [...base, 'type'], message: `unknown step type "${step.type}" (known: ${Object.keys(registry).sort().join(', ')})`})
      if (step.rollback) {
        const rdef = registry[step.rollback.type]
        if (rdef) checkParams(rdef, step.rollback.params, [...base, 'rollback', 'params'], issues)
        else issues.push({at: [...base, 'rollback', 'type'], message: `unknown step type "${step.rollback.type}"`})
      }
      if (def && step.failback) checkParams(def, {...step.params, ...step.failback.params}, [...base, 'failback', 'params'], issues)
      if (def && step.drill) checkParams(def, {...step.params, ...step.drill.params}, [...base, 'drill', 'params'], issues)
    }
  }
  // Cycles inside a wave (across waves they are impossible: a dependency must not be in a later wave).
  for (const loc of allSteps(p)) {
    if (dependsTransitively(loc.step.id, loc.step.id, where, true)) {
      issues.push({at: ['waves', loc.wave, 'steps', loc.index, 'dependsOn'], message: `"${loc.step.id}" is part of a dependsOn cycle`})
    }
  }
  return issues
}

/** Validates params against the step's schema, ignoring problems in values that are ${...} references. */
function checkParams(def: StepDefinition, params: Record<string, unknown>, at: Accessor[], issues: Issue[]): void {
  const parsed = def.params.safeParse(params)
  if (parsed.success) return
  for (const issue of parsed.error.issues) {
    const path = issue.path.map((x) => (typeof x === 'symbol' ? String(x) : x)) as Accessor[]
    if (refAlongPath(params, path)) continue
    const keys = issue.code === 'unrecognized_keys' ? issue.keys : [undefined]
    for (const k of keys) {
      issues.push({at: [...at, ...path, ...(k === undefined ? [] : [k])], message: k === undefined ? describe(issue) : `unknown param "${k}"`})
    }
  }
}

function describe(issue: {code: string; message: string; expected?: unknown}): string {
  if (issue.code === 'invalid_type' && /received undefined/.test(issue.message)) return `required param is missing (${String(issue.expected)} expected)`
  return issue.message
}

function refAlongPath(tree: unknown, path: Accessor[]): boolean {
  let cur = tree
  for (const a of [undefined, ...path]) {
    if (a !== undefined) cur = cur !== null && typeof cur === 'object' ? (cur as Record<string | number, unknown>)[a] : undefined
    if (typeof cur === 'string' && cur.includes('${')) return true
  }
  return false
}

function dependsTransitively(from: string, to: string, where: Map<string, StepLocation>, strict = false): boolean {
  const seen = new Set<string>()
  const stack = [...(where.get(from)?.step.dependsOn ?? [])]
  while (stack.length > 0) {
    const id = stack.pop()!
    if (id === to) return true
    if (seen.has(id)) continue
    seen.add(id)
    if (strict && id === from) continue
    stack.push(...(where.get(id)?.step.dependsOn ?? []))
  }
  return false
}

function locate(doc: Document, lc: LineCounter, path: Accessor[]): {line?: number; column?: number} {
  for (let depth = path.length; depth >= 0; depth--) {
    const sub = path.slice(0, depth)
    let node: unknown = doc.contents
    for (const a of sub) {
      if (isMap(node)) node = node.items.find((it) => isScalar(it.key) && it.key.value === a)?.value
      else if (isSeq(node) && typeof a === 'number') node = node.items[a]
      else node = undefined
    }
    const range = (node as {range?: [number, number, number]} | undefined)?.range
    if (range) {
      const pos = lc.linePos(range[0])
      return {line: pos.line, column: pos.col}
    }
  }
  return {}
}

function dotted(path: Accessor[]): string {
  return path.map((p, i) => (typeof p === 'number' ? `[${p}]` : i === 0 ? p : `.${p}`)).join('')
}
