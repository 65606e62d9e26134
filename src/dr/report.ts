import type {Journal, StepRecord} from './journal.js'

/**
 * Run reports from the journal: JSON (stable shape, docs/dr.md) and a self-contained HTML page with an
 * inline SVG timeline (waves as bands, steps as bars coloured by outcome).
 *
 * Achieved RTO = run start → the first passing health gate (an http.check or route53.health step that
 * succeeded) finishing after the DNS shift (a route53.weights step that succeeded). Time the run spent
 * stopped (crash, waiting for --approve) counts: that is downtime too. Achieved RPO = the largest
 * `dataAgeSeconds` output of any step (the age of the data restored or replicated).
 */

export const HEALTH_GATES = ['http.check', 'route53.health']
/** Step types that shift production DNS (skipped in a drill unless their params name a drillRecord). */
export const DNS_SHIFTS = ['route53.weights']

export const COLOURS: Record<StepRecord['state'], string> = {
  succeeded: '#2e7d32',
  failed: '#c62828',
  skipped: '#9e9e9e',
  blocked: '#6d4c41',
  pending: '#f9a825',
  'awaiting-approval': '#f9a825',
  running: '#1565c0',
}

export interface ReportStep {
  id: string
  type: string
  state: StepRecord['state']
  reason?: string
  attempts: number
  startedAt?: string
  finishedAt?: string
  durationSeconds?: number
  error?: {code: string; message: string}
  resources: number
}

export interface RunReport {
  runId: string
  playbook: string
  strategy: string
  mode: Journal['mode']
  status: Journal['status']
  regions: {primary: string; dr: string}
  effectiveRegions: {primary: string; dr: string}
  startedAt: string
  finishedAt?: string
  durationSeconds?: number
  resumes: string[]
  rto: {targetSeconds: number; achievedSeconds: number | null; met: boolean | null; basis: string; gateStep?: string; dnsStep?: string}
  rpo: {targetSeconds: number; achievedSeconds: number | null; met: boolean | null; basis: string; sourceStep?: string}
  waves: Array<{name: string; startedAt?: string; finishedAt?: string; steps: ReportStep[]}>
  resources: {created: number; removed: number; leftovers: number}
  cleanup?: Journal['cleanup']
  error?: {code: string; message: string}
}

const secs = (a?: string, b?: string) => (a && b ? Math.max(0, (Date.parse(b) - Date.parse(a)) / 1000) : undefined)

export function buildReport(j: Journal): RunReport {
  const steps = Object.values(j.steps)
  const ok = (r: StepRecord) => r.state === 'succeeded' && r.finishedAt
  const dns = steps.filter((r) => DNS_SHIFTS.includes(r.type) && ok(r) && !r.outputs?.skipped).sort((a, b) => a.finishedAt!.localeCompare(b.finishedAt!))
  const shift = dns.at(-1)
  const gates = steps
    .filter((r) => HEALTH_GATES.includes(r.type) && ok(r) && (!shift || r.finishedAt! >= shift.finishedAt!))
    .sort((a, b) => a.finishedAt!.localeCompare(b.finishedAt!))
  const gate = gates[0]
  const rtoTarget = j.targets.rtoMs / 1000
  let rto: RunReport['rto']
  if (gate && shift) {
    const achieved = secs(j.startedAt, gate.finishedAt)!
    rto = {targetSeconds: rtoTarget, achievedSeconds: round(achieved), met: achieved <= rtoTarget, basis: `run start → "${gate.id}" passed after the DNS shift "${shift.id}"`, gateStep: gate.id, dnsStep: shift.id}
  } else if (gate) {
    const achieved = secs(j.startedAt, gate.finishedAt)!
    rto = {targetSeconds: rtoTarget, achievedSeconds: round(achieved), met: achieved <= rtoTarget, basis: `run start → "${gate.id}" passed (no DNS shift in this run)`, gateStep: gate.id}
  } else {
    rto = {targetSeconds: rtoTarget, achievedSeconds: null, met: null, basis: shift ? `no health gate passed after the DNS shift "${shift.id}"` : 'no health gate passed in this run'}
  }
  const ages = steps.filter((r) => r.state === 'succeeded' && typeof r.outputs?.dataAgeSeconds === 'number')
  ages.sort((a, b) => (b.outputs!.dataAgeSeconds as number) - (a.outputs!.dataAgeSeconds as number))
  const rpoTarget = j.targets.rpoMs / 1000
  const worst = ages[0]
  const rpo: RunReport['rpo'] = worst
    ? {
        targetSeconds: rpoTarget,
        achievedSeconds: worst.outputs!.dataAgeSeconds as number,
        met: (worst.outputs!.dataAgeSeconds as number) <= rpoTarget,
        basis: `age of the data restored or replicated by "${worst.id}"`,
        sourceStep: worst.id,
      }
    : {targetSeconds: rpoTarget, achievedSeconds: null, met: null, basis: 'no step reported dataAgeSeconds'}
  const all = steps.flatMap((r) => r.resources)
  return {
    runId: j.runId,
    playbook: j.playbook.name,
    strategy: j.playbook.strategy,
    mode: j.mode,
    status: j.status,
    regions: j.regions,
    effectiveRegions: j.effectiveRegions,
    startedAt: j.startedAt,
    finishedAt: j.finishedAt,
    durationSeconds: secs(j.startedAt, j.finishedAt) === undefined ? undefined : round(secs(j.startedAt, j.finishedAt)!),
    resumes: j.resumes,
    rto,
    rpo,
    waves: j.waves.map((w, i) => ({
      name: w.name,
      startedAt: w.startedAt,
      finishedAt: w.finishedAt,
      steps: steps
        .filter((r) => r.wave === i)
        .map((r) => ({
          id: r.id,
          type: r.type,
          state: r.state,
          reason: r.reason,
          attempts: r.attempts,
          startedAt: r.startedAt,
          finishedAt: r.finishedAt,
          durationSeconds: secs(r.startedAt, r.finishedAt) === undefined ? undefined : round(secs(r.startedAt, r.finishedAt)!),
          error: r.error,
          resources: r.resources.length,
        })),
    })),
    resources: {created: all.length, removed: all.filter((x) => x.removedAt).length, leftovers: j.cleanup?.leftovers.length ?? 0},
    cleanup: j.cleanup,
    error: j.error,
  }
}

function round(n: number): number {
  return Math.round(n * 1000) / 1000
}

function esc(s: string): string {
  return s.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;').replaceAll('"', '&quot;')
}

function dur(s: number | null | undefined): string {
  if (s === null || s === undefined) return '—'
  if (s < 60) return `${s.toFixed(s < 10 ? 1 : 0)}s`
  const m = Math.floor(s / 60)
  if (m < 60) return `${m}m${String(Math.round(s % 60)).padStart(2, '0')}s`
  return `${Math.floor(m / 60)}h${String(m % 60).padStart(2, '0')}m`
}

/** The timeline: one row per step, bars from start to finish on a shared time axis; waves as bands. */
export function timelineSvg(r: RunReport, width = 1100): string {
  const left = 250
  const plot = width - left - 30
  const rowH = 26
  const top = 30
  const t0 = Date.parse(r.startedAt)
  const ends = r.waves.flatMap((w) => w.steps.flatMap((s) => [s.finishedAt, s.startedAt])).filter(Boolean).map((x) => Date.parse(x!))
  if (r.finishedAt) ends.push(Date.parse(r.finishedAt))
  const span = Math.max(1, (Math.max(t0, ...ends) - t0) / 1000, r.rto.achievedSeconds ?? 0)
  const x = (iso?: string) => left + (iso ? (Math.max(0, Date.parse(iso) - t0) / 1000 / span) * plot : 0)
  const parts: string[] = []
  let row = 0
  for (const [wi, w] of r.waves.entries()) {
    const y0 = top + row * rowH
    const h = (w.steps.length + 1) * rowH
    parts.push(`<rect x="0" y="${y0}" width="${width}" height="${h}" fill="${wi % 2 === 0 ? '#e3f2fd' : '#f5f5f5'}"/>`)
    parts.push(`<text x="8" y="${y0 + 17}" font-weight="bold" font-size="13">wave ${wi + 1}: ${esc(w.name)}</text>`)
    row++
    for (const s of w.steps) {
      const y = top + row * rowH
      parts.push(`<text x="24" y="${y + 17}" font-size="12">${esc(s.id)} <tspan fill="#555">(${esc(s.type)})</tspan></text>`)
      const colour = COLOURS[s.state]
      if (s.startedAt) {
        const x1 = x(s.startedAt)
        const x2 = s.finishedAt ? x(s.finishedAt) : x(r.finishedAt ?? s.startedAt)
        const title = `${s.id}: ${s.state}${s.durationSeconds === undefined ? '' : `, ${dur(s.durationSeconds)}`}${s.attempts > 1 ? `, ${s.attempts} attempts` : ''}${s.error ? ` — ${s.error.message}` : ''}`
        parts.push(`<rect class="bar bar-${s.state}" data-step="${esc(s.id)}" x="${x1.toFixed(1)}" y="${y + 5}" width="${Math.max(6, x2 - x1).toFixed(1)}" height="16" rx="3" fill="${colour}"><title>${esc(title)}</title></rect>`)
      } else {
        parts.push(`<rect class="bar bar-${s.state}" data-step="${esc(s.id)}" x="${left}" y="${y + 9}" width="6" height="8" fill="${colour}"><title>${esc(`${s.id}: ${s.state}${s.reason ? ` — ${s.reason}` : ''}`)}</title></rect>`)
        parts.push(`<text x="${left + 12}" y="${y + 17}" font-size="11" fill="#555">${esc(s.state)}${s.reason ? `: ${esc(s.reason)}` : ''}</text>`)
      }
      row++
    }
  }
  const height = top + row * rowH + 30
  const axis: string[] = []
  for (let i = 0; i <= 5; i++) {
    const xx = left + (plot * i) / 5
    axis.push(`<line x1="${xx}" y1="${top - 6}" x2="${xx}" y2="${height - 26}" stroke="#bbb" stroke-dasharray="2,3"/>`, `<text x="${xx}" y="${top - 10}" font-size="11" text-anchor="middle">${dur((span * i) / 5)}</text>`)
  }
  const markers: string[] = []
  if (r.rto.achievedSeconds !== null) {
    const xx = left + (r.rto.achievedSeconds / span) * plot
    markers.push(`<line x1="${xx}" y1="${top}" x2="${xx}" y2="${height - 26}" stroke="#ef6c00" stroke-width="2"/><text x="${xx + 4}" y="${height - 12}" font-size="11" fill="#ef6c00">RTO ${dur(r.rto.achievedSeconds)}</text>`)
  }
  if (r.rto.targetSeconds <= span) {
    const xx = left + (r.rto.targetSeconds / span) * plot
    markers.push(`<line x1="${xx}" y1="${top}" x2="${xx}" y2="${height - 26}" stroke="#6a1b9a" stroke-width="2" stroke-dasharray="6,4"/><text x="${xx + 4}" y="${height - 2}" font-size="11" fill="#6a1b9a">target ${dur(r.rto.targetSeconds)}</text>`)
  }
  return `<svg xmlns="http://www.w3.org/2000/svg" id="timeline" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif">${parts.join('')}${axis.join('')}${markers.join('')}</svg>`
}

export function reportHtml(r: RunReport): string {
  const verdict = (met: boolean | null) => (met === null ? '<span class="na">not measured</span>' : met ? '<span class="ok">met</span>' : '<span class="bad">missed</span>')
  const rows = r.waves
    .flatMap((w) =>
      w.steps.map(
        (s) =>
          `<tr><td>${esc(w.name)}</td><td>${esc(s.id)}</td><td>${esc(s.type)}</td><td style="color:${COLOURS[s.state]}">${esc(s.state)}</td><td>${s.attempts}</td><td>${dur(s.durationSeconds)}</td><td>${esc(s.error?.message ?? s.reason ?? '')}</td></tr>`,
      ),
    )
    .join('\n')
  const legend = (['succeeded', 'failed', 'skipped', 'blocked', 'awaiting-approval'] as const)
    .map((s) => `<span class="key"><span class="sw" style="background:${COLOURS[s]}"></span>${s}</span>`)
    .join(' ')
  const leftovers = r.cleanup?.leftovers.length
    ? `<h2>Leftover resources</h2><ul>${r.cleanup.leftovers.map((x) => `<li>${esc(`${x.kind} ${x.id} (${x.region}): ${x.error}`)}</li>`).join('')}</ul>`
    : ''
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>DR ${esc(r.mode)} ${esc(r.runId)}</title>
<style>
body{font-family:sans-serif;margin:16px 24px;color:#222}
h1{font-size:20px;margin:0 0 8px}h2{font-size:16px;margin:18px 0 6px}
.meta{color:#555;font-size:13px;margin-bottom:10px}
.ok{color:#2e7d32;font-weight:bold}.bad{color:#c62828;font-weight:bold}.na{color:#777}
table{border-collapse:collapse;font-size:13px}td,th{border:1px solid #ddd;padding:3px 8px;text-align:left}
.key{margin-right:12px;font-size:12px}.sw{display:inline-block;width:12px;height:12px;margin-right:4px;vertical-align:middle}
.targets td{font-size:14px}
</style></head><body>
<h1>${esc(r.playbook)}: ${esc(r.mode)} — ${esc(r.status)}</h1>
<div class="meta">run ${esc(r.runId)} · ${esc(r.strategy)} · ${esc(r.regions.primary)} → ${esc(r.regions.dr)}${r.mode === 'failback' ? ' (failback: reverse direction)' : ''} · started ${esc(r.startedAt)}${r.finishedAt ? ` · finished ${esc(r.finishedAt)}` : ''}${r.resumes.length ? ` · resumed ${r.resumes.length}×` : ''}</div>
${timelineSvg(r)}
<div>${legend}</div>
<h2>Targets</h2>
<table class="targets"><tr><th></th><th>target</th><th>achieved</th><th></th><th>how</th></tr>
<tr><td>RTO</td><td>${dur(r.rto.targetSeconds)}</td><td>${dur(r.rto.achievedSeconds)}</td><td>${verdict(r.rto.met)}</td><td>${esc(r.rto.basis)}</td></tr>
<tr><td>RPO</td><td>${dur(r.rpo.targetSeconds)}</td><td>${dur(r.rpo.achievedSeconds)}</td><td>${verdict(r.rpo.met)}</td><td>${esc(r.rpo.basis)}</td></tr>
</table>
<h2>Steps</h2>
<table><tr><th>wave</th><th>step</th><th>type</th><th>state</th><th>attempts</th><th>duration</th><th>note</th></tr>
${rows}
</table>
<p class="meta">resources created ${r.resources.created}, removed ${r.resources.removed}, leftovers ${r.resources.leftovers}${r.error ? ` · error: ${esc(r.error.message)}` : ''}</p>
${leftovers}
</body></html>
`
}
