import {Flags} from '@oclif/core'
import os from 'node:os'

import {resolveAws} from '../../aws/clients.js'
import {awsFlags} from '../../cli/aws-flags.js'
import {BaseCommand} from '../../cli/base-command.js'
import {table} from '../../cli/format.js'
import {ExitCode, UsageError} from '../../errors.js'
import type {JobEvent, JobState} from '../../notify/event.js'
import {type Delivery, notifyAll} from '../../notify/sinks.js'

export default class NotifyTest extends BaseCommand<typeof NotifyTest> {
  static override description = `Send a test event to the configured notification sinks (all, or one with --sink) and show what each did.
A test is sent to a sink whatever its "on:" filter says. Exit 1 when a sink failed.`
  static override examples = ['<%= config.bin %> notify test', '<%= config.bin %> notify test --sink ops-hook --state failure --json']
  static override flags = {
    sink: Flags.string({description: 'Only this sink (by name).'}),
    state: Flags.string({description: 'The outcome the test event reports.', options: ['success', 'warning', 'failure'], default: 'failure'}),
    ...awsFlags,
  }

  async run(): Promise<{event: JobEvent; deliveries: Delivery[]}> {
    const {config, file} = await this.getConfig()
    const all = config.notifications?.sinks ?? []
    const sinks = this.flags.sink ? all.filter((s) => s.name === this.flags.sink) : all
    if (all.length === 0) throw new UsageError(`no notification sinks are configured in ${file}`, {hint: 'add a notifications: list (sns, webhook or command sinks); see docs/operations.md'})
    if (sinks.length === 0) throw new UsageError(`no sink named "${this.flags.sink}"`, {hint: `configured sinks: ${all.map((s) => s.name).join(', ')}`})
    const now = new Date()
    const state = this.flags.state as JobState
    const event: JobEvent = {
      version: 1,
      job: 'notify-test',
      name: 'notify-test',
      host: os.hostname(),
      state,
      startedAt: now.toISOString(),
      finishedAt: now.toISOString(),
      durationSeconds: 0,
      summary: 'This is a test notification from `lifeboat notify test`; no job ran.',
      numbers: {files: 1234, bytes: 5_678_901},
      action: 'Nothing to do: this was a test. If you received it, notifications work.',
      exitCode: state === 'failure' ? 1 : state === 'warning' ? 3 : 0,
      test: true,
    }
    const deliveries = await notifyAll(event, sinks, {aws: resolveAws(this.flags, config.aws)})
    if (!this.jsonEnabled()) {
      this.log(table(['Sink', 'Type', 'Result', 'Detail'], deliveries.map((d) => [d.sink, d.type, d.ok ? 'sent' : 'FAILED', d.ok ? (d.detail ?? '') : (d.error ?? '')])))
    }
    if (deliveries.some((d) => !d.ok)) this.exitCodeAfterRun = ExitCode.FAILURE
    return {event, deliveries}
  }
}
