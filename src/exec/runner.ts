import {spawn} from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'

import {LifeboatError} from '../errors.js'

/** Which Debian package provides a tool, for "install it with" messages. */
export const DEBIAN_PACKAGE: Record<string, string> = {
  mdadm: 'mdadm',
  btrfs: 'btrfs-progs',
  lsblk: 'util-linux',
  blkid: 'util-linux',
  wipefs: 'util-linux',
  findmnt: 'util-linux',
  smartctl: 'smartmontools',
  restic: 'restic',
  systemctl: 'systemd',
  crontab: 'cron',
  mkfs: 'util-linux',
  'mkfs.ext4': 'e2fsprogs',
  qemu: 'qemu-system-x86',
  'qemu-system-x86_64': 'qemu-system-x86',
  mknod: 'coreutils',
  mkfifo: 'coreutils',
  python3: 'python3',
}

export interface RunOptions {
  cwd?: string
  env?: NodeJS.ProcessEnv
  /** Written to the tool's stdin, then stdin is closed (stdin is always closed: a tool never waits on us). */
  input?: string | Buffer
  /** Kill the tool after this long (SIGTERM, then SIGKILL 2 s later). Default 5 minutes. */
  timeoutMs?: number
  /** Exit codes that are not failures (default [0]). */
  okExitCodes?: number[]
  /** Cap on captured output per stream (default 64 MiB). */
  maxBuffer?: number
}

export interface RunResult {
  command: string
  args: string[]
  code: number
  stdout: string
  stderr: string
  durationMs: number
}

export class ToolMissingError extends LifeboatError {
  constructor(readonly tool: string) {
    const pkg = DEBIAN_PACKAGE[tool] ?? DEBIAN_PACKAGE[path.basename(tool)]
    super(`${tool} is not installed (not found on PATH)`, {
      code: 'TOOL_MISSING',
      exitCode: 1,
      where: tool,
      hint: pkg ? `install it with: sudo apt-get install ${pkg}` : `install ${tool} and make sure it is on PATH`,
    })
  }
}

export class ToolFailedError extends LifeboatError {
  constructor(readonly result: RunResult) {
    const tail = (result.stderr || result.stdout).trim().split('\n').slice(-5).join('\n')
    super(`${result.command} ${result.args.join(' ')} failed with exit code ${result.code}${tail ? `: ${tail}` : ''}`, {
      code: 'TOOL_FAILED',
      where: result.command,
    })
  }
}

export class ToolTimeoutError extends LifeboatError {
  constructor(command: string, args: string[], timeoutMs: number) {
    super(`${command} ${args.join(' ')} did not finish within ${Math.round(timeoutMs / 1000)} s and was stopped`, {
      code: 'TOOL_TIMEOUT',
      where: command,
      hint: 'check the device or service it talks to; a longer timeout may be configured where the command offers one',
    })
  }
}

/** Runs external tools. Injectable so tests and dry runs can replace it. */
export interface Runner {
  run(command: string, args: string[], opts?: RunOptions): Promise<RunResult>
}

/** Runs a tool with an argv array (never a shell string), capturing stdout, stderr and the exit code. */
export function runTool(command: string, args: string[], opts: RunOptions = {}): Promise<RunResult> {
  const started = Date.now()
  const timeoutMs = opts.timeoutMs ?? 5 * 60_000
  const maxBuffer = opts.maxBuffer ?? 64 * 1024 * 1024
  const ok = opts.okExitCodes ?? [0]
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {cwd: opts.cwd, env: opts.env ?? process.env, shell: false, stdio: ['pipe', 'pipe', 'pipe']})
    const out: Buffer[] = []
    const err: Buffer[] = []
    let outLen = 0
    let errLen = 0
    let timedOut = false
    let killTimer: NodeJS.Timeout | undefined
    const timer = setTimeout(() => {
      timedOut = true
      child.kill('SIGTERM')
      killTimer = setTimeout(() => child.kill('SIGKILL'), 2000)
    }, timeoutMs)
    child.stdout.on('data', (b: Buffer) => {
      if (outLen < maxBuffer) out.push(b)
      outLen += b.length
    })
    child.stderr.on('data', (b: Buffer) => {
      if (errLen < maxBuffer) err.push(b)
      errLen += b.length
    })
    child.stdin.on('error', () => {}) // the tool may exit before reading its input
    child.on('error', (e: NodeJS.ErrnoException) => {
      clearTimeout(timer)
      if (killTimer) clearTimeout(killTimer)
      if (e.code === 'ENOENT') reject(new ToolMissingError(command))
      else reject(new LifeboatError(`cannot run ${command}: ${e.message}`, {code: 'TOOL_FAILED', where: command, cause: e}))
    })
    child.on('close', (code, signal) => {
      clearTimeout(timer)
      if (killTimer) clearTimeout(killTimer)
      if (timedOut) {
        reject(new ToolTimeoutError(command, args, timeoutMs))
        return
      }
      const result: RunResult = {
        command,
        args,
        code: code ?? (signal ? 128 : 1),
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
        durationMs: Date.now() - started,
      }
      if (ok.includes(result.code)) resolve(result)
      else reject(new ToolFailedError(result))
    })
    child.stdin.end(opts.input ?? '')
  })
}

export const defaultRunner: Runner = {run: runTool}

/** Finds a tool on PATH (or at an absolute path); undefined when absent. Also looks in the sbin folders. */
export function which(tool: string, env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (tool.includes('/')) return isExecutable(tool) ? tool : undefined
  const dirs = (env.PATH ?? '').split(':').filter(Boolean)
  for (const extra of ['/usr/local/sbin', '/usr/sbin', '/sbin']) if (!dirs.includes(extra)) dirs.push(extra)
  for (const dir of dirs) {
    const p = path.join(dir, tool)
    if (isExecutable(p)) return p
  }
  return undefined
}

function isExecutable(p: string): boolean {
  try {
    const st = fs.statSync(p)
    if (!st.isFile()) return false
    fs.accessSync(p, fs.constants.X_OK)
    return true
  } catch {
    return false
  }
}
