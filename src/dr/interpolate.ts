/**
 * `${...}` references in step params: `${steps.<id>.<output>}` with property and index access
 * (`${steps.app.instanceIds[0]}`, `${steps.db.endpoint.address}`), `${regions.primary}`, `${regions.dr}`
 * (after the failback swap), `${run.id}`, `${run.mode}`. A string that is exactly one reference takes the
 * referenced value with its type (an array stays an array); a reference inside a longer string is
 * stringified. `$${` writes a literal `${`.
 */

export type Accessor = string | number

export interface Reference {
  /** The text between ${ and }. */
  expr: string
  /** 'steps' | 'regions' | 'run' */
  root: string
  /** For steps: the step id. */
  stepId?: string
  /** The accessors after the root (after the step id for steps). */
  path: Accessor[]
}

export class ReferenceError extends Error {}

const REF = /\$(\$)?\{([^}]*)\}/g

/** Parses `steps.app.instanceIds[0]` into accessors; throws ReferenceError when malformed. */
export function parseReference(expr: string): Reference {
  const parts: Accessor[] = []
  const re = /(?:^|\.)([A-Za-z0-9_-]+)|\[(\d+)\]/y
  let pos = 0
  const text = expr.trim()
  while (pos < text.length) {
    re.lastIndex = pos
    const m = re.exec(text)
    if (!m || m.index !== pos || (pos === 0 && m[0].startsWith('.'))) throw new ReferenceError(`cannot parse \${${expr}} at "${text.slice(pos)}"`)
    parts.push(m[1] === undefined ? Number(m[2]) : m[1])
    pos = re.lastIndex
  }
  const [root, ...rest] = parts
  if (root === 'steps') {
    const [id, ...path] = rest
    if (typeof id !== 'string' || path.length === 0 || typeof path[0] !== 'string') {
      throw new ReferenceError(`\${${expr}}: expected \${steps.<id>.<output>}`)
    }
    return {expr, root, stepId: id, path}
  }
  if (root === 'regions') {
    if (rest.length !== 1 || (rest[0] !== 'primary' && rest[0] !== 'dr')) throw new ReferenceError(`\${${expr}}: expected \${regions.primary} or \${regions.dr}`)
    return {expr, root, path: rest}
  }
  if (root === 'run') {
    if (rest.length !== 1 || (rest[0] !== 'id' && rest[0] !== 'mode')) throw new ReferenceError(`\${${expr}}: expected \${run.id} or \${run.mode}`)
    return {expr, root, path: rest}
  }
  throw new ReferenceError(`\${${expr}}: unknown reference (use steps.<id>.<output>, regions.primary|dr, run.id|mode)`)
}

/** Every reference in a params tree, with the params path where it appears. */
export function findReferences(value: unknown, at: Accessor[] = []): Array<{at: Accessor[]; ref?: Reference; error?: string}> {
  const found: Array<{at: Accessor[]; ref?: Reference; error?: string}> = []
  if (typeof value === 'string') {
    for (const m of value.matchAll(REF)) {
      if (m[1]) continue
      try {
        found.push({at, ref: parseReference(m[2])})
      } catch (error) {
        found.push({at, error: (error as Error).message})
      }
    }
  } else if (Array.isArray(value)) {
    for (const [i, v] of value.entries()) found.push(...findReferences(v, [...at, i]))
  } else if (value && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) found.push(...findReferences(v, [...at, k]))
  }
  return found
}

export function hasReference(value: unknown): boolean {
  return findReferences(value).length > 0
}

export interface Scope {
  steps: Record<string, Record<string, unknown> | undefined>
  regions: {primary: string; dr: string}
  run: {id: string; mode: string}
}

/** Looks a reference up; throws ReferenceError naming what is missing. */
export function lookup(ref: Reference, scope: Scope): unknown {
  let cur: unknown
  let walked: string
  if (ref.root === 'steps') {
    const outputs = scope.steps[ref.stepId!]
    if (!outputs) throw new ReferenceError(`\${${ref.expr}}: step "${ref.stepId}" has no outputs (it has not run, was skipped or failed)`)
    cur = outputs
    walked = `steps.${ref.stepId}`
  } else {
    cur = ref.root === 'regions' ? scope.regions : scope.run
    walked = ref.root
  }
  for (const a of ref.path) {
    const next = cur !== null && typeof cur === 'object' ? (cur as Record<string | number, unknown>)[a] : undefined
    walked += typeof a === 'number' ? `[${a}]` : `.${a}`
    if (next === undefined) {
      const have = cur !== null && typeof cur === 'object' ? Object.keys(cur as object).join(', ') : typeof cur
      throw new ReferenceError(`\${${ref.expr}}: ${walked} does not exist (${Array.isArray(cur) ? `${(cur as unknown[]).length} items` : `has: ${have || 'nothing'}`})`)
    }
    cur = next
  }
  return cur
}

/** Replaces every reference in a params tree. `unresolved: 'keep'` leaves references it cannot resolve as text. */
export function interpolate(value: unknown, scope: Scope, opts: {unresolved?: 'throw' | 'keep'} = {}): unknown {
  if (typeof value === 'string') return interpolateString(value, scope, opts.unresolved ?? 'throw')
  if (Array.isArray(value)) return value.map((v) => interpolate(v, scope, opts))
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, interpolate(v, scope, opts)]))
  }
  return value
}

function interpolateString(s: string, scope: Scope, unresolved: 'throw' | 'keep'): unknown {
  const whole = /^\$\{([^}]*)\}$/.exec(s)
  const resolve = (expr: string, raw: string): unknown => {
    try {
      return lookup(parseReference(expr), scope)
    } catch (error) {
      if (unresolved === 'keep') return raw
      throw error
    }
  }
  if (whole) return resolve(whole[1], s)
  return s.replaceAll(REF, (raw, escaped: string | undefined, expr: string) => {
    if (escaped) return raw.slice(1)
    const v = resolve(expr, raw)
    return typeof v === 'string' ? v : JSON.stringify(v)
  })
}
