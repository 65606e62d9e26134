/** Text of the systemd units, the env file and the crontab line of a schedule. Pure functions. */

export interface ScheduleSpec {
  version: 1
  name: string
  /** backup, forget-prune, check, scrub, restore-test, dr-readiness, aws-backup-rpo */
  job: string
  /** lifeboat's own arguments (e.g. ["backup", "run", "--no-input"]). */
  args: string[]
  /** The full argv the timer runs: node, its options, bin/run.js, args. */
  command: string[]
  scheduler: 'systemd' | 'cron'
  onCalendar: string
  cron?: string
  calendarSource: string
  randomizedDelaySec: number
  /** Absolute paths as seen on the target system (without --root). */
  envFile: string
  specFile: string
  unitFiles?: string[]
  crontabFile?: string
  createdAt: string
}

/** Quotes one ExecStart word for systemd: "%" → "%%", "$" → "$$", quoted when it has blanks, quotes or backslashes. */
export function systemdWord(arg: string): string {
  let s = arg.replaceAll('%', '%%').replaceAll('$', '$$$$')
  if (s === '' || /[\s"'\\;]/.test(s)) s = `"${s.replaceAll('\\', '\\\\').replaceAll('"', '\\"').replaceAll('\n', '\\n')}"`
  return s
}

export function unitBase(name: string): string {
  return `lifeboat-${name}`
}

/** The metadata comment both units carry, so `schedule list` can tell our units from others. */
export function metaComment(spec: ScheduleSpec): string {
  return `# lifeboat-schedule: ${JSON.stringify({name: spec.name, job: spec.job})}`
}

export function serviceUnit(spec: ScheduleSpec): string {
  return [
    `# Written by \`lifeboat schedule add\`; remove with \`lifeboat schedule remove ${spec.name}\`. Secrets live in the EnvironmentFile (mode 0600), never here.`,
    metaComment(spec),
    '[Unit]',
    `Description=Lifeboat job ${spec.name} (${spec.job})`,
    'Wants=network-online.target',
    'After=network-online.target',
    '',
    '[Service]',
    'Type=oneshot',
    `EnvironmentFile=${spec.envFile}`,
    `ExecStart=${spec.command.map((a) => systemdWord(a)).join(' ')}`,
    'Nice=10',
    'IOSchedulingClass=best-effort',
    'IOSchedulingPriority=7',
    // Exit 3 (finished with warnings) is a result to report, not a unit failure.
    'SuccessExitStatus=3',
    '',
  ].join('\n')
}

export function timerUnit(spec: ScheduleSpec): string {
  return [
    `# Written by \`lifeboat schedule add\` (${spec.calendarSource}).`,
    metaComment(spec),
    '[Unit]',
    `Description=Run the Lifeboat job ${spec.name} (${spec.calendarSource})`,
    '',
    '[Timer]',
    `OnCalendar=${spec.onCalendar}`,
    'Persistent=true',
    `RandomizedDelaySec=${spec.randomizedDelaySec}`,
    'AccuracySec=1min',
    `Unit=${unitBase(spec.name)}.service`,
    '',
    '[Install]',
    'WantedBy=timers.target',
    '',
  ].join('\n')
}

/** KEY="value" lines (systemd EnvironmentFile syntax, also read by `schedule run`). */
export function envFileText(vars: Record<string, string>, name: string): string {
  const lines = [`# Environment of the Lifeboat schedule ${name} (mode 0600: may hold secrets).`]
  for (const [k, v] of Object.entries(vars)) {
    lines.push(`${k}="${v.replaceAll('\\', '\\\\').replaceAll('"', '\\"').replaceAll('$', '\\$').replaceAll('`', '\\`').replaceAll('\n', '\\n')}"`)
  }
  return lines.join('\n') + '\n'
}

export function parseEnvFile(text: string): Record<string, string> {
  const out: Record<string, string> = {}
  for (const raw of text.split('\n')) {
    const line = raw.trim()
    if (!line || line.startsWith('#') || line.startsWith(';')) continue
    const m = /^(?:export\s+)?([A-Za-z_]\w*)=(.*)$/.exec(line)
    if (!m) continue
    let v = m[2]
    if (v.startsWith('"') && v.endsWith('"') && v.length >= 2) {
      v = v.slice(1, -1).replaceAll(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c))
    } else if (v.startsWith("'") && v.endsWith("'") && v.length >= 2) {
      v = v.slice(1, -1)
    }
    out[m[1]] = v
  }
  return out
}

export const CRON_MARK = '# lifeboat-schedule:'

export function cronLine(spec: ScheduleSpec, runArgv: string[]): string {
  return `${spec.cron} ${runArgv.map((a) => shellWord(a)).join(' ')} ${CRON_MARK}${spec.name}`
}

/** cron runs lines through /bin/sh: single-quote anything that is not plainly safe; "%" is special to cron. */
export function shellWord(a: string): string {
  const s = /^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replaceAll("'", String.raw`'\''`)}'`
  return s.replaceAll('%', String.raw`\%`)
}
