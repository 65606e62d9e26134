import {expect} from 'chai'
import {execFileSync, spawn} from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'

import {envelope, lifeboat} from '../helpers/cli.js'
import {ROOT, tempDir} from '../helpers/env.js'

/**
 * The built CLI (run `npm run build` first) in a subprocess and in a real pseudo-terminal. The playbook
 * has only approval, wait and script steps: no AWS call is needed (mocks do not cross a process).
 */
const PLAYBOOK = `name: local
strategy: backup-restore
regions: { primary: us-east-1, dr: us-west-2 }
targets: { rto: 5m, rpo: 1h }
waves:
  - name: before
    steps:
      - { id: note, type: script, params: { command: ["sh", "-c", "echo prepared > before.txt"], cwd: "WORKDIR" } }
      - { id: pause, type: wait, params: { duration: 100ms } }
  - name: gate
    steps:
      - { id: go, type: approval, params: { message: "Shift traffic to us-west-2?" } }
  - name: after
    steps:
      - { id: done, type: script, params: { command: ["sh", "-c", "echo shifted > after.txt"], cwd: "WORKDIR" } }
`

describe('dr CLI (built): approvals in scripts and on a terminal, Ctrl-C, init wizard', function () {
  this.timeout(120_000)
  let dir: string
  let file: string
  let env: NodeJS.ProcessEnv
  beforeEach(() => {
    dir = tempDir('lifeboat-dr-cli-')
    file = path.join(dir, 'local.yaml')
    fs.writeFileSync(file, PLAYBOOK.replaceAll('WORKDIR', dir))
    env = {XDG_STATE_HOME: path.join(dir, 'state'), XDG_CONFIG_HOME: path.join(dir, 'config'), LIFEBOAT_DR_RUN_DIR: ''}
    delete env.LIFEBOAT_DR_RUN_DIR
  })
  afterEach(() => fs.rmSync(dir, {recursive: true, force: true}))

  it('without a terminal and without --approve: exit 10 naming the flag; the run is resumable and finishes with --approve', async () => {
    const first = await lifeboat(['dr', 'failover', '-f', file, '--json'], env)
    expect(first.code).to.equal(10)
    const e = envelope(first.stdout)
    expect(e.error.code).to.equal('APPROVAL_REQUIRED')
    expect(e.error.hint).to.contain('--approve go')
    expect(fs.existsSync(path.join(dir, 'before.txt'))).to.equal(true)
    expect(fs.existsSync(path.join(dir, 'after.txt'))).to.equal(false)
    const runId = e.error.details.runId as string
    // The run lives under $XDG_STATE_HOME/lifeboat/dr/runs/<RUN>.
    expect(fs.existsSync(path.join(dir, 'state', 'lifeboat', 'dr', 'runs', runId, 'journal.json'))).to.equal(true)

    const human = await lifeboat(['dr', 'resume', runId], env)
    expect(human.code).to.equal(10)
    expect(human.stderr).to.contain(`lifeboat dr resume ${runId} --approve go`)

    const resumed = await lifeboat(['dr', 'resume', runId, '--approve', 'go'], env)
    expect(resumed.code, resumed.stderr).to.equal(0)
    expect(resumed.stdout).to.contain(`run ${runId}: succeeded`)
    // Plain progress lines on stderr (not a TTY).
    expect(resumed.stderr).to.contain('resuming failover run')
    expect(resumed.stderr).to.match(/go: succeeded/)
    expect(fs.readFileSync(path.join(dir, 'after.txt'), 'utf8')).to.equal('shifted\n')
  })

  it('Ctrl-C (SIGINT) stops the running steps, saves the journal and exits 1; resume finishes the run', async () => {
    // `pause` becomes a script that runs until a flag file exists (Ctrl-C must stop it).
    fs.writeFileSync(
      file,
      PLAYBOOK.replaceAll('WORKDIR', dir).replace('type: wait, params: { duration: 100ms }', `type: script, params: { command: ["sh", "-c", "while ! test -f go.flag; do sleep 0.2; done"], cwd: "${dir}" }`),
    )
    const child = spawn(process.execPath, [path.join(ROOT, 'bin', 'run.js'), 'dr', 'failover', '-f', file, '--approve', 'go'], {env: {...process.env, ...env}, stdio: ['ignore', 'pipe', 'pipe']})
    let stderr = ''
    let stdout = ''
    child.stdout.on('data', (b) => (stdout += b))
    const code = await new Promise<number>((resolve) => {
      child.stderr.on('data', (b) => {
        stderr += b
        if (/pause: started/.test(stderr) && /note: succeeded/.test(stderr) && !child.killed) child.kill('SIGINT')
      })
      child.on('close', (c) => resolve(c ?? -1))
    })
    expect(code, stderr).to.equal(1)
    expect(stderr).to.contain('interrupted')
    const runId = /continue with: lifeboat dr resume (\S+)/.exec(stderr)![1]
    const runs = path.join(dir, 'state', 'lifeboat', 'dr', 'runs')
    const j = JSON.parse(fs.readFileSync(path.join(runs, runId, 'journal.json'), 'utf8'))
    expect(j.status).to.equal('aborted')
    expect(j.steps.note.state).to.equal('succeeded')
    expect(j.steps.pause.state).to.equal('failed')
    expect(j.steps.pause.error.code).to.equal('ABORTED')
    expect(stdout).to.match(/pause\s+script\s+failed/)
    fs.writeFileSync(path.join(dir, 'go.flag'), '')
    const resumed = await lifeboat(['dr', 'resume', runId], env)
    expect(resumed.code, resumed.stderr).to.equal(0)
    expect(fs.readFileSync(path.join(dir, 'after.txt'), 'utf8')).to.equal('shifted\n')
  })

  function pty(args: string[], answer: string): {code: number; transcript: string} {
    const spec = path.join(dir, 'spec.json')
    fs.writeFileSync(
      spec,
      JSON.stringify({
        argv: [process.execPath, path.join(ROOT, 'bin', 'run.js'), ...args],
        env,
        timeout: 60,
        steps: [{expect: 'Shift traffic to us-west-2?', send: answer}],
      }),
    )
    try {
      return {code: 0, transcript: execFileSync('python3', [path.join(ROOT, 'test', 'helpers', 'pty-driver.py'), spec], {encoding: 'utf8'})}
    } catch (error: any) {
      return {code: error.status, transcript: String(error.stdout)}
    }
  }

  it('on a terminal the approval step asks; "y" continues the run', () => {
    const r = pty(['dr', 'failover', '-f', file], 'y\r')
    expect(r.code, r.transcript).to.equal(0)
    expect(r.transcript).to.contain('[go] Shift traffic to us-west-2?')
    expect(r.transcript).to.match(/run \S+: succeeded/)
    expect(fs.readFileSync(path.join(dir, 'after.txt'), 'utf8')).to.equal('shifted\n')
    const runs = path.join(dir, 'state', 'lifeboat', 'dr', 'runs')
    const [run] = fs.readdirSync(runs)
    const j = JSON.parse(fs.readFileSync(path.join(runs, run, 'journal.json'), 'utf8'))
    expect(j.steps.go.approval).to.include({by: 'prompt', answer: true})
  })

  it('on a terminal "n" is approval not given: nothing after it runs, exit 10, the run stays resumable', () => {
    const r = pty(['dr', 'failover', '-f', file], 'n\r')
    expect(r.code, r.transcript).to.equal(10)
    expect(r.transcript).to.match(/continue with: lifeboat dr resume \S+ --approve go/)
    expect(fs.existsSync(path.join(dir, 'after.txt'))).to.equal(false)
    const runs = path.join(dir, 'state', 'lifeboat', 'dr', 'runs')
    const [run] = fs.readdirSync(runs)
    const j = JSON.parse(fs.readFileSync(path.join(runs, run, 'journal.json'), 'utf8'))
    expect(j.status).to.equal('awaiting-approval')
    expect(j.steps.go.approval).to.include({by: 'prompt', answer: false})
  })

  it('dr init on a terminal asks for the strategy and the values, and writes a playbook that validates', async () => {
    const out = path.join(dir, 'web.yaml')
    const spec = path.join(dir, 'init.json')
    const clear = '\u0015' // Ctrl-U clears the default in the input line
    fs.writeFileSync(
      spec,
      JSON.stringify({
        argv: [process.execPath, path.join(ROOT, 'bin', 'run.js'), 'dr', 'init', '-o', out],
        env,
        timeout: 60,
        steps: [
          {expect: 'DR strategy', send: '\u001B[B\r'}, // second choice: pilot-light
          {expect: 'Service name', send: `${clear}web\r`},
          {expect: 'Primary region', send: `${clear}eu-central-1\r`},
          {expect: 'DR region', send: `${clear}eu-west-1\r`},
          {expect: 'RTO target', send: `${clear}15m\r`},
          {expect: 'RPO target', send: '\r'},
          {expect: 'AMI of the app server', send: `${clear}ami-0fedcba9876543210\r`},
          {expect: 'Elastic IP allocation', send: '\r'},
          {expect: 'Route 53 hosted zone id', send: `${clear}Z9999999999XYZ\r`},
          {expect: 'Weighted record name', send: `${clear}web.example.org.\r`},
          {expect: 'Health-check URL', send: `${clear}https://web.example.org/up\r`},
        ],
      }),
    )
    let transcript = ''
    try {
      transcript = execFileSync('python3', [path.join(ROOT, 'test', 'helpers', 'pty-driver.py'), spec], {encoding: 'utf8'})
    } catch (error: any) {
      throw new Error(`init failed (exit ${error.status}):\n${error.stdout}`)
    }
    expect(transcript).to.contain(`wrote ${out}`)
    const text = fs.readFileSync(out, 'utf8')
    expect(text).to.contain('strategy: pilot-light')
    expect(text).to.contain('name: web-pilot-light')
    expect(text).to.contain('regions: { primary: eu-central-1, dr: eu-west-1 }')
    expect(text).to.contain('targets: { rto: 15m, rpo: 1h }')
    expect(text).to.contain('sourceImageId: ami-0fedcba9876543210')
    expect(text).to.contain('hostedZoneId: Z9999999999XYZ')
    const v = await lifeboat(['dr', 'validate', '-f', out, '--json'], env)
    expect(v.code, v.stdout).to.equal(0)
    expect(envelope(v.stdout).result.regions).to.deep.equal({primary: 'eu-central-1', dr: 'eu-west-1'})
  })
})
