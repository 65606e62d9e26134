import {Flags} from '@oclif/core'

import type {LifeboatConfig} from '../config/schema.js'
import {expandHome} from '../config/paths.js'
import {stateDirFor} from '../ops/records.js'
import type {ReportIO} from '../ops/report.js'

/**
 * `--metrics-file` / `--log-file` for long jobs. Both default to LIFEBOAT_METRICS_FILE / LIFEBOAT_LOG_FILE (set by
 * schedules in their env file), then to the config's ops.metricsFile / ops.logFile.
 */
export const jobFlags = {
  'metrics-file': Flags.string({
    description: 'Merge this run\'s metrics into a Prometheus textfile-collector file (env LIFEBOAT_METRICS_FILE; config ops.metricsFile).',
    env: 'LIFEBOAT_METRICS_FILE',
    helpGroup: 'REPORTING',
  }),
  'log-file': Flags.string({
    description: 'Append JSON lines about this run to FILE (env LIFEBOAT_LOG_FILE; config ops.logFile).',
    env: 'LIFEBOAT_LOG_FILE',
    helpGroup: 'REPORTING',
  }),
}

/**
 * Where a command's job reports to: notification sinks from the config, metrics/log files from flags > env >
 * config, the state folder for `lifeboat status`. Pass the result as `io` to reportJob():
 *
 *   return reportJob({job: 'scrub', array: name, io: jobIO(this.flags, config, (m) => this.info(m))}, work, describe)
 */
export function jobIO(
  flags: {'metrics-file'?: string; 'log-file'?: string},
  config: LifeboatConfig,
  onWarning?: (message: string) => void,
  env: NodeJS.ProcessEnv = process.env,
): ReportIO {
  const file = (v: string | undefined) => (v ? expandHome(v, env) : undefined)
  return {
    sinks: config.notifications?.sinks ?? [],
    metricsFile: file(flags['metrics-file'] ?? config.ops?.metricsFile),
    logFile: file(flags['log-file'] ?? config.ops?.logFile),
    stateDir: stateDirFor(config, env),
    aws: {profile: config.aws?.profile, region: config.aws?.region},
    env,
    onWarning,
  }
}
