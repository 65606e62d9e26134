import {CopyImageCommand, RunInstancesCommand} from '@aws-sdk/client-ec2'
import {expect} from 'chai'

import {amiCopy} from '../../../src/dr/steps/ami-copy.js'
import {ec2Launch} from '../../../src/dr/steps/ec2-launch.js'
import {steps} from '../../../src/dr/steps/index.js'
import {type FakeAws, awsError, installFakeAws} from '../fake-aws.js'
import {testContext} from '../step-context.js'

const SRC = 'ami-0123456789abcdef0'

describe('dr steps: ami.copy and ec2.launch', () => {
  let aws: FakeAws
  beforeEach(() => {
    aws = installFakeAws()
    aws.ec2.addImage('us-east-1', {ImageId: SRC, Name: 'shop', Tags: [{Key: 'app', Value: 'shop'}]})
  })
  afterEach(() => aws.restore())

  it('registers every step type by its name', () => {
    for (const [name, def] of Object.entries(steps)) expect(def.type).to.equal(name)
    expect(steps).to.include.keys('ami.copy', 'ec2.launch')
  })

  describe('ami.copy', () => {
    it('calls CopyImage on the DR region client with the source region, tags, ClientToken, records the image before waiting, then waits until available', async () => {
      const ctx = testContext({stepId: 'copy-ami'})
      const p = amiCopy.params.parse({sourceImageId: SRC, sourceRegion: 'us-east-1', name: 'shop-dr'})
      const r = await amiCopy.run(p, ctx)

      const calls = aws.ec2.calls.filter((c) => c.command === 'CopyImage')
      expect(calls).to.have.length(1)
      expect(calls[0].region).to.equal('us-west-2')
      expect(calls[0].input).to.include({SourceRegion: 'us-east-1', SourceImageId: SRC, Name: 'shop-dr', ClientToken: ctx.token(), CopyImageTags: true})
      expect(calls[0].input.TagSpecifications).to.deep.include({
        ResourceType: 'image',
        Tags: [
          {Key: 'lifeboat:run-id', Value: ctx.runId},
          {Key: 'lifeboat:step', Value: 'copy-ami'},
          {Key: 'lifeboat:mode', Value: 'failover'},
        ],
      })
      // The copy lives in us-west-2, tagged with the run id and the source's own tags.
      const img = aws.ec2.images.get(r.outputs.imageId as string)!
      expect(img.region).to.equal('us-west-2')
      expect(img.State).to.equal('available')
      expect(img.Tags).to.deep.include({Key: 'app', Value: 'shop'})
      expect(img.Tags).to.deep.include({Key: 'lifeboat:run-id', Value: ctx.runId})
      expect(ctx.resources).to.deep.equal([{kind: 'ec2:image', id: img.ImageId, region: 'us-west-2', stepId: 'copy-ami'}])
      // It polled with the context's sleep (fake time), at the configured interval.
      expect(ctx.sleeps.length).to.be.greaterThan(0)
      expect(ctx.sleeps.every((ms) => ms === 15_000)).to.equal(true)
      expect(aws.ec2Mock.commandCalls(CopyImageCommand)).to.have.length(1)
    })

    it('on resume it does not copy again but waits for the image it recorded', async () => {
      const first = testContext({stepId: 'copy-ami'})
      const p = amiCopy.params.parse({sourceImageId: SRC, name: 'shop-dr'})
      await amiCopy.run(p, first)
      const again = testContext({stepId: 'copy-ami', state: first.state})
      const r = await amiCopy.run(p, again)
      expect(r.outputs.imageId).to.equal(first.state.imageId)
      expect(aws.ec2Mock.commandCalls(CopyImageCommand)).to.have.length(1)
      expect(aws.ec2.live('us-west-2').images).to.have.length(1)
    })

    it('fails clearly when the copied image ends in state failed, naming the reason', async () => {
      aws.ec2.copyOutcome = {state: 'failed', code: 'Client.InvalidKMSKey.InvalidState', message: 'The KMS key provided is in an incorrect state'}
      const ctx = testContext({stepId: 'copy-ami'})
      const p = amiCopy.params.parse({sourceImageId: SRC, name: 'shop-dr'})
      const err = await amiCopy.run(p, ctx).catch((error) => error)
      expect(err).to.be.instanceOf(Error)
      expect(err.message).to.match(/failed: image ami-\w+ is failed: The KMS key provided is in an incorrect state/)
      expect(err.exitCode).to.equal(1)
      // Recorded before the wait, so cleanup can remove the failed image.
      expect(ctx.resources).to.have.length(1)
      await amiCopy.removeResource!(ctx.resources[0], ctx)
      expect(aws.ec2.live('us-west-2')).to.deep.include({images: [], snapshots: []})
    })

    it('a retry after a failed copy starts a fresh copy with a new ClientToken (the failed image is removed)', async () => {
      aws.ec2.copyOutcome = {state: 'failed', message: 'Snapshot copy failed'}
      const ctx = testContext({stepId: 'copy-ami'})
      const p = amiCopy.params.parse({sourceImageId: SRC, name: 'shop-dr'})
      await amiCopy.run(p, ctx).catch(() => undefined)
      // The runner retries with the same journal state.
      const r = await amiCopy.run(p, ctx)
      const tokens = aws.ec2Mock.commandCalls(CopyImageCommand).map((c) => c.args[0].input.ClientToken)
      expect(tokens).to.have.length(2)
      expect(tokens[1]).to.not.equal(tokens[0])
      expect(aws.ec2.live('us-west-2').images.map((i) => i.ImageId)).to.deep.equal([r.outputs.imageId])
      expect(ctx.resources.map((x) => x.id)).to.have.length(2)
    })

    it('times out (in fake time) with a hint when the copy stays pending', async () => {
      aws.ec2.delayPolls = 1_000_000
      const ctx = testContext({stepId: 'copy-ami'})
      const p = amiCopy.params.parse({sourceImageId: SRC, name: 'shop-dr', maxWait: '10m', pollInterval: '30s'})
      const err = await amiCopy.run(p, ctx).catch((error) => error)
      expect(err.code).to.equal('DR_STEP_TIMEOUT')
      expect(err.message).to.match(/timed out after 10m waiting for image ami-\w+ in us-west-2 to become available \(last: ami-\w+: pending\)/)
      expect(ctx.elapsed()).to.be.at.most(10 * 60_000)
      expect(ctx.elapsed()).to.be.at.least(9 * 60_000)
    })

    it('removeResource deregisters the image and deletes its snapshots, and tolerates them being gone', async () => {
      const ctx = testContext({stepId: 'copy-ami'})
      const p = amiCopy.params.parse({sourceImageId: SRC, name: 'shop-dr'})
      await amiCopy.run(p, ctx)
      expect(aws.ec2.live('us-west-2').snapshots).to.have.length(1)
      await amiCopy.removeResource!(ctx.resources[0], ctx)
      await amiCopy.removeResource!(ctx.resources[0], ctx)
      expect(aws.ec2.live('us-west-2')).to.deep.include({images: [], snapshots: []})
      // The source is untouched.
      expect(aws.ec2.live('us-east-1').images).to.have.length(1)
    })

    it('plan and readiness read the source image without writing anything', async () => {
      const ctx = testContext()
      const p = amiCopy.params.parse({sourceImageId: SRC, name: 'shop-dr', maxSourceAge: '1d'})
      const line = await amiCopy.plan(p, ctx)
      expect(line.action).to.equal('create')
      expect(line.summary).to.equal(`copy ${SRC} from us-east-1 to us-west-2 as "shop-dr" and wait until available`)
      expect(line.details).to.not.have.property('problem')
      const checks = await amiCopy.readiness!(p, ctx)
      expect(checks[0]).to.include({ok: true})
      // The fixture image is from 2026-11-20, two days before the fake now.
      expect(checks[1]).to.include({ok: false, severity: 'warn'})
      const missing = await amiCopy.readiness!(amiCopy.params.parse({sourceImageId: 'ami-0fffffffffffffff0', name: 'x'}), ctx)
      expect(missing[0]).to.include({ok: false})
      expect(missing[0].detail).to.match(/not found/)
      expect(aws.ec2.calls.every((c) => c.command.startsWith('Describe'))).to.equal(true)
    })
  })

  describe('ec2.launch', () => {
    beforeEach(() => {
      aws.ec2.addImage('us-west-2', {ImageId: 'ami-0dddddddddddddd01', Name: 'shop-dr'})
      aws.ec2.addSubnet('us-west-2', 'subnet-0aaaaaaaaaaaaaaa1')
      aws.ec2.addSecurityGroup('us-west-2', 'sg-0bbbbbbbbbbbbbbb1')
    })

    const params = () =>
      ec2Launch.params.parse({
        imageId: 'ami-0dddddddddddddd01',
        instanceType: 't3.small',
        count: 2,
        subnetId: 'subnet-0aaaaaaaaaaaaaaa1',
        securityGroupIds: ['sg-0bbbbbbbbbbbbbbb1'],
        tags: {app: 'shop'},
      })

    it('RunInstances with MinCount=MaxCount=count, ClientToken and tags, records instances, waits running, outputs ids and IPs', async () => {
      const ctx = testContext({stepId: 'app'})
      const r = await ec2Launch.run(params(), ctx)
      const calls = aws.ec2Mock.commandCalls(RunInstancesCommand)
      expect(calls).to.have.length(1)
      const input = calls[0].args[0].input
      expect(input).to.include({MinCount: 2, MaxCount: 2, ClientToken: ctx.token(), ImageId: 'ami-0dddddddddddddd01', InstanceType: 't3.small', SubnetId: 'subnet-0aaaaaaaaaaaaaaa1'})
      expect(input.SecurityGroupIds).to.deep.equal(['sg-0bbbbbbbbbbbbbbb1'])
      expect(input.TagSpecifications![0].Tags).to.deep.include.members([
        {Key: 'app', Value: 'shop'},
        {Key: 'lifeboat:run-id', Value: ctx.runId},
      ])
      const ids = r.outputs.instanceIds as string[]
      expect(ids).to.have.length(2)
      expect(ctx.resources.map((x) => x.id)).to.deep.equal(ids)
      for (const id of ids) expect(aws.ec2.instances.get(id)!.State!.Name).to.equal('running')
      expect(r.outputs.privateIps).to.have.length(2)
      expect((r.outputs.publicIps as string[]).every((ip) => /^203\.0\.113\./.test(ip))).to.equal(true)
      expect(aws.ec2.calls.find((c) => c.command === 'RunInstances')!.region).to.equal('us-west-2')
    })

    it('a relaunch after a crash sends the same ClientToken and gets the same instances (no duplicates)', async () => {
      const first = testContext({stepId: 'app'})
      const a = await ec2Launch.run(params(), first)
      // The process died before the journal marked the step done: resume runs it again with the same token.
      const again = testContext({stepId: 'app', state: first.state})
      const b = await ec2Launch.run(params(), again)
      const calls = aws.ec2Mock.commandCalls(RunInstancesCommand)
      expect(calls).to.have.length(2)
      expect(calls[1].args[0].input.ClientToken).to.equal(calls[0].args[0].input.ClientToken)
      expect(b.outputs.instanceIds).to.deep.equal(a.outputs.instanceIds)
      expect(aws.ec2.live('us-west-2').instances).to.have.length(2)
      expect(again.resources).to.have.length(0)
    })

    it('waitFor status-ok waits for both status checks', async () => {
      const ctx = testContext({stepId: 'app'})
      await ec2Launch.run(ec2Launch.params.parse({...params(), waitFor: 'status-ok'}), ctx)
      expect(aws.ec2.calls.some((c) => c.command === 'DescribeInstanceStatus')).to.equal(true)
    })

    it('fails when an instance terminates while launching, with its state reason', async () => {
      const ctx = testContext({
        stepId: 'app',
        onSleep() {
          for (const i of aws.ec2.instances.values()) {
            i.State = {Name: 'terminated', Code: 48}
            i.StateReason = {Code: 'Server.InsufficientInstanceCapacity', Message: 'Server.InsufficientInstanceCapacity: Insufficient capacity.'}
          }
        },
      })
      aws.ec2.delayPolls = 5
      const err = await ec2Launch.run(params(), ctx).catch((error) => error)
      expect(err.message).to.match(/instances ended while waiting for running: i-\w+: Server.InsufficientInstanceCapacity/)
    })

    it('after the instances ended (no capacity), a retry launches new ones with a new token', async () => {
      let kill = true
      const ctx = testContext({
        stepId: 'app',
        onSleep() {
          if (!kill) return
          kill = false
          for (const i of aws.ec2.instances.values()) {
            i.State = {Name: 'terminated', Code: 48}
            i.StateReason = {Code: 'Server.InsufficientInstanceCapacity', Message: 'Server.InsufficientInstanceCapacity: Insufficient capacity.'}
          }
        },
      })
      aws.ec2.delayPolls = 3
      const e = await ec2Launch.run(params(), ctx).catch((error) => error)
      expect(e.code).to.equal('DR_INSTANCES_ENDED')
      const r = await ec2Launch.run(params(), ctx)
      const calls = aws.ec2Mock.commandCalls(RunInstancesCommand)
      expect(calls[1].args[0].input.ClientToken).to.not.equal(calls[0].args[0].input.ClientToken)
      expect(aws.ec2.live('us-west-2').instances.map((i) => i.InstanceId)).to.deep.equal(r.outputs.instanceIds)
    })

    it('passes the SDK error through when RunInstances is refused', async () => {
      aws.ec2.failNext('RunInstances', awsError('InsufficientInstanceCapacity', 'We currently do not have sufficient t3.small capacity in the Availability Zone you requested (us-west-2a).', 500))
      const ctx = testContext({stepId: 'app'})
      const err = await ec2Launch.run(params(), ctx).catch((error) => error)
      expect(err.name).to.equal('InsufficientInstanceCapacity')
      expect(ctx.resources).to.have.length(0)
    })

    it('launches from a launch template by name', async () => {
      aws.ec2.addLaunchTemplate('us-west-2', {LaunchTemplateId: 'lt-0123456789abcdef0', LaunchTemplateName: 'shop', ImageId: 'ami-0dddddddddddddd01', InstanceType: 't3.micro'})
      const ctx = testContext({stepId: 'app'})
      const r = await ec2Launch.run(ec2Launch.params.parse({launchTemplate: {name: 'shop', version: '$Latest'}}), ctx)
      const input = aws.ec2Mock.commandCalls(RunInstancesCommand)[0].args[0].input
      expect(input.LaunchTemplate).to.deep.equal({LaunchTemplateId: undefined, LaunchTemplateName: 'shop', Version: '$Latest'})
      expect(aws.ec2.instances.get((r.outputs.instanceIds as string[])[0])!.InstanceType).to.equal('t3.micro')
    })

    it('rejects params without an image or template, and a template with both id and name', () => {
      expect(ec2Launch.params.safeParse({instanceType: 't3.small'}).success).to.equal(false)
      expect(ec2Launch.params.safeParse({launchTemplate: {id: 'lt-1', name: 'x'}}).success).to.equal(false)
      expect(ec2Launch.params.safeParse({imageId: '${steps.copy-ami.imageId}', count: 2}).success).to.equal(true)
    })

    it('rollback and removeResource terminate the instances', async () => {
      const ctx = testContext({stepId: 'app'})
      const r = await ec2Launch.run(params(), ctx)
      await ec2Launch.rollback!(params(), r, ctx)
      await ec2Launch.removeResource!(ctx.resources[0], ctx)
      for (const id of r.outputs.instanceIds as string[]) expect(aws.ec2.instances.get(id)!.State!.Name).to.be.oneOf(['shutting-down', 'terminated'])
    })

    it('readiness: AMI, subnet, security groups in the DR region; a missing subnet fails', async () => {
      const ctx = testContext()
      const ok = await ec2Launch.readiness!(params(), ctx)
      expect(ok.every((c) => c.ok)).to.equal(true)
      expect(ok.map((c) => c.name)).to.deep.equal([
        'AMI ami-0dddddddddddddd01 in us-west-2',
        'subnet subnet-0aaaaaaaaaaaaaaa1 in us-west-2',
        'security groups sg-0bbbbbbbbbbbbbbb1 in us-west-2',
      ])
      const bad = await ec2Launch.readiness!(ec2Launch.params.parse({...params(), subnetId: 'subnet-0ffffffffffffff99', securityGroupIds: ['sg-0bbbbbbbbbbbbbbb1']}), ctx)
      expect(bad.find((c) => c.name.startsWith('subnet'))).to.include({ok: false, detail: 'not found in us-west-2'})
      const line = await ec2Launch.plan(ec2Launch.params.parse({imageId: '${steps.copy-ami.imageId}', instanceType: 't3.small', count: 2}), ctx)
      expect(line.summary).to.equal('launch 2 × t3.small from ${steps.copy-ami.imageId} in us-west-2, wait until running')
      expect(aws.ec2Mock.commandCalls(RunInstancesCommand)).to.have.length(0)
      expect(aws.ec2Mock.calls().every((c) => (c.args[0] as any).constructor.name.startsWith('Describe'))).to.equal(true)
    })
  })
})
