/**
 * `--log-file`: one JSON object per line, appended (O_APPEND, so concurrent jobs interleave whole lines).
 * Values under secret-looking keys are redacted; callers never pass secrets in the first place.
 */
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'

import {redactSecrets} from '../config/load.js'

export type LogLevel = 'debug' | 'info' | 'warn' | 'error'

export interface JsonLogger {
  readonly file?: string
  log(level: LogLevel, msg: string, fields?: Record<string, unknown>): void
}

export const nullLogger: JsonLogger = {log() {}}

export function jsonLogger(file: string | undefined, base: Record<string, unknown> = {}): JsonLogger {
  if (!file) return nullLogger
  let failed = false
  return {
    file,
    log(level, msg, fields = {}) {
      const line = JSON.stringify(redactSecrets({time: new Date().toISOString(), level, msg, host: os.hostname(), pid: process.pid, ...base, ...fields}))
      try {
        fs.mkdirSync(path.dirname(path.resolve(file)), {recursive: true})
        fs.appendFileSync(file, line + '\n', {mode: 0o640})
      } catch (error) {
        // A log that cannot be written must not fail the job; say so once on stderr.
        if (!failed) process.stderr.write(`warning: cannot write the log file ${file}: ${(error as Error).message}\n`)
        failed = true
      }
    },
  }
}
