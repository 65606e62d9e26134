import {Args, Flags} from '@oclif/core'
import fs from 'node:fs'
import path from 'node:path'

import {BaseCommand} from '../../cli/base-command.js'
import {configPath} from '../../config/load.js'
import {parseDurationSeconds} from '../../ops/duration.js'
import {addSchedule, type AddResult, JOBS} from '../../schedule/schedules.js'

export default class ScheduleAdd extends BaseCommand<typeof ScheduleAdd> {
  static override description = `Run a Lifeboat job on a schedule: a systemd timer and service (Persistent=true, randomized delay), or a crontab line where systemd is not running.
The job's environment (config file, repository, password file or password, AWS settings, webhook secrets) is copied from this shell into an env file with mode 0600; units never contain secrets. Arguments after "--" go to the job's command.
Jobs: ${JOBS.join(', ')}.`
  static override examples = [
    '<%= config.bin %> schedule add backup --every 1h -- /srv/data',
    '<%= config.bin %> schedule add forget-prune --on-calendar "Sun *-*-* 04:00" -- --keep-daily 7 --keep-weekly 4',
    '<%= config.bin %> schedule add restore-test --every 1w -- --sample 50',
    '<%= config.bin %> schedule add scrub --every 1w --name scrub-md0 -- md0',
    '<%= config.bin %> schedule add check --every 1d --root /tmp/image --dry-run',
  ]
  static override strict = false
  static override args = {job: Args.string({description: `the job: ${JOBS.join(', ')}`, required: true, options: [...JOBS]})}
  static override flags = {
    every: Flags.string({description: 'Run every 15m, 1h, 6h, 1d, 1w, … (minutes dividing an hour, hours dividing a day).', exclusive: ['on-calendar']}),
    'on-calendar': Flags.string({description: "A systemd calendar spec, e.g. 'Mon *-*-* 03:00' (cron: simple forms only)."}),
    name: Flags.string({description: 'Schedule name (default: the job). Units are lifeboat-NAME.{service,timer}.'}),
    root: Flags.string({description: 'Write everything under this folder instead of / (for tests and images); nothing is enabled.', default: '/'}),
    scheduler: Flags.string({description: 'systemd, cron, or auto (systemd when it is PID 1 or under --root, else cron).', options: ['auto', 'systemd', 'cron'], default: 'auto'}),
    'randomized-delay': Flags.string({description: 'RandomizedDelaySec, e.g. 10m (default: a tenth of the interval, at most 1h; 5m with --on-calendar).'}),
    env: Flags.string({description: 'Also copy this environment variable into the env file (repeatable).', multiple: true}),
    'metrics-file': Flags.string({description: 'The job writes Prometheus metrics here (LIFEBOAT_METRICS_FILE in the env file).'}),
    'log-file': Flags.string({description: 'The job appends JSON lines here (LIFEBOAT_LOG_FILE in the env file).'}),
    force: Flags.boolean({description: 'Replace a schedule of the same name.'}),
    'dry-run': Flags.boolean({char: 'n', description: 'Show the units / crontab line that would be written; write nothing.'}),
  }

  async run(): Promise<AddResult> {
    const {argv} = await this.parse(ScheduleAdd)
    const extra = (argv as string[]).slice(1)
    const {config, exists} = await this.getConfig()
    const f = this.flags
    const cfgFile = configPath(f.config).file
    const result = await addSchedule({
      job: this.args.job,
      name: f.name,
      every: f.every,
      onCalendar: f['on-calendar'],
      randomizedDelaySec: f['randomized-delay'] === undefined ? undefined : parseDurationSeconds(f['randomized-delay'], '--randomized-delay'),
      root: f.root,
      scheduler: f.scheduler as 'auto' | 'systemd' | 'cron',
      extraArgs: extra,
      envNames: f.env,
      config,
      configFile: exists ? path.resolve(cfgFile) : undefined,
      metricsFile: f['metrics-file'],
      logFile: f['log-file'],
      lifeboatBin: path.join(this.config.root, 'bin', 'run.js'),
      node: fs.realpathSync(process.execPath),
      force: f.force,
      dryRun: f['dry-run'],
    })
    if (!this.jsonEnabled()) {
      const s = result.spec
      this.log(`${result.dryRun ? 'would schedule' : 'scheduled'} ${s.name} (${s.job}) by ${s.scheduler}: ${s.calendarSource} (${s.onCalendar}${s.cron ? `; cron ${s.cron}` : ''}), randomized delay ${s.randomizedDelaySec}s`)
      this.log(`runs: lifeboat ${s.args.join(' ')}`)
      for (const file of result.files) {
        this.log(`${result.dryRun ? 'would write' : 'wrote'} ${file.path} (mode ${file.mode})`)
        if (result.dryRun && file.content && !file.path.endsWith('.json')) this.log(file.content.replace(/^/gm, '    '))
      }
      this.log(`env file variables: ${result.envVars.join(', ')}`)
      for (const c of result.commands) this.log(`ran: ${c.join(' ')}`)
      for (const n of result.notes) this.log(n)
    }
    return result
  }
}
