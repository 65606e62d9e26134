import {expect} from 'chai'

import {ConfigError} from '../../src/errors.js'
import {findReferences, interpolate, type Scope} from '../../src/dr/interpolate.js'
import {parsePlaybook} from '../../src/dr/playbook.js'
import {FakeCloud, fakeRegistry} from './fakes.js'

const registry = fakeRegistry(new FakeCloud())

const HEAD = `name: shop
strategy: pilot-light
regions: { primary: us-east-1, dr: us-west-2 }
targets: { rto: 30m, rpo: 1h }
waves:
`

function errorOf(text: string): ConfigError {
  try {
    parsePlaybook(text, '/p/shop.yaml', registry)
  } catch (error) {
    expect(error).to.be.instanceOf(ConfigError)
    return error as ConfigError
  }
  expect.fail('the playbook should be invalid')
}

describe('dr playbook schema', () => {
  it('accepts a valid playbook and converts durations to milliseconds', () => {
    const {playbook} = parsePlaybook(
      HEAD +
        `  - name: a
    steps:
      - id: one
        type: fake.create
        timeout: 90s
        retries: 2
        params: { count: 2 }
      - id: two
        type: fake.echo
        dependsOn: [one]
        params: { value: "\${steps.one.instanceIds[1]}" }
`,
      '/p/shop.yaml',
      registry,
    )
    expect(playbook.targets).to.deep.equal({rto: 1_800_000, rpo: 3_600_000})
    expect(playbook.waves[0].steps[0].timeout).to.equal(90_000)
    expect(playbook.waves[0].steps[1].when).to.equal('always')
  })

  it('names file:line:column for schema errors (bad strategy, bad duration, unknown field)', () => {
    const e = errorOf(`name: shop
strategy: hot-spare
regions: { primary: us-east-1, dr: us-west-2 }
targets: { rto: soon, rpo: 1h }
waves:
  - name: a
    steps:
      - id: one
        type: fake.echo
        params: { value: 1 }
        retires: 3
`)
    expect(e.exitCode).to.equal(2)
    expect(e.message).to.match(/\/p\/shop\.yaml:2:\d+: strategy:/)
    expect(e.message).to.match(/\/p\/shop\.yaml:4:\d+: targets\.rto: "soon" is not a duration/)
    expect(e.message).to.contain('/p/shop.yaml:11:9: waves[0].steps[0].retires: unknown field "retires"')
    expect(e.where).to.match(/^\/p\/shop\.yaml:2:\d+$/)
  })

  it('names file:line for unknown step types, bad params, unknown dependsOn and duplicate ids', () => {
    const e = errorOf(
      HEAD +
        `  - name: a
    steps:
      - id: one
        type: ec2.teleport
      - id: two
        type: fake.create
        params: { count: zero }
      - id: one
        type: fake.echo
        dependsOn: [nope]
`,
    )
    expect(e.message).to.match(/shop\.yaml:9:15: waves\[0\]\.steps\[0\]\.type: unknown step type "ec2\.teleport" \(known: .*fake\.create/)
    expect(e.message).to.match(/shop\.yaml:12:26: waves\[0\]\.steps\[1\]\.params\.count: /)
    expect(e.message).to.contain('shop.yaml:13:13: waves[0].steps[2].id: duplicate step id "one"')
    expect(e.message).to.contain('shop.yaml:15:21: waves[0].steps[2].dependsOn[0]: unknown step "nope"')
  })

  it('checks ${steps...} references: unknown step, later wave, same wave without dependsOn, malformed', () => {
    const e = errorOf(
      HEAD +
        `  - name: a
    steps:
      - id: one
        type: fake.echo
        params: { value: "\${steps.two.value}" }
      - id: sib
        type: fake.echo
        params: { value: "\${steps.one.value}" }
      - id: bad
        type: fake.echo
        params: { value: "x-\${steps.one}-\${steps.ghost.value}" }
  - name: b
    steps:
      - id: two
        type: fake.echo
        params: { value: 1 }
`,
    )
    expect(e.message).to.contain('shop.yaml:10:26: waves[0].steps[0].params.value: ${steps.two.value}: step "two" runs in a later wave')
    expect(e.message).to.contain('shop.yaml:13:26: waves[0].steps[1].params.value: ${steps.one.value}: "one" is in the same wave; add it to dependsOn')
    expect(e.message).to.contain('expected ${steps.<id>.<output>}')
    expect(e.message).to.contain('names unknown step "ghost"')
  })

  it('rejects dependsOn cycles and dependencies on later waves', () => {
    const e = errorOf(
      HEAD +
        `  - name: a
    steps:
      - { id: x, type: fake.echo, dependsOn: [y], params: { value: 1 } }
      - { id: y, type: fake.echo, dependsOn: [x], params: { value: 1 } }
      - { id: z, type: fake.echo, dependsOn: [w], params: { value: 1 } }
  - name: b
    steps:
      - { id: w, type: fake.echo, params: { value: 1 } }
`,
    )
    expect(e.message).to.contain('"x" is part of a dependsOn cycle')
    expect(e.message).to.contain('"y" is part of a dependsOn cycle')
    expect(e.message).to.contain('"w" is in a later wave ("b")')
  })

  it('a YAML syntax error carries its position', () => {
    const e = errorOf('name: [shop\n')
    expect(e.where).to.match(/^\/p\/shop\.yaml:\d+:\d+$/)
  })
})

describe('dr interpolation', () => {
  const scope: Scope = {
    steps: {app: {instanceIds: ['i-1', 'i-2'], meta: {az: 'us-west-2a'}, count: 2}},
    regions: {primary: 'us-east-1', dr: 'us-west-2'},
    run: {id: 'R1', mode: 'drill'},
  }
  it('a whole-string reference keeps its type; indexes and nested properties work', () => {
    expect(interpolate('${steps.app.instanceIds}', scope)).to.deep.equal(['i-1', 'i-2'])
    expect(interpolate('${steps.app.instanceIds[1]}', scope)).to.equal('i-2')
    expect(interpolate('${steps.app.count}', scope)).to.equal(2)
    expect(interpolate({a: ['${steps.app.meta.az}'], b: {c: '${regions.dr}'}}, scope)).to.deep.equal({a: ['us-west-2a'], b: {c: 'us-west-2'}})
  })

  it('references inside longer strings are stringified; $${ is a literal', () => {
    expect(interpolate('host ${steps.app.instanceIds[0]} in ${regions.primary} (${run.id})', scope)).to.equal('host i-1 in us-east-1 (R1)')
    expect(interpolate('ids=${steps.app.instanceIds}', scope)).to.equal('ids=["i-1","i-2"]')
    expect(interpolate('cost $${HOME} stays', scope)).to.equal('cost ${HOME} stays')
    expect(findReferences('$${x}')).to.have.length(0)
  })

  it('a missing output or index names what exists', () => {
    expect(() => interpolate('${steps.app.instanceIds[5]}', scope)).to.throw(/steps\.app\.instanceIds\[5\] does not exist \(2 items\)/)
    expect(() => interpolate('${steps.app.imageId}', scope)).to.throw(/has: instanceIds, meta, count/)
    expect(() => interpolate('${steps.db.x}', scope)).to.throw(/step "db" has no outputs/)
    expect(interpolate('${steps.db.x}', scope, {unresolved: 'keep'})).to.equal('${steps.db.x}')
  })
})
