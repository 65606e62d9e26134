import type {StepDefinition} from '../step-types.js'
import {amiCopy} from './ami-copy.js'
import {approval} from './approval.js'
import {backupRestore} from './backup-restore.js'
import {ec2Launch} from './ec2-launch.js'
import {ec2Resize} from './ec2-resize.js'
import {ec2Scale} from './ec2-scale.js'
import {eipAssociate} from './eip-associate.js'
import {httpCheckStep} from './http-check.js'
import {route53Health} from './route53-health.js'
import {route53Weights} from './route53-weights.js'
import {script} from './script.js'
import {waitStep} from './wait.js'

/** Every step type, keyed by the `type` a playbook names. */
export const steps: Record<string, StepDefinition> = Object.fromEntries(
  [amiCopy, ec2Launch, ec2Resize, ec2Scale, eipAssociate, route53Weights, route53Health, httpCheckStep, backupRestore, approval, script, waitStep].map((s) => [
    s.type,
    s as StepDefinition,
  ]),
)

export {StepFailedError, StepTimeoutError, parseDuration} from './common.js'
