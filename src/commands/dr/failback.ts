import type {RunMode} from '../../dr/step-types.js'
import {DrStart} from './failover.js'

export default class DrFailback extends DrStart {
  static override description = `Fail back: run the playbook in the reverse direction. Steps see the regions swapped (ctx primary = the playbook's dr region), literal region names in params swap, a two-record route53.weights mirrors its weights, and each step's failback.params override; steps with when: failover are skipped. See docs/dr.md "Failback".`
  static override examples = ['<%= config.bin %> dr failback -f shop.yaml --approve go']
  protected mode: RunMode = 'failback'
}
