/**
 * The md VM harness: boots the Debian kernel prepared by .ci/md-vm-prepare under qemu with N sparse virtio
 * disks (/dev/vda, /dev/vdb, …), shares the host's filesystem read-only over virtio-9p, and runs a shell
 * scenario chrooted into it, so the guest runs the host's node, mdadm and util-linux and the project's built
 * CLI (at its host path) against real Linux md arrays. /tmp, /run and /dev/shm are fresh tmpfs in the guest.
 *
 * A scenario records what the host should look at with the prelude's helpers:
 *   step NAME CMD…    runs CMD; its stdout, stderr, exit code and duration come back as a VmStep
 *   value NAME TEXT   records a value (e.g. a checksum) under NAME
 *   lifeboat ARGS…    the project's CLI (node ROOT/bin/run.js)
 * Results travel through a writable 9p share (the "work" tag, /run/lifeboat-vm in the guest); the console
 * carries "@@LIFEBOAT-VM …" marks (ready, step, value, exit, poweroff) for progress and diagnosis.
 */
import {spawn, spawnSync} from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {fileURLToPath} from 'node:url'

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..')
export const CACHE_DIR = process.env.LIFEBOAT_MD_VM_CACHE ?? '/var/cache/lifeboat-md-vm'
export const PREPARE_SCRIPT = path.join(ROOT, '.ci', 'md-vm-prepare')
const MARK = '@@LIFEBOAT-VM '

export interface VmStep {
  name: string
  code: number
  stdout: string
  stderr: string
  /** Guest seconds the command took. */
  seconds: number
}

export interface VmRun {
  accel: 'kvm' | 'tcg'
  steps: VmStep[]
  values: Record<string, string>
  /** The serial console, escape sequences removed. */
  console: string
  /** The scenario script's exit code; undefined when it never finished (crash, timeout). */
  scenarioExit?: number
  timedOut: boolean
  /** Host wall-clock seconds: qemu start to the init's "ready" mark, "ready" to the scenario's end, and all. */
  bootSeconds?: number
  scenarioSeconds?: number
  wallSeconds: number
}

export interface VmOptions {
  /** The scenario, a POSIX shell script run with /bin/sh in the guest after the prelude. */
  script: string
  disks?: number
  diskMiB?: number
  memMiB?: number
  /** qemu -cpu model (default: host under KVM, max under TCG). */
  cpu?: string
  /** Guest CPUs (default 1; TCG runs each on its own host thread). */
  cpus?: number
  /** Kill qemu after this long (the run then reports timedOut). */
  timeoutMs?: number
  /** Default: $LIFEBOAT_MD_VM_ACCEL, else what the prepare script's probe boot found (CACHE_DIR/accel). */
  accel?: 'kvm' | 'tcg'
  /** Each console line as it arrives (for progress output). */
  onLine?: (line: string) => void
}

/** Whether .ci/md-vm-prepare has built the kernel and initramfs. */
export function vmPrepared(cache = CACHE_DIR): boolean {
  return fs.existsSync(path.join(cache, 'ready')) && fs.existsSync(path.join(cache, 'vmlinuz')) && fs.existsSync(path.join(cache, 'initrd.cpio.gz'))
}

/** Runs .ci/md-vm-prepare when the cache is missing (it needs root for apt-get). Throws with its output on failure. */
export function ensurePrepared(cache = CACHE_DIR): {ran: boolean; seconds: number; output: string} {
  if (vmPrepared(cache)) return {ran: false, seconds: 0, output: ''}
  const t = Date.now()
  const r = spawnSync(PREPARE_SCRIPT, [], {env: {...process.env, LIFEBOAT_MD_VM_CACHE: cache}, encoding: 'utf8', timeout: 15 * 60_000})
  const output = `${r.stdout ?? ''}${r.stderr ?? ''}`
  if (r.status !== 0 || !vmPrepared(cache)) throw new Error(`.ci/md-vm-prepare failed (exit ${r.status ?? r.signal}):\n${output}`)
  return {ran: true, seconds: (Date.now() - t) / 1000, output}
}

function chooseAccel(cache: string, wanted?: 'kvm' | 'tcg'): 'kvm' | 'tcg' {
  const env = process.env.LIFEBOAT_MD_VM_ACCEL
  if (wanted) return wanted
  if (env === 'kvm' || env === 'tcg') return env
  try {
    return fs.readFileSync(path.join(cache, 'accel'), 'utf8').trim() === 'kvm' ? 'kvm' : 'tcg'
  } catch {
    return 'tcg'
  }
}

/** The guest mounts tmpfs over /tmp and /run: a project checked out there must be carried over (lifeboat.keep=). */
function keepArg(): string {
  if (!/^\/(tmp|run)\//.test(ROOT)) return ''
  if (/\s/.test(ROOT)) throw new Error(`the md VM cannot run a project under /tmp or /run whose path has spaces: ${ROOT}`)
  return ` lifeboat.keep=${ROOT}`
}

function shq(s: string): string {
  return `'${s.replaceAll("'", "'\\''")}'`
}

/** The shell prelude every scenario runs after: step/value/lifeboat helpers writing into the work share. */
export function prelude(): string {
  return `# lifeboat md VM scenario prelude
O=/run/lifeboat-vm
ROOT=${shq(ROOT)}
mkdir -p "$O/steps" "$O/values"
_n=0
_now() { cut -d' ' -f1 /proc/uptime; }
step() {
  _name=$1; shift; _n=$((_n + 1)); _id=$(printf '%03d' "$_n")
  _s=$(_now)
  "$@" >"$O/steps/$_id.out" 2>"$O/steps/$_id.err"
  _rc=$?
  printf '%s %s %s %s\\n' "$_rc" "$_s" "$(_now)" "$_name" >"$O/steps/$_id.rc"
  echo "${MARK}step $_name rc=$_rc t=$(_now)"
  return $_rc
}
value() { printf '%s' "$2" >"$O/values/$1"; echo "${MARK}value $1=$2"; }
lifeboat() { node "$ROOT/bin/run.js" "$@"; }
export NO_COLOR=1 CI=1
cd "$ROOT" || exit 99
`
}

function readSteps(dir: string): VmStep[] {
  const d = path.join(dir, 'steps')
  if (!fs.existsSync(d)) return []
  const ids = fs.readdirSync(d).filter((f) => f.endsWith('.rc')).map((f) => f.slice(0, -3)).sort()
  return ids.map((id) => {
    const [rc, start, end, ...name] = fs.readFileSync(path.join(d, `${id}.rc`), 'utf8').trim().split(' ')
    const read = (ext: string) => (fs.existsSync(path.join(d, `${id}.${ext}`)) ? fs.readFileSync(path.join(d, `${id}.${ext}`), 'utf8') : '')
    return {name: name.join(' '), code: Number(rc), stdout: read('out'), stderr: read('err'), seconds: Number(end) - Number(start)}
  })
}

function readValues(dir: string): Record<string, string> {
  const d = path.join(dir, 'values')
  if (!fs.existsSync(d)) return {}
  return Object.fromEntries(fs.readdirSync(d).map((f) => [f, fs.readFileSync(path.join(d, f), 'utf8')]))
}

/** Boots the VM, runs the scenario, powers off, and returns what it recorded. Disks are fresh sparse files. */
export async function runInVm(o: VmOptions): Promise<VmRun> {
  const cache = CACHE_DIR
  if (!vmPrepared(cache)) throw new Error(`the md VM is not prepared in ${cache}: run .ci/md-vm-prepare (as root)`)
  const accel = chooseAccel(cache, o.accel)
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'lifeboat-md-vm-'))
  const diskDir = fs.mkdtempSync(path.join(os.tmpdir(), 'lifeboat-md-vm-disks-'))
  try {
    fs.writeFileSync(path.join(work, 'scenario.sh'), `${prelude()}\n${o.script}\n`, {mode: 0o755})
    const args = [
      '-accel', accel, '-cpu', o.cpu ?? (accel === 'kvm' ? 'host' : 'max'), '-smp', String(o.cpus ?? 1), '-m', String(o.memMiB ?? 1024),
      '-nographic', '-no-reboot', '-nic', 'none',
      '-kernel', path.join(cache, 'vmlinuz'), '-initrd', path.join(cache, 'initrd.cpio.gz'),
      '-append', `console=ttyS0 quiet panic=-1${keepArg()}`,
      '-virtfs', 'local,path=/,mount_tag=host,security_model=none,readonly=on,multidevs=remap',
      '-virtfs', `local,path=${work},mount_tag=work,security_model=none`,
    ]
    for (let i = 0; i < (o.disks ?? 5); i++) {
      const img = path.join(diskDir, `vd${String.fromCodePoint(97 + i)}.img`)
      fs.writeFileSync(img, '')
      fs.truncateSync(img, (o.diskMiB ?? 64) * 1024 * 1024)
      args.push('-drive', `file=${img},if=virtio,format=raw,cache=unsafe`)
    }
    const t0 = Date.now()
    let ready: number | undefined
    let done: number | undefined
    let scenarioExit: number | undefined
    let timedOut = false
    let consoleText = ''
    let partial = ''
    const onText = (s: string) => {
      const clean = s.replaceAll('\r', '').replaceAll(/\u001B(?:\[[0-9;?]*[A-Za-z]|c)/g, '')
      consoleText += clean
      partial += clean
      const lines = partial.split('\n')
      partial = lines.pop() ?? ''
      for (const line of lines) {
        const at = line.indexOf(MARK)
        if (at >= 0) {
          const mark = line.slice(at + MARK.length)
          if (mark.startsWith('ready')) ready = Date.now()
          const exit = /^exit (\d+)/.exec(mark)
          if (exit) {
            done = Date.now()
            scenarioExit = Number(exit[1])
          }
        }
        o.onLine?.(line)
      }
    }
    await new Promise<void>((resolve, reject) => {
      const qemu = spawn('qemu-system-x86_64', args, {stdio: ['ignore', 'pipe', 'pipe']})
      const timer = setTimeout(() => {
        timedOut = true
        qemu.kill('SIGKILL')
      }, o.timeoutMs ?? 280_000)
      qemu.stdout.setEncoding('utf8').on('data', onText)
      qemu.stderr.setEncoding('utf8').on('data', onText)
      qemu.on('error', (e) => {
        clearTimeout(timer)
        reject(e)
      })
      qemu.on('close', () => {
        clearTimeout(timer)
        resolve()
      })
    })
    if (partial) onText('\n')
    const end = Date.now()
    return {
      accel,
      steps: readSteps(work),
      values: readValues(work),
      console: consoleText,
      scenarioExit,
      timedOut,
      bootSeconds: ready === undefined ? undefined : (ready - t0) / 1000,
      scenarioSeconds: ready === undefined || done === undefined ? undefined : (done - ready) / 1000,
      wallSeconds: (end - t0) / 1000,
    }
  } finally {
    fs.rmSync(work, {recursive: true, force: true})
    fs.rmSync(diskDir, {recursive: true, force: true})
  }
}

/** The --json envelope of a step run through the CLI (the last JSON line of its stdout). */
export function stepEnvelope(step: VmStep | undefined): any {
  if (!step) throw new Error('step missing: the scenario stopped before it')
  const lines = step.stdout.trim().split('\n')
  try {
    return JSON.parse(lines.at(-1)!)
  } catch {
    try {
      return JSON.parse(step.stdout)
    } catch {
      throw new Error(`step ${step.name} (exit ${step.code}) printed no JSON envelope:\nstdout: ${step.stdout.slice(0, 2000)}\nstderr: ${step.stderr.slice(0, 2000)}`)
    }
  }
}
