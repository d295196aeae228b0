/**
 * The reserved baseline: On-Demand Capacity Reservations for `baselineCount` instances of the
 * fleet's type, spread over the zones the way the Auto Scaling group balances them. They are
 * `targeted`, so only the fleet (which names them) can use them, and open-ended, so the baseline
 * stays held across AMI rollouts. Reservations are billed whether used or not; Savings Plans or
 * Reserved Instances set their price (see the README).
 */
import * as aws from '@pulumi/aws';
import * as pulumi from '@pulumi/pulumi';

import type { StackConfig } from './config';
import { tagsFor } from './tags';

/** Spreads `count` over `zones` as evenly as Auto Scaling does, earlier zones first. */
export function spreadOverZones(count: number, zones: readonly string[]): Map<string, number> {
  const spread = new Map<string, number>();
  zones.forEach((zone, index) => {
    const share = Math.floor(count / zones.length) + (index < count % zones.length ? 1 : 0);
    if (share > 0) spread.set(zone, share);
  });
  return spread;
}

/** Arguments of the capacity reservation component. */
export interface CapacityReservationsArgs {
  readonly config: StackConfig;
}

/** One targeted reservation per zone that holds part of the baseline. */
export class CapacityReservations extends pulumi.ComponentResource {
  /** Ids of the reservations, for the group's `capacityReservationSpecification`. */
  readonly ids: pulumi.Output<string>[];

  constructor(
    name: string,
    args: CapacityReservationsArgs,
    opts?: pulumi.ComponentResourceOptions,
  ) {
    super('breed-identifier:infra:CapacityReservations', name, {}, opts);
    const { config } = args;
    const spread = spreadOverZones(config.fleet.baselineCount, config.availabilityZones);

    this.ids = [...spread].map(([zone, count]) => {
      const reservation = new aws.ec2.CapacityReservation(
        `${name}-${zone}`,
        {
          availabilityZone: zone,
          instanceType: config.fleet.instanceType,
          instancePlatform: 'Linux/UNIX',
          instanceCount: count,
          instanceMatchCriteria: 'targeted',
          endDateType: 'unlimited',
          ebsOptimized: true,
          tenancy: 'default',
          tags: tagsFor(config, 'capacity-reservation'),
        },
        { parent: this },
      );
      return reservation.id;
    });
    this.registerOutputs({ ids: this.ids });
  }
}
