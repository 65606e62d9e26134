
import {describeProgress, type ProgressEvent, type ProgressListener, RateMeter} from '../progress.js'
import {isCI} from './prompt.js'

/** tty: listr2's animated renderer; plain: one line per event (throttled); silent: nothing (under --json). */
export type RenderMode = 'tty' | 'plain' | 'silent'

export function renderMode(o: {json: boolean; env?: NodeJS.ProcessEnv; stderrIsTTY?: boolean}): RenderMode {
  if (o.json) return 'silent'
  const tty = o.stderrIsTTY ?? Boolean(process.stderr.isTTY)
  return tty && !isCI(o.env ?? process.env) ? 'tty' : 'plain'
}

export interface ProgressOptions {
  mode: RenderMode
  /** Minimum time between two plain lines of the same phase (ms). */
  plainIntervalMs?: number
  /** Where plain lines go (default stderr). */
  write?: (line: string) => void
  /** Called for every warning event in every mode (commands collect them for the JSON envelope). */
  onWarning?: (message: string, path?: string) => void
}

/**
 * Runs `work` with a progress listener and shows its events: a listr2 task on a TTY, plain lines otherwise,
 * nothing under --json. Progress always goes to stderr: stdout stays for results.
 */
export async function withProgress<T>(title: string, opts: ProgressOptions, work: (onEvent: ProgressListener) => Promise<T>): Promise<T> {
  if (opts.mode !== 'tty') {
    const printer = plainPrinter(title, opts)
    return work(printer)
  }

  // listr2 is loaded only for a terminal: scripts and cron never pay for it.
  const {Listr, ListrLogger, ProcessOutput} = await import('listr2')
  let result!: T
  const meter = new RateMeter()
  let lastUpdate = 0
  const list = new Listr(
    [
      {
        title,
        task: async (_ctx, task) => {
          result = await work((ev) => {
            if (ev.kind === 'warning') {
              opts.onWarning?.(ev.message, ev.path)
              return
            }
            if (ev.kind === 'progress') {
              const now = Date.now()
              if (now - lastUpdate < 100) return
              lastUpdate = now
              task.output = `${ev.phase}: ${describeProgress(ev, meter)}${ev.currentFile ? `  ${ev.currentFile}` : ''}`
            } else if (ev.kind === 'info') {
              task.output = ev.message
            } else if (ev.kind === 'start') {
              task.title = `${title}: ${ev.phase}`
            }
          })
          task.title = title
        },
      },
    ],
    {
      renderer: 'default',
      rendererOptions: {collapseErrors: false, logger: new ListrLogger({processOutput: new ProcessOutput(process.stderr, process.stderr)})},
      exitOnError: true,
      registerSignalListeners: false,
    },
  )
  await list.run()
  return result
}

/** The non-TTY renderer: a line per start/done/info/warning event, progress lines at most every few seconds. */
export function plainPrinter(title: string, opts: ProgressOptions): ProgressListener {
  const write = opts.write ?? ((line: string) => process.stderr.write(line + '\n'))
  const interval = opts.plainIntervalMs ?? 5000
  const meter = new RateMeter()
  const last = new Map<string, number>()
  return (ev: ProgressEvent) => {
    if (ev.kind === 'warning') opts.onWarning?.(ev.message, ev.path)
    if (opts.mode === 'silent') return
    switch (ev.kind) {
      case 'start': {
        write(`${title}: ${ev.phase} started`)
        break
      }
      case 'progress': {
        const now = Date.now()
        if (now - (last.get(ev.phase) ?? 0) < interval) return
        last.set(ev.phase, now)
        write(`${title}: ${ev.phase}: ${describeProgress(ev, meter)}`)
        break
      }
      case 'info': {
        write(`${title}: ${ev.message}`)
        break
      }
      case 'warning': {
        write(`${title}: warning: ${ev.path ? `${ev.path}: ` : ''}${ev.message}`)
        break
      }
      case 'done': {
        write(`${title}: ${ev.phase} done`)
        break
      }
    }
  }
}
