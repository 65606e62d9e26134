/**
 * Schedules: a systemd timer + service per job (Persistent=true, RandomizedDelaySec, EnvironmentFile with mode
 * 0600 for secrets), or a crontab line where systemd is not running. Everything is written under `root`
 * (default "/"), so tests and image builders can write into a folder. Layout under root:
 *
 *   etc/lifeboat/schedules/NAME.json   what was scheduled (read by list/run/remove and by `lifeboat status`)
 *   etc/lifeboat/schedules/NAME.env    the job's environment, mode 0600
 *   etc/systemd/system/lifeboat-NAME.{service,timer}
 *   var/spool/cron/crontabs/USER       (cron under a root other than "/"; with root "/" `crontab -` is used)
 */
import {spawn} from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'

import type {LifeboatConfig} from '../config/schema.js'
import {writeFileAtomicSync} from '../fsutil.js'
import {errorMessage, LifeboatError, UsageError} from '../errors.js'
import {defaultRunner, type Runner} from '../exec/runner.js'
import {type Calendar, calendarFromEvery, checkOnCalendar, cronFromOnCalendar, nextCronTime, nextOnCalendar} from './calendar.js'
import {CRON_MARK, cronLine, envFileText, parseEnvFile, type ScheduleSpec, serviceUnit, timerUnit, unitBase} from './units.js'

export type {ScheduleSpec} from './units.js'

export const JOBS = ['backup', 'forget-prune', 'check', 'scrub', 'restore-test', 'dr-readiness', 'aws-backup-rpo'] as const
export type JobKind = (typeof JOBS)[number]

export const SPEC_DIR = '/etc/lifeboat/schedules'
export const UNIT_DIR = '/etc/systemd/system'
export const CRONTAB_DIR = '/var/spool/cron/crontabs'

/** Variables copied from the scheduling shell into the env file when set (secrets stay in the 0600 file). */
export const CAPTURED_ENV = [
  'HOME',
  'PATH',
  'LANG',
  'TZ',
  'XDG_CONFIG_HOME',
  'XDG_DATA_HOME',
  'XDG_STATE_HOME',
  'XDG_CACHE_HOME',
  'LIFEBOAT_REPOSITORY',
  'LIFEBOAT_PASSWORD',
  'LIFEBOAT_PASSWORD_FILE',
  'LIFEBOAT_HOST',
  'LIFEBOAT_AWS_PROFILE',
  'LIFEBOAT_AWS_REGION',
  'RESTIC_REPOSITORY',
  'RESTIC_PASSWORD',
  'RESTIC_PASSWORD_FILE',
  'AWS_PROFILE',
  'AWS_REGION',
  'AWS_DEFAULT_REGION',
  'AWS_ACCESS_KEY_ID',
  'AWS_SECRET_ACCESS_KEY',
  'AWS_SESSION_TOKEN',
  'AWS_CONFIG_FILE',
  'AWS_SHARED_CREDENTIALS_FILE',
  'AWS_CA_BUNDLE',
  'NODE_EXTRA_CA_CERTS',
]

export interface Paths {
  root: string
  specDir: string
  unitDir: string
}

export function pathsFor(root: string): Paths {
  const r = path.resolve(root)
  return {root: r, specDir: path.join(r, SPEC_DIR), unitDir: path.join(r, UNIT_DIR)}
}

/** Whether systemd is PID 1 (sd_booted(): /run/systemd/system exists). */
export function systemdRunning(): boolean {
  return fs.existsSync('/run/systemd/system')
}

export interface AddOptions {
  job: string
  name?: string
  every?: string
  onCalendar?: string
  /** RandomizedDelaySec in seconds (default: a tenth of the interval, at most 1 h; 5 min for --on-calendar). */
  randomizedDelaySec?: number
  root?: string
  scheduler?: 'systemd' | 'cron' | 'auto'
  /** Arguments after `--`: passed to the job's command. */
  extraArgs?: string[]
  /** More environment variables to copy into the env file (e.g. a webhook secret). */
  envNames?: string[]
  config: LifeboatConfig
  /** The config file jobs should read (absolute; only when it exists). */
  configFile?: string
  metricsFile?: string
  logFile?: string
  /** Absolute path of lifeboat's bin/run.js and of node. */
  lifeboatBin: string
  node: string
  env?: NodeJS.ProcessEnv
  force?: boolean
  dryRun?: boolean
  runner?: Runner
  systemdRunning?: boolean
  /** Whether `root` is the running system (systemctl / crontab act on it). Default: root is "/". Tests set it. */
  live?: boolean
  user?: string
}

export interface AddResult {
  spec: ScheduleSpec
  /** Files written (or, with dryRun, that would be), as paths under root. */
  files: Array<{path: string; mode: string; content?: string}>
  /** Names of the variables in the env file (never their values). */
  envVars: string[]
  activated: boolean
  /** Commands run (systemctl, crontab). */
  commands: string[][]
  notes: string[]
  dryRun: boolean
}

export function jobArgs(job: string, extra: string[], config: LifeboatConfig): string[] {
  const has = (flag: string) => extra.some((a) => a === flag || a.startsWith(flag + '='))
  switch (job) {
    case 'backup': {
      if (extra.filter((a) => !a.startsWith('-')).length === 0 && (config.backup?.paths ?? []).length === 0) {
        throw new UsageError('a backup schedule needs something to back up', {
          hint: 'set backup.paths in the config, or name the folders after "--": lifeboat schedule add backup --every 1d -- /srv/data',
        })
      }
      return ['backup', 'run', '--no-input', ...extra]
    }
    case 'forget-prune': {
      if (!config.backup?.keep && !extra.some((a) => a.startsWith('--keep-'))) {
        throw new UsageError('a forget-prune schedule needs a keep policy', {
          hint: 'set backup.keep in the config, or pass keep flags after "--": … -- --keep-daily 7 --keep-weekly 4',
        })
      }
      return ['backup', 'forget', '--prune', '--no-input', ...extra]
    }
    case 'check': {
      return ['backup', 'check', '--no-input', ...extra]
    }
    case 'restore-test': {
      return ['backup', 'restore-test', '--no-input', ...(has('--sample') || has('--path') ? extra : ['--sample', '20', ...extra])]
    }
    case 'scrub': {
      if (extra.some((a) => !a.startsWith('-'))) return ['raid', 'scrub', 'start', '--no-input', '--wait', ...extra]
      const arrays = config.raid?.arrays ?? []
      if (arrays.length !== 1) {
        throw new UsageError('a scrub schedule needs the array to scrub', {
          hint: 'name it after "--": lifeboat schedule add scrub --every 1w --name scrub-md0 -- md0 (one schedule per array)',
        })
      }
      return ['raid', 'scrub', 'start', '--no-input', '--wait', arrays[0].name, ...extra]
    }
    case 'dr-readiness': {
      if (has('-f') || has('--file')) return ['dr', 'readiness', '--no-input', ...extra]
      const books = config.dr?.playbooks ?? []
      if (books.length !== 1) {
        throw new UsageError('a dr-readiness schedule needs the playbook', {
          hint: 'pass it after "--": lifeboat schedule add dr-readiness --every 1d -- -f /etc/lifeboat/dr.yaml (or list one in dr.playbooks)',
        })
      }
      return ['dr', 'readiness', '--no-input', '-f', path.resolve(books[0]), ...extra]
    }
    case 'aws-backup-rpo': {
      if (has('--resource')) return ['aws-backup', 'points', 'latest', '--no-input', ...extra]
      const watched = config.ops?.awsBackup ?? []
      if (watched.length !== 1) {
        throw new UsageError('an aws-backup-rpo schedule needs the resource to watch', {
          hint: 'pass it after "--": … -- --resource arn:aws:rds:…:db:shop --max-age 1h (or list exactly one in ops.awsBackup)',
        })
      }
      const w = watched[0]
      return ['aws-backup', 'points', 'latest', '--no-input', '--resource', w.resourceArn, '--max-age', w.rpo, ...(w.vault ? ['--vault', w.vault] : []), ...(w.region ? ['--region', w.region] : []), ...extra]
    }
    default: {
      throw new UsageError(`unknown job "${job}"`, {hint: `one of: ${JOBS.join(', ')}`})
    }
  }
}

const NAME_RE = /^[A-Za-z0-9][\w.-]{0,63}$/

function under(root: string, abs: string): string {
  return path.join(root, abs)
}

function writeFileAtomic(file: string, content: string, mode: number): void {
  fs.mkdirSync(path.dirname(file), {recursive: true})
  writeFileAtomicSync(file, content, {mode})
}

function permissionHint(error: unknown, root: string): never {
  const code = (error as NodeJS.ErrnoException).code
  if (code === 'EACCES' || code === 'EPERM') {
    throw new LifeboatError(`cannot write under ${root}: ${errorMessage(error)}`, {
      code: 'PERMISSION_DENIED',
      hint: root === '/' ? 'schedules are system units: run it with sudo (or write into a folder with --root DIR)' : 'check the permissions of the --root folder',
    })
  }
  throw error
}

export async function addSchedule(o: AddOptions): Promise<AddResult> {
  const root = path.resolve(o.root ?? '/')
  const p = pathsFor(root)
  const env = o.env ?? process.env
  const runner = o.runner ?? defaultRunner
  if (!(JOBS as readonly string[]).includes(o.job)) throw new UsageError(`unknown job "${o.job}"`, {hint: `one of: ${JOBS.join(', ')}`})
  const name = o.name ?? o.job
  if (!NAME_RE.test(name)) throw new UsageError(`schedule name "${name}" must be letters, digits, ".", "_" or "-" (at most 64)`, {hint: 'choose another --name'})
  if (Boolean(o.every) === Boolean(o.onCalendar)) throw new UsageError('say when the job runs: --every INTERVAL or --on-calendar SPEC (one of them)')
  const onSystem = o.live ?? root === '/'
  const live = onSystem && (o.systemdRunning ?? systemdRunning())
  const scheduler = !o.scheduler || o.scheduler === 'auto' ? (!onSystem || live ? 'systemd' : 'cron') : o.scheduler

  let cal: Calendar
  if (o.every) {
    cal = calendarFromEvery(o.every, name)
  } else {
    const normalized = await checkOnCalendar(o.onCalendar!)
    cal = {onCalendar: o.onCalendar!, cron: cronFromOnCalendar(o.onCalendar!), source: `on-calendar ${normalized ?? o.onCalendar}`}
    if (scheduler === 'cron' && !cal.cron) {
      throw new UsageError(`--on-calendar "${o.onCalendar}" has no crontab equivalent, and cron is the scheduler here`, {
        hint: "use --every, or a simple spec such as daily, hourly, weekly, '03:30' or 'Mon,Thu 03:30'",
      })
    }
  }
  const randomizedDelaySec = o.randomizedDelaySec ?? (cal.intervalSeconds ? Math.min(3600, Math.round(cal.intervalSeconds / 10)) : 300)

  const args = jobArgs(o.job, o.extraArgs ?? [], o.config)
  const command = [o.node, '--max-semi-space-size=1', o.lifeboatBin, ...args]
  const specFile = path.join(SPEC_DIR, `${name}.json`)
  const envFile = path.join(SPEC_DIR, `${name}.env`)
  const existing = fs.existsSync(under(root, specFile))
  if (existing && !o.force) {
    throw new UsageError(`a schedule named "${name}" exists already`, {hint: `remove it first (lifeboat schedule remove ${name}), pass --force to replace it, or choose another --name`})
  }

  // The environment: what the job needs to find the same config, repository, state and credentials.
  const vars: Record<string, string> = {LIFEBOAT_JOB_NAME: name, LIFEBOAT_JOB: o.job, UV_THREADPOOL_SIZE: '16'}
  if (o.configFile) vars.LIFEBOAT_CONFIG = o.configFile
  if (o.metricsFile) vars.LIFEBOAT_METRICS_FILE = path.resolve(o.metricsFile)
  if (o.logFile) vars.LIFEBOAT_LOG_FILE = path.resolve(o.logFile)
  const secretEnvs = (o.config.notifications?.sinks ?? []).flatMap((s) => (s.type === 'webhook' && s.secretEnv ? [s.secretEnv] : []))
  const missing: string[] = []
  for (const k of [...CAPTURED_ENV, ...secretEnvs, ...(o.envNames ?? [])]) {
    if (env[k] !== undefined && env[k] !== '') vars[k] = env[k]!
    else if ((o.envNames ?? []).includes(k) || secretEnvs.includes(k)) missing.push(k)
  }
  if (!vars.PATH) vars.PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'

  const spec: ScheduleSpec = {
    version: 1,
    name,
    job: o.job,
    args,
    command,
    scheduler,
    onCalendar: cal.onCalendar,
    ...(cal.cron ? {cron: cal.cron} : {}),
    calendarSource: cal.source,
    randomizedDelaySec,
    envFile,
    specFile,
    createdAt: new Date().toISOString(),
  }
  const notes: string[] = []
  if (['backup', 'forget-prune', 'check', 'restore-test'].includes(o.job) && !hasPasswordSource(vars, o.config, o.extraArgs ?? [])) {
    notes.push('no repository password source will reach the job (LIFEBOAT_PASSWORD_FILE, LIFEBOAT_PASSWORD, a passwordFile in the config, or --password-file after "--"): it would fail; set one and run schedule add --force again')
  }
  if (missing.length > 0) notes.push(`not set in this shell, so not in the env file: ${missing.join(', ')} (set them and run schedule add --force again)`)
  const files: AddResult['files'] = []
  const commands: string[][] = []
  const envText = envFileText(vars, name)
  files.push({path: under(root, envFile), mode: '0600'})
  let cronText: string | undefined
  let crontabFile: string | undefined
  if (scheduler === 'systemd') {
    spec.unitFiles = [path.join(UNIT_DIR, `${unitBase(name)}.service`), path.join(UNIT_DIR, `${unitBase(name)}.timer`)]
    files.push({path: under(root, spec.unitFiles[0]), mode: '0644', content: serviceUnit(spec)}, {path: under(root, spec.unitFiles[1]), mode: '0644', content: timerUnit(spec)})
  } else {
    const user = o.user ?? os.userInfo().username
    const runArgv = [o.node, o.lifeboatBin, 'schedule', 'run', name, ...(root === '/' ? [] : ['--root', root])]
    const line = cronLine(spec, runArgv)
    if (onSystem) {
      const current = await readUserCrontab(runner)
      cronText = replaceCronLine(current, name, line)
    } else {
      crontabFile = path.join(CRONTAB_DIR, user)
      spec.crontabFile = crontabFile
      cronText = replaceCronLine(readOr(under(root, crontabFile), ''), name, line)
      files.push({path: under(root, crontabFile), mode: '0600', content: cronText})
    }
    notes.push(`crontab line: ${line}`)
  }
  files.unshift({path: under(root, specFile), mode: '0644', content: JSON.stringify(spec, null, 2) + '\n'})
  const result: AddResult = {spec, files, envVars: Object.keys(vars), activated: false, commands, notes, dryRun: Boolean(o.dryRun)}
  if (o.dryRun) return result

  try {
    fs.mkdirSync(p.specDir, {recursive: true, mode: 0o755})
    writeFileAtomic(under(root, envFile), envText, 0o600)
    for (const f of files) if (f.content !== undefined && f.path !== under(root, specFile)) writeFileAtomic(f.path, f.content, Number.parseInt(f.mode, 8))
    // The spec last: a schedule is listed only once everything it names exists.
    writeFileAtomic(under(root, specFile), JSON.stringify(spec, null, 2) + '\n', 0o644)
  } catch (error) {
    permissionHint(error, root)
  }

  if (scheduler === 'systemd') {
    if (live) {
      for (const argv of [['daemon-reload'], ['enable', '--now', `${unitBase(name)}.timer`]]) {
        commands.push(['systemctl', ...argv])
        await runner.run('systemctl', argv, {timeoutMs: 60_000})
      }
      result.activated = true
    } else {
      notes.push(
        onSystem
          ? 'systemd is not running here (not PID 1): the units were written but not enabled'
          : `written under ${root}; on the target system run: systemctl daemon-reload && systemctl enable --now ${unitBase(name)}.timer`,
      )
    }
  } else if (onSystem) {
    commands.push(['crontab', '-'])
    await runner.run('crontab', ['-'], {input: cronText, timeoutMs: 30_000})
    result.activated = true
  }
  return result
}

function hasPasswordSource(vars: Record<string, string>, config: LifeboatConfig, extra: string[]): boolean {
  if (['LIFEBOAT_PASSWORD', 'LIFEBOAT_PASSWORD_FILE', 'RESTIC_PASSWORD', 'RESTIC_PASSWORD_FILE'].some((k) => vars[k])) return true
  if (extra.some((a) => a.startsWith('--password-file') || a.startsWith('--password-command'))) return true
  return Object.values(config.repositories ?? {}).some((r) => r.passwordFile || r.passwordCommand || r.password)
}

function readOr(file: string, fallback: string): string {
  try {
    return fs.readFileSync(file, 'utf8')
  } catch {
    return fallback
  }
}

async function readUserCrontab(runner: Runner): Promise<string> {
  // `crontab -l` exits 1 with "no crontab for USER" when there is none.
  const r = await runner.run('crontab', ['-l'], {okExitCodes: [0, 1], timeoutMs: 30_000})
  if (r.code === 1 && !/no crontab/i.test(r.stderr)) throw new LifeboatError(`crontab -l failed: ${r.stderr.trim()}`, {code: 'TOOL_FAILED', where: 'crontab'})
  return r.code === 0 ? r.stdout : ''
}

/** The crontab with this schedule's line replaced (or added, or removed when line is undefined). */
export function replaceCronLine(text: string, name: string, line: string | undefined): string {
  const kept = text.split('\n').filter((l) => l !== '' && !l.endsWith(`${CRON_MARK}${name}`))
  if (line) kept.push(line)
  return kept.length > 0 ? kept.join('\n') + '\n' : ''
}

export interface ListedSchedule extends ScheduleSpec {
  /** Whether the units / crontab line it names are present. */
  installed: boolean
  problems: string[]
  /** The next nominal start (before the randomized delay), when it can be computed. */
  nextRun?: string
}

/** The next start of a schedule: its cron line, or its OnCalendar spec. */
export async function nextRunOf(s: ScheduleSpec, now = new Date()): Promise<Date | undefined> {
  return s.scheduler === 'cron' && s.cron ? nextCronTime(s.cron, now) : nextOnCalendar(s.onCalendar, now)
}

export async function listSchedules(o: {root?: string; runner?: Runner; now?: Date} = {}): Promise<ListedSchedule[]> {
  const root = path.resolve(o.root ?? '/')
  const p = pathsFor(root)
  let names: string[]
  try {
    names = fs.readdirSync(p.specDir).filter((n) => n.endsWith('.json'))
  } catch {
    return []
  }
  let userCrontab: string | undefined
  const out: ListedSchedule[] = []
  for (const n of names.sort()) {
    let spec: ScheduleSpec
    try {
      spec = JSON.parse(fs.readFileSync(path.join(p.specDir, n), 'utf8')) as ScheduleSpec
    } catch {
      continue
    }
    const problems: string[] = []
    if (!fs.existsSync(under(root, spec.envFile))) problems.push(`env file ${spec.envFile} is missing`)
    if (spec.scheduler === 'systemd') {
      for (const u of spec.unitFiles ?? []) if (!fs.existsSync(under(root, u))) problems.push(`unit ${u} is missing`)
    } else {
      let text = ''
      if (spec.crontabFile) text = readOr(under(root, spec.crontabFile), '')
      else {
        userCrontab ??= await readUserCrontab(o.runner ?? defaultRunner).catch(() => '')
        text = userCrontab
      }
      if (!text.split('\n').some((l) => l.endsWith(`${CRON_MARK}${spec.name}`))) problems.push('its crontab line is missing')
    }
    const next = await nextRunOf(spec, o.now).catch(() => undefined)
    out.push({...spec, installed: problems.length === 0, problems, ...(next ? {nextRun: next.toISOString()} : {})})
  }
  return out
}

export async function findSchedule(name: string, root = '/'): Promise<ScheduleSpec> {
  const file = path.join(pathsFor(root).specDir, `${name}.json`)
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8')) as ScheduleSpec
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new UsageError(`no schedule named "${name}"${root === '/' ? '' : ` under ${root}`}`, {code: 'NOT_FOUND', hint: 'see `lifeboat schedule list`'})
    }
    throw error
  }
}

export interface RemoveResult {
  name: string
  removed: string[]
  commands: string[][]
}

export async function removeSchedule(name: string, o: {root?: string; runner?: Runner; systemdRunning?: boolean; live?: boolean; dryRun?: boolean} = {}): Promise<RemoveResult> {
  const root = path.resolve(o.root ?? '/')
  const runner = o.runner ?? defaultRunner
  const spec = await findSchedule(name, root)
  const live = (o.live ?? root === '/') && (o.systemdRunning ?? systemdRunning())
  const commands: string[][] = []
  const removed: string[] = []
  const files = [...(spec.unitFiles ?? []), spec.envFile, spec.specFile].map((f) => under(root, f))
  if (o.dryRun) return {name, removed: files, commands: spec.scheduler === 'systemd' && live ? [['systemctl', 'disable', '--now', `${unitBase(name)}.timer`]] : []}
  try {
    if (spec.scheduler === 'systemd' && live) {
      commands.push(['systemctl', 'disable', '--now', `${unitBase(name)}.timer`])
      await runner.run('systemctl', ['disable', '--now', `${unitBase(name)}.timer`], {okExitCodes: [0, 1, 5], timeoutMs: 60_000})
    }
    if (spec.scheduler === 'cron') {
      if (spec.crontabFile) {
        const f = under(root, spec.crontabFile)
        writeFileAtomic(f, replaceCronLine(readOr(f, ''), name, undefined), 0o600)
      } else {
        const text = replaceCronLine(await readUserCrontab(runner), name, undefined)
        commands.push(['crontab', '-'])
        await runner.run('crontab', ['-'], {input: text, timeoutMs: 30_000})
      }
    }
    // The spec file last, so an interrupted remove can be run again.
    for (const f of files) {
      if (fs.existsSync(f)) {
        fs.rmSync(f)
        removed.push(f)
      }
    }
    if (spec.scheduler === 'systemd' && live) {
      commands.push(['systemctl', 'daemon-reload'])
      await runner.run('systemctl', ['daemon-reload'], {timeoutMs: 60_000})
    }
  } catch (error) {
    permissionHint(error, root)
  }
  return {name, removed, commands}
}

export interface RunResult {
  name: string
  command: string[]
  exitCode: number
  durationMs: number
  stdout?: string
  stderr?: string
}

/**
 * Runs a schedule's job now exactly as its timer (or cron line) does: the same argv, and an environment made of
 * the env file only (systemd gives a service nothing else of the caller's environment).
 */
export async function runSchedule(name: string, o: {root?: string; capture?: boolean} = {}): Promise<RunResult> {
  const root = path.resolve(o.root ?? '/')
  const spec = await findSchedule(name, root)
  let envText: string
  try {
    envText = fs.readFileSync(under(root, spec.envFile), 'utf8')
  } catch (error) {
    throw new LifeboatError(`cannot read the schedule's env file ${under(root, spec.envFile)}: ${errorMessage(error)}`, {
      code: 'SCHEDULE_BROKEN',
      hint: (error as NodeJS.ErrnoException).code === 'EACCES' ? 'it is readable by its owner only: run with sudo' : `re-create the schedule with lifeboat schedule add … --name ${name} --force`,
    })
  }
  const env = parseEnvFile(envText)
  if (!env.PATH) env.PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'
  const started = Date.now()
  const [cmd, ...args] = spec.command
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, {env, stdio: o.capture ? ['ignore', 'pipe', 'pipe'] : ['ignore', 'inherit', 'inherit']})
    let stdout = ''
    let stderr = ''
    child.stdout?.on('data', (b) => (stdout += b))
    child.stderr?.on('data', (b) => (stderr += b))
    child.on('error', (e) => reject(new LifeboatError(`cannot start ${cmd}: ${e.message}`, {code: 'SCHEDULE_BROKEN', hint: 'node or lifeboat moved: re-create the schedule with --force'})))
    child.on('close', (code, signal) =>
      resolve({name, command: spec.command, exitCode: code ?? (signal ? 128 : 1), durationMs: Date.now() - started, ...(o.capture ? {stdout, stderr} : {})}),
    )
  })
}
