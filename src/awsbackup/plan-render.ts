import {stringify} from 'yaml'

import type {FieldChange} from './plan.js'
import type {PlanDiff} from './plan-apply.js'

const show = (v: unknown): string => {
  if (v === undefined) return '(none)'
  if (typeof v === 'string') return v
  return JSON.stringify(v)
}

function copies(v: unknown): string {
  if (!Array.isArray(v)) return show(v)
  return v
    .map((c: {vaultArn: string; lifecycle?: Record<string, unknown>}) => {
      const l = Object.entries(c.lifecycle ?? {}).filter(([, x]) => x !== undefined)
      return l.length > 0 ? `${c.vaultArn} (${l.map(([k, x]) => `${k} ${x}`).join(', ')})` : c.vaultArn
    })
    .join(', ')
}

function changeLine(c: FieldChange): string {
  if (c.field === 'copyTo') return `copyTo: ${c.from === undefined ? '' : `${copies(c.from)} → `}${c.to === undefined ? '(none)' : copies(c.to)}`
  if (c.from === undefined) return `${c.field}: ${show(c.to)}`
  if (c.to === undefined) return `${c.field}: ${show(c.from)} → (none)`
  return `${c.field}: ${show(c.from)} → ${show(c.to)}`
}

/** The human diff: `+` added, `~` changed, `-` removed, `±` replaced, with field-level changes indented. */
export function formatPlanDiff(d: PlanDiff): string[] {
  const lines: string[] = []
  const head = d.planAction === 'create' ? `+ plan ${d.name} (new)` : d.planAction === 'update' ? `~ plan ${d.name} (${d.planId})` : `  plan ${d.name} (${d.planId})`
  lines.push(head)
  for (const r of d.rules) {
    const sign = r.action === 'add' ? '+' : r.action === 'remove' ? '-' : '~'
    lines.push(`  ${sign} rule ${r.name}`)
    if (r.action !== 'remove') for (const c of r.changes) lines.push(`      ${changeLine(c)}`)
  }
  for (const s of d.selections) {
    const sign = s.action === 'add' ? '+' : s.action === 'remove' ? '-' : '±'
    lines.push(`  ${sign} selection ${s.name}${s.action === 'replace' ? ' (deleted and created again: AWS cannot update a selection)' : ''}`)
    if (s.action !== 'remove') for (const c of s.changes) lines.push(`      ${changeLine(c)}`)
  }
  if (!d.changed) lines.push('  no changes')
  return lines
}

export function planYaml(file: unknown): string {
  return stringify(file, {lineWidth: 0})
}
