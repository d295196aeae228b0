/**
 * What the boot agent does for each Auto Scaling target lifecycle state, and how it completes
 * the launch lifecycle action. The launch hook pauses an instance twice when a warm pool is in
 * use (once entering the pool, once leaving it for service), so the action is completed on
 * every boot, not only the first.
 */
import {
  AutoScalingClient,
  CompleteLifecycleActionCommand,
  DescribeAutoScalingInstancesCommand,
  RecordLifecycleActionHeartbeatCommand,
} from '@aws-sdk/client-auto-scaling';

/** The plan for one boot. */
export interface BootPlan {
  /** Read the model files and fetch the secrets. */
  prepare: boolean;
  /** Start the role's unit: the server (then wait for readiness), or the batch worker. */
  serve: boolean;
  /** Complete the launch lifecycle action (with CONTINUE) once the plan's work is done. */
  completeLifecycle: boolean;
  /** Keep polling the target state until it turns `InService` (a running warm pool). */
  waitForInService: boolean;
  /** Why, for the log. */
  reason: string;
}

/** Target state of an instance that the group puts in service. */
export const IN_SERVICE = 'InService';

/**
 * Maps the target lifecycle state read from instance metadata to the plan. `null` means the
 * metadata item does not exist: the instance is not in an Auto Scaling group (a developer's
 * instance started from the image), so it serves and has no lifecycle action to complete.
 */
export function planForTargetState(state: string | null): BootPlan {
  if (state === null) {
    return plan(true, false, false, 'not in an Auto Scaling group: serve');
  }
  if (state === IN_SERVICE) {
    return plan(true, true, false, 'entering service: serve, then complete the launch action');
  }
  if (state === 'Warmed:Running') {
    return plan(false, true, true, 'running warm pool: prepare, then wait to be put in service');
  }
  if (state === 'Terminated' || state.startsWith('Warmed:Terminated')) {
    return { ...plan(false, false, false, `target state ${state}: nothing to do`), prepare: false };
  }
  if (state.startsWith('Warmed:')) {
    return plan(false, true, false, 'entering the warm pool: prepare without serving');
  }
  return plan(false, false, false, `target state ${state}: prepare only`);
}

/**
 * The plan of a batch instance. The batch group is all Spot, which rules out a warm pool, and
 * has no launch hook, so nothing is ever completed and the worker starts on every boot that is
 * not a termination. A warm-pool state would mean the group changed shape: the instance then
 * only prepares, so that an instance parked in a pool never takes work from the queue.
 */
export function planForBatch(state: string | null): BootPlan {
  const common = planForTargetState(state);
  if (!common.prepare) return common;
  if (state?.startsWith('Warmed:')) {
    return plan(false, false, false, `batch instance in warm pool state ${state}: prepare only`);
  }
  return plan(true, false, false, 'batch instance: start the worker');
}

function plan(
  serve: boolean,
  completeLifecycle: boolean,
  waitForInService: boolean,
  reason: string,
): BootPlan {
  return { prepare: true, serve, completeLifecycle, waitForInService, reason };
}

/** Result sent with a lifecycle action: proceed, or give the instance up. */
export type LifecycleResult = 'CONTINUE' | 'ABANDON';

/** What a lifecycle completion did. */
export type CompletionOutcome = 'completed' | 'no-pending-action';

/** Completes launch lifecycle actions for one instance. */
export class LifecycleCompleter {
  readonly #client: AutoScalingClient;
  readonly #instanceId: string;
  readonly #hookName: string;
  #groupName: string | null = null;

  /** @param client Auto Scaling client (its endpoint is injectable for tests). */
  constructor(client: AutoScalingClient, instanceId: string, hookName: string) {
    this.#client = client;
    this.#instanceId = instanceId;
    this.#hookName = hookName;
  }

  /**
   * Completes the pending launch action. A reboot of an instance already in service has none
   * pending; the service then answers a validation error, which is reported, not raised.
   */
  async complete(result: LifecycleResult): Promise<CompletionOutcome> {
    const groupName = await this.#autoScalingGroupName();
    try {
      await this.#client.send(
        new CompleteLifecycleActionCommand({
          AutoScalingGroupName: groupName,
          LifecycleHookName: this.#hookName,
          InstanceId: this.#instanceId,
          LifecycleActionResult: result,
        }),
      );
      return 'completed';
    } catch (error) {
      if (isNoPendingAction(error)) return 'no-pending-action';
      throw error;
    }
  }

  /**
   * Extends the pending action's timeout, so a slow warm-up is not abandoned by the hook's
   * default result while the agent is still working. Nothing pending is not an error.
   */
  async heartbeat(): Promise<CompletionOutcome> {
    const groupName = await this.#autoScalingGroupName();
    try {
      await this.#client.send(
        new RecordLifecycleActionHeartbeatCommand({
          AutoScalingGroupName: groupName,
          LifecycleHookName: this.#hookName,
          InstanceId: this.#instanceId,
        }),
      );
      return 'completed';
    } catch (error) {
      if (isNoPendingAction(error)) return 'no-pending-action';
      throw error;
    }
  }

  async #autoScalingGroupName(): Promise<string> {
    if (this.#groupName) return this.#groupName;

    const answer = await this.#client.send(
      new DescribeAutoScalingInstancesCommand({ InstanceIds: [this.#instanceId] }),
    );
    const name = answer.AutoScalingInstances?.[0]?.AutoScalingGroupName;
    if (!name) {
      throw new Error(`instance ${this.#instanceId} is not in any Auto Scaling group`);
    }
    this.#groupName = name;
    return name;
  }
}

function isNoPendingAction(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  return error.name === 'ValidationError' && /no active lifecycle action/i.test(error.message);
}
