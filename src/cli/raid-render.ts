import type {LoadedConfig} from '../config/load.js'
import {formatDuration} from '../progress.js'
import {type Disk} from '../raid/disks.js'
import type {EngineName} from '../raid/engine.js'
import {formatDecimal, type Plan} from '../raid/plan.js'
import {table} from './format.js'

/** Human rendering of a plan (raid plan, raid create). */
export function renderPlan(p: Plan): string {
  const out: string[] = []
  out.push(`${p.engine} RAID ${p.level}: ${p.layout}`)
  out.push('')
  out.push(
    table(
      ['', ''],
      [
        ['usable capacity', `${formatDecimal(p.usableBytes)} (${(p.efficiency * 100).toFixed(0)} % of ${formatDecimal(p.rawBytes)} raw)`],
        ['unused', p.wastedBytes > 0 ? formatDecimal(p.wastedBytes) : '0'],
        ['survives', p.failures.description],
        ...(p.failures.secondFailureSurvival === undefined ? [] : [['2nd failure survived', `${(p.failures.secondFailureSurvival * 100).toFixed(0)} % of the time`]]),
        ...(p.rebuild
          ? [
              ['rebuild', `${formatDecimal(p.rebuild.rebuildBytes)} at ${p.assumptions.rebuildMBps} MB/s ≈ ${formatDuration(p.rebuild.rebuildSeconds)}`],
              [
                'URE during rebuild',
                `${fmtPct(p.rebuild.ureProbability)} (reads ${formatDecimal(p.rebuild.readBytes)}; ${p.rebuild.ureIsFatal ? 'would lose data' : 'repaired from the remaining redundancy'})`,
              ],
            ]
          : []),
        ['MTTDL', `${fmtYears(p.reliability.mttdlYears)} (disk failures), ${fmtYears(p.reliability.mttdlWithUreYears)} with read errors`],
        ['data loss in 5 years', fmtPct(p.reliability.lossProbability5y)],
      ],
    )
      .split('\n')
      .slice(2)
      .join('\n'),
  )
  out.push('')
  out.push(
    table(
      ['disk', 'size', 'used', 'unused'],
      p.disks.map((d) => [d.name, formatDecimal(d.sizeBytes), formatDecimal(d.usedBytes), d.unusedBytes > 0 ? formatDecimal(d.unusedBytes) : '-']),
    ),
  )
  for (const s of p.spares) out.push(`spare ${s.name} ${formatDecimal(s.sizeBytes)}${s.largeEnough ? '' : ' (too small to replace a member)'}`)
  out.push('')
  out.push(
    `assumptions: URE 1 per ${p.assumptions.ure.toExponential(0).replace('+', '')} bits, AFR ${(p.assumptions.afr * 100).toFixed(1)} %/year, rebuild ${p.assumptions.rebuildMBps} MB/s; sizes ${p.assumptions.units}`,
  )
  for (const n of p.notes) out.push(`note: ${n}`)
  for (const w of p.warnings) out.push(`WARNING: ${w.message}`)
  return out.join('\n')
}

function fmtPct(p: number): string {
  if (p === 0) return '0 %'
  if (p < 0.0001) return `${(p * 100).toExponential(1)} %`
  return `${(p * 100).toFixed(p < 0.01 ? 3 : 1)} %`
}

function fmtYears(y: number): string {
  if (!Number.isFinite(y)) return 'never'
  if (y >= 1e6) return `${y.toExponential(1).replace('+', '')} years`
  return `${Math.round(y).toLocaleString('en-US')} years`
}

/** One line per disk for tables and the picker. */
export function diskLabel(d: Disk, withById = true): string {
  const parts = [d.path, formatDecimal(d.sizeBytes), d.transport ?? '', [d.vendor, d.model].filter(Boolean).join(' '), d.serial ? `serial ${d.serial}` : '']
  if (withById && d.byId[0]) parts.push(d.byId[0])
  return parts.filter(Boolean).join('  ')
}

/** --engine, else raid.engine from the config, else md. */
export async function chooseEngine(flag: string | undefined, getConfig: () => Promise<LoadedConfig>): Promise<EngineName> {
  if (flag) return flag as EngineName
  const loaded = await getConfig().catch(() => undefined)
  return loaded?.config.raid?.engine ?? 'md'
}
