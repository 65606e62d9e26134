/**
 * Field-level differences between two plain objects (rules, configurations), by dotted paths such as
 * `transitions[0].storageClass` or `tags.lifeboat-pack`. Used by every plan and every verify-after-write.
 */
export interface FieldChange {
  path: string
  /** The value in the bucket (undefined: not set). */
  from?: unknown
  /** The wanted value (undefined: not set). */
  to?: unknown
}

export function flatten(value: unknown, prefix = '', out: Map<string, unknown> = new Map()): Map<string, unknown> {
  if (Array.isArray(value)) {
    value.forEach((v, i) => flatten(v, `${prefix}[${i}]`, out))
  } else if (value !== null && typeof value === 'object' && !(value instanceof Date)) {
    for (const [k, v] of Object.entries(value)) if (v !== undefined) flatten(v, prefix === '' ? k : `${prefix}.${k}`, out)
  } else if (value !== undefined) {
    out.set(prefix, value instanceof Date ? value.toISOString() : value)
  }
  return out
}

/** Every leaf that differs between `from` and `to`, in a stable order (paths of `to` first, then removed ones). */
export function diffFields(from: unknown, to: unknown): FieldChange[] {
  const a = flatten(from)
  const b = flatten(to)
  const out: FieldChange[] = []
  for (const [path, v] of b) {
    if (!a.has(path)) out.push({path, to: v})
    else if (a.get(path) !== v) out.push({path, from: a.get(path), to: v})
  }
  for (const [path, v] of a) if (!b.has(path)) out.push({path, from: v})
  return out
}

/** "+ path: v", "- path: v", "~ path: a → b" lines for human output. */
export function describeField(f: FieldChange): string {
  const s = (v: unknown) => (typeof v === 'string' ? v : JSON.stringify(v))
  if (f.from === undefined) return `+ ${f.path}: ${s(f.to)}`
  if (f.to === undefined) return `- ${f.path}: ${s(f.from)}`
  return `~ ${f.path}: ${s(f.from)} → ${s(f.to)}`
}
